/** Starts Lưu Vết: the store (embedded unless COUCHDB_URL is set), the keyring, demo data, HTTP. */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { readConfig, prepareDataDir, type ServerConfig } from './config';
import { isLocalOrigin } from '../src/lib/core/venue/venue-token';

export { readConfig };
import { startEmbeddedCouch, type EmbeddedCouch } from './store/embedded';
import { Store } from './store/couch';
import { removeStoreFile, writeStoreFile } from './store/store-file';
import { StoreUnavailableError } from './store/unavailable';
import { checkSharedConfig } from './shared-config';
import { DEMO_DISTRICT_ADMIN_PHONE, DEMO_PROVINCE_ADMIN_PHONE, DEMO_TEAM_PHONE_2, seedDemo, seedDemoTeam, type DemoVenue } from './demo';
import { seedDemoActivity, seedDemoSchedules } from './demo-activity';
import { buildApp } from './http';
import { Signer } from './signer';
import { removeExampleProvince, seedDemoUnits } from './units';
import { scheduleRetention } from './retention';
import { followSubmissions } from './reports/submissions';
import { startAggregates } from './reports/aggregates';
export { holdAggregates, rebuildAggregatesNow, runAggregatesNow } from './reports/aggregates';
import type { FastifyInstance } from 'fastify';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  store: Store;
  demoVenues: DemoVenue[];
  /** the demo commune's team account (demo mode only) */
  demoTeam: { phone: string; password: string } | null;
  /** The pid of the embedded store's process while it runs; null on CouchDB or while it restarts. */
  storePid(): number | null;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig = readConfig()): Promise<RunningServer> {
  prepareDataDir(config);
  let embedded: EmbeddedCouch | null = null;
  let couchUrl = config.couchdbUrl;
  if (!couchUrl) {
    embedded = await startEmbeddedCouch(config.dataDir);
    couchUrl = embedded.url;
  }
  try {
    return await startOnStore(config, couchUrl, embedded);
  } catch (err) {
    await embedded?.close();
    if (config.couchdbUrl && err instanceof StoreUnavailableError) {
      throw new Error('the CouchDB at COUCHDB_URL does not answer: start it or correct the URL, or unset COUCHDB_URL to use the embedded store');
    }
    throw err;
  }
}

