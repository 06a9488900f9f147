/** The store for a command run beside (not inside) the server: COUCHDB_URL, or the embedded store. */
import type { ServerConfig } from '../config';
import { Store } from './couch';
import { startEmbeddedCouch } from './embedded';

export async function openStore(config: ServerConfig): Promise<{ store: Store; close(): Promise<void> }> {
  if (config.couchdbUrl) {
    const store = new Store(config.couchdbUrl);
    await store.bootstrap();
    return { store, close: async () => {} };
  }
  let embedded;
  try {
    embedded = await startEmbeddedCouch(config.dataDir);
  } catch (err) {
    throw new Error(
      `could not open the embedded database in ${config.dataDir} (${(err as Error).message}). ` +
        'If the server is running, stop it first, or set COUCHDB_URL to use a CouchDB server.'
    );
  }
  const store = new Store(embedded.url);
  await store.bootstrap();
  return { store, close: () => embedded.close() };
}
