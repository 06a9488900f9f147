/**
 * The embedded CouchDB: express-pouchdb over PouchDB/LevelDB, on loopback only, started by the
 * server (and by commands run beside it) when COUCHDB_URL is unset. It runs in its own process,
 * watched and restarted by supervisor.ts; the rest of the server reaches it over the CouchDB HTTP
 * API, exactly as it would reach a real cluster.
 */
import { superviseEmbeddedStore, type EmbeddedCouch, type SuperviseOptions } from './supervisor';

export { StoreStartError, type EmbeddedCouch } from './supervisor';

export function startEmbeddedCouch(dataDir: string, opts?: SuperviseOptions): Promise<EmbeddedCouch> {
  return superviseEmbeddedStore(dataDir, opts);
}