async function startOnStore(config: ServerConfig, couchUrl: string, embedded: EmbeddedCouch | null): Promise<RunningServer> {
  const store = new Store(couchUrl);
  await store.bootstrap();
  const shared = await checkSharedConfig(store, config);
  const { keyring, sessionSecret } = shared;
  if (config.demo) await seedDemoUnits(store);
  else await removeExampleProvince(store);
  const demoVenues = config.demo ? await seedDemo(store, keyring, config.publicOrigin) : [];
  const demoTeam = config.demo ? await seedDemoTeam(store, config.dataDir, config.demoTeamPassword ?? undefined) : null;
  if (config.demo) await seedDemoSchedules(store);
  if (config.demo && config.demoActivity) await seedDemoActivity(store, keyring);
  const signer = new Signer(store, keyring, (msg) => console.error(msg));
  await signer.sweep();
  signer.startRecovery();
  // The report jobs start after the app is built; a push before then is found by their first pass.
  let woken: ((kinds: ReadonlySet<string>) => void) | undefined;
  const app = await buildApp({ config, store, keyring, demoVenues, sessionSecret, signer, onCommunePushed: (_code, kinds) => woken?.(kinds) });
  const stopRetention = scheduleRetention(store, config.retentionDays, (msg) => console.error(msg));
  const submissions = followSubmissions(store, (msg) => console.error(msg));
  const aggregates = startAggregates(store, { retentionDays: config.retentionDays, log: (msg) => console.error(msg) });
  // A submitted report reaches its district within a second. Statistics keep their minute: a
  // pass reads every commune's changes, too much to run at every station's push.
  woken = (kinds) => {
    if (kinds.has('report')) submissions.wake();
  };
  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    signer.stop();
    shared.stop();
    stopRetention();
    submissions.stop();
    aggregates.stop();
    await app.close();
    throw listenError(err, config);
  }
  // Commands (user:add, units:import) reach the embedded store through this while the server runs.
  if (embedded) writeStoreFile(config.dataDir, embedded.url);
  const port = new URL(address).port;
  return {
    app,
    url: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`,
    store,
    demoVenues,
    demoTeam,
    storePid: () => embedded?.pid() ?? null,
    async close() {
      signer.stop();
      shared.stop();
      stopRetention();
      submissions.stop();
      aggregates.stop();
      if (embedded) removeStoreFile(config.dataDir);
      await closeWithGrace(app);
      await embedded?.close();
    }
  };
}

/** How long a stopping server waits for the requests under way before it cuts their connections. */
export const CLOSE_GRACE_MS = 5_000;

/**
 * Closes the HTTP side: waiting clients are answered (preClose), requests under way may finish,
 * idle connections close. A client that holds its connection with a request it never finishes
 * sending (CouchDB's replicator cancelled mid-checkpoint does) would keep the server from ever
 * stopping: after the grace period its connection is cut.
 */
async function closeWithGrace(app: FastifyInstance): Promise<void> {
  const cut = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
  try {
    await app.close();
  } finally {
    clearTimeout(cut);
  }
}

/** The HTTP port refused, in words. */
function listenError(err: unknown, config: ServerConfig): unknown {
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE') return new Error(`port ${config.port} on ${config.host} is in use by another program: stop it, or set PORT to a free port`);
  if (code === 'EACCES') return new Error(`this user may not listen on port ${config.port}: set PORT to a port above 1023, or put a reverse proxy in front`);
  if (code === 'EADDRNOTAVAIL') return new Error(`HOST ${config.host} is not an address of this machine: set HOST to one of its addresses (0.0.0.0 for all)`);
  return err;
}

/** Runs the server for `npm start` / `node dist/server.mjs`, printing what a newcomer can try. */
export function runFromCli(): void {
  let config: ServerConfig;
  try {
    config = readConfig();
  } catch (err) {
    failToStart(err);
  }
  // Until the server listens, whatever goes wrong, even thrown in a callback, is a start that failed.
  process.on('uncaughtException', failToStart);
  startServer(config).then(
    (server) => {
      process.off('uncaughtException', failToStart);
      const where = config.couchdbUrl ? 'CouchDB at COUCHDB_URL' : `embedded store in ${config.dataDir}`;
      console.log(`\nLưu Vết is running at ${config.publicOrigin} (storage: ${where})`);
      const warning = originWarning(config);
      if (warning) console.warn(`\n${warning}`);
      if (server.demoVenues.length) {
        console.log('\nDemo venues: open a link on this machine (or show its QR from /demo) to check in:');
        for (const v of server.demoVenues) console.log(`  ${v.name}\n    ${v.url}`);
        console.log(`\nAll demo codes as QR posters: ${config.publicOrigin}/demo`);
        console.log(`Venue owners register and run a scan station at ${config.publicOrigin}/venue`);
        if (server.demoTeam) {
          console.log(`Demo commune team (publish exposure events at ${config.publicOrigin}/team): phones ${server.demoTeam.phone} and ${DEMO_TEAM_PHONE_2}, password ${server.demoTeam.password}`);
          console.log(`Demo officials (accounts, zone levels, statistics at ${config.publicOrigin}/admin): district Đức Thọ ${DEMO_DISTRICT_ADMIN_PHONE}, province Hà Tĩnh ${DEMO_PROVINCE_ADMIN_PHONE}, same password`);
        }
        console.log('Team and admin accounts: npm run user:add -- --phone 09xxxxxxxx --role team --communes 18070\n');
      }
      const stop = () => server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    failToStart
  );
}

/**
 * Posters carry the origin in their QR: printed from a server that knows itself only as localhost,
 * they send every phone that scans them to the phone itself. Said at start, before anyone prints.
 */
export function originWarning(config: Pick<ServerConfig, 'publicOrigin' | 'publicOriginSet'>): string | null {
  if (!isLocalOrigin(config.publicOrigin)) return null;
  const why = config.publicOriginSet ? `PUBLIC_ORIGIN is ${config.publicOrigin}` : `PUBLIC_ORIGIN is not set`;
  return `Warning: ${why}, so QR posters printed now point at this machine and no phone can open them. Set PUBLIC_ORIGIN to the address phones reach (e.g. PUBLIC_ORIGIN=https://luuvet.example.vn) before printing posters.`;
}

/** One line in words, never a stack trace: the operator reads it, not a developer. */
function failToStart(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`Lưu Vết could not start: ${message.split('\n')[0]}`);
  process.exit(1);
}

/** Whether this module is the script Node was started with (through a symlinked path too). */
function isMainModule(): boolean {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isMainModule()) runFromCli();
