/**
 * The store for a command run beside (not inside) the server: COUCHDB_URL; else the embedded store
 * of a server running on the same DATA_DIR, through the address it leaves in DATA_DIR/store.json;
 * else the embedded store in its own process, as the server runs it (the same script, started and
 * stopped by the command). The embedded store's LevelDB admits one process at a time, so a command
 * cannot open it while a server holds it: it goes through the server's store instead.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import PouchDB from 'pouchdb-node';
import { prepareDataDir, type ServerConfig } from '../config';
import { DB, Store } from './couch';
import { startEmbeddedCouch, StoreStartError, type EmbeddedCouch } from './embedded';
import { runningStoreUrl, STORE_FILE } from './store-file';

export type StoreWhere = 'couchdb' | 'server' | 'embedded';

export async function openStore(config: ServerConfig): Promise<{ store: Store; where: StoreWhere; close(): Promise<void> }> {
  if (config.couchdbUrl) {
    const store = new Store(config.couchdbUrl);
    await store.bootstrap();
    return { store, where: 'couchdb', close: async () => {} };
  }
  const running = await runningStoreUrl(config.dataDir);
  if (running) {
    // The server made the databases; bootstrap again is harmless and covers an older server.
    const store = new Store(running);
    await store.bootstrap();
    return { store, where: 'server', close: async () => {} };
  }
  const busy = await storeInUse(config.dataDir);
  if (busy) {
    throw new Error(
      `the embedded store in ${config.dataDir} is held by another process (${busy}), and no running server left its address in ${STORE_FILE}: stop the other process, or set COUCHDB_URL to use a CouchDB server.`
    );
  }
  let embedded: EmbeddedCouch;
  try {
    prepareDataDir(config);
    // A command's store is started again quietly if it stops; the command's own errors say what failed.
    embedded = await startEmbeddedCouch(config.dataDir, { log: () => {} });
  } catch (err) {
    if (err instanceof StoreStartError && err.failure === 'locked') {
      throw new Error(`${err.message}. Or set COUCHDB_URL to use a CouchDB server.`);
    }
    throw new Error(`could not open the embedded database in ${config.dataDir} (${(err as Error).message}).`);
  }
  try {
    const store = new Store(embedded.url);
    await store.bootstrap();
    return { store, where: 'embedded', close: () => embedded.close() };
  } catch (err) {
    await embedded.close();
    throw err;
  }
}

/**
 * Whether another process holds the embedded store of dataDir, tried on the LevelDB of
 * lv_directory, which a running server always has open. Asked before the embedded store starts,
 * which would report a locked database late. Returns the store's message when it is in use, null
 * when it is free (or not created yet).
 */
async function storeInUse(dataDir: string): Promise<string | null> {
  const dir = path.join(dataDir, 'couch', DB.directory);
  if (!existsSync(dir)) return null;
  const db = new PouchDB(dir);
  try {
    await db.info();
    return null;
  } catch (err) {
    const e = err as { reason?: string; message?: string };
    return e.reason || e.message || String(err);
  } finally {
    await db.close().catch(() => {});
  }
}
