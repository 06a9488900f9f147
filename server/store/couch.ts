/**
 * The server's only way to storage: the CouchDB HTTP API through nano. The same code runs on the
 * embedded store and on an Apache CouchDB 3 cluster.
 */
import Nano, { type DocumentScope, type ServerScope } from 'nano';

export const DB = {
  directory: 'lv_directory',
  exposures: 'lv_exposures',
  users: 'lv_users',
  reports: 'lv_reports'
} as const;

export function communeDbName(communeCode: string): string {
  if (!/^[0-9]{5}$/.test(communeCode)) throw new Error(`not a commune code: ${communeCode}`);
  return `lv_c_${communeCode}`;
}

/**
 * Second wall (DESIGN §2): nothing outside reaches CouchDB, and even so every database admits only
 * server admins and the `lv_server` role. Public data is public through the gateway, not here.
 */
const SECURITY = {
  admins: { names: [], roles: [] },
  members: { names: [], roles: ['lv_server'] }
};

export class Store {
  readonly couch: ServerScope;

  constructor(url: string) {
    this.couch = Nano({ url });
  }

  db<T extends object>(name: string): DocumentScope<T> {
    return this.couch.use<T>(name);
  }

  /** Creates the database when missing and sets its _security; safe to call on every start. */
  async ensureDb(name: string): Promise<void> {
    try {
      await this.couch.db.create(name);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 412) throw err;
    }
    await this.couch.request({ db: name, path: '_security', method: 'PUT', body: SECURITY });
  }

  async bootstrap(): Promise<void> {
    for (const name of Object.values(DB)) await this.ensureDb(name);
  }

  async ping(): Promise<boolean> {
    try {
      await this.couch.info();
      return true;
    } catch {
      return false;
    }
  }
}

/** Reads a doc, or null when it does not exist. */
export async function getOrNull<T extends object>(db: DocumentScope<T>, id: string): Promise<(T & Nano.DocumentGetResponse) | null> {
  try {
    return await db.get(id);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw err;
  }
}
