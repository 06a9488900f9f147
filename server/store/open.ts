/**
 * The store for a command run beside (not inside) the server: COUCHDB_URL, or the embedded store
 * in its own process, as the server runs it (the same script, started and stopped by the command).
 */
import { prepareDataDir, type ServerConfig } from '../config';
import { Store } from './couch';
import { startEmbeddedCouch, StoreStartError, type EmbeddedCouch } from './embedded';

export async function openStore(config: ServerConfig): Promise<{ store: Store; close(): Promise<void> }> {
  if (config.couchdbUrl) {
    const store = new Store(config.couchdbUrl);
    await store.bootstrap();
    return { store, close: async () => {} };
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
    return { store, close: () => embedded.close() };
  } catch (err) {
    await embedded.close();
    throw err;
  }
}
