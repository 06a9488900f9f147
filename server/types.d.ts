declare module 'express-pouchdb' {
  import type { RequestHandler } from 'express';
  const expressPouchDB: (pouch: unknown, options?: Record<string, unknown>) => RequestHandler;
  export default expressPouchDB;
}
