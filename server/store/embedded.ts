/**
 * The embedded CouchDB: express-pouchdb over PouchDB/LevelDB, on loopback only, started by the
 * server when COUCHDB_URL is unset. The rest of the server reaches it over the CouchDB HTTP API,
 * exactly as it would reach a real cluster.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import expressPouchDB from 'express-pouchdb';
import PouchDB from 'pouchdb-node';

export interface EmbeddedCouch {
  /** URL with admin credentials, for the server's own use only. */
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddedCouch(dataDir: string): Promise<EmbeddedCouch> {
  const dir = path.join(dataDir, 'couch');
  mkdirSync(dir, { recursive: true });
  const LocalPouch = PouchDB.defaults({ prefix: dir + path.sep });
  const app = express();
  app.use(
    expressPouchDB(LocalPouch, {
      // fullCouchDB brings _security, views and _find; the config lives in memory, so the admin
      // below is created afresh on every start (with a password nobody else ever sees).
      mode: 'fullCouchDB',
      inMemoryConfig: true,
      logPath: path.join(dir, 'log.txt'),
      // disk_size in db info walks the database's folder with lstat, and PouchDB asks for info on
      // every authenticated request (the _users db) and every validated write (the commune db).
      overrideMode: { exclude: ['disk-size'] }
    })
  );
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  const password = randomBytes(24).toString('base64url');
  const res = await fetch(`${base}/_config/admins/lv_server`, { method: 'PUT', body: JSON.stringify(password) });
  if (!res.ok) throw new Error(`embedded store: could not create its admin (${res.status})`);
  return {
    url: `http://lv_server:${password}@127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })
  };
}
