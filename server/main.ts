/** Starts Lưu Vết: the store (embedded unless COUCHDB_URL is set), the keyring, demo data, HTTP. */
import { readConfig, type ServerConfig } from './config';

export { readConfig };
import { startEmbeddedCouch, type EmbeddedCouch } from './store/embedded';
import { Store } from './store/couch';
import { loadKeyring } from './keys';
import { DEMO_TEAM_PHONE_2, seedDemo, seedDemoTeam, type DemoVenue } from './demo';
import { buildApp } from './http';
import { loadSessionSecret } from './auth';
import { Signer } from './signer';
import { seedDemoUnits } from './units';
import { scheduleRetention } from './retention';
import type { FastifyInstance } from 'fastify';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  store: Store;
  demoVenues: DemoVenue[];
  /** the demo commune's team account (demo mode only) */
  demoTeam: { phone: string; password: string } | null;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig = readConfig()): Promise<RunningServer> {
  let embedded: EmbeddedCouch | null = null;
  let couchUrl = config.couchdbUrl;
  if (!couchUrl) {
    embedded = await startEmbeddedCouch(config.dataDir);
    couchUrl = embedded.url;
  }
  const store = new Store(couchUrl);
  await store.bootstrap();
  const keyring = loadKeyring(config);
  const sessionSecret = loadSessionSecret(config);
  if (config.demo) await seedDemoUnits(store);
  const demoVenues = config.demo ? await seedDemo(store, keyring, config.publicOrigin) : [];
  const demoTeam = config.demo ? await seedDemoTeam(store, config.dataDir, config.demoTeamPassword ?? undefined) : null;
  const signer = new Signer(store, keyring, (msg) => console.error(msg));
  await signer.sweep();
  const app = await buildApp({ config, store, keyring, demoVenues, sessionSecret, signer });
  const stopRetention = scheduleRetention(store, config.retentionDays, (msg) => console.error(msg));
  const address = await app.listen({ port: config.port, host: config.host });
  const port = new URL(address).port;
  return {
    app,
    url: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`,
    store,
    demoVenues,
    demoTeam,
    async close() {
      stopRetention();
      await app.close();
      await embedded?.close();
    }
  };
}

/** Runs the server for `npm start` / `node dist/server.mjs`, printing what a newcomer can try. */
export function runFromCli(): void {
  const config = readConfig();
  startServer(config).then(
    (server) => {
      const where = config.couchdbUrl ? 'CouchDB at COUCHDB_URL' : `embedded store in ${config.dataDir}`;
      console.log(`\nLưu Vết is running at ${config.publicOrigin} (storage: ${where})`);
      if (server.demoVenues.length) {
        console.log('\nDemo venues: open a link on this machine (or show its QR from /demo) to check in:');
        for (const v of server.demoVenues) console.log(`  ${v.name}\n    ${v.url}`);
        console.log(`\nAll demo codes as QR posters: ${config.publicOrigin}/demo`);
        console.log(`Venue owners register and run a scan station at ${config.publicOrigin}/venue`);
        if (server.demoTeam) console.log(`Demo commune team (publish exposure events at ${config.publicOrigin}/team): phones ${server.demoTeam.phone} and ${DEMO_TEAM_PHONE_2}, password ${server.demoTeam.password}`);
        console.log('Team and admin accounts: npm run user:add -- --phone 09xxxxxxxx --role team --communes 18070\n');
      }
      const stop = () => server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: Error) => {
      console.error(`Lưu Vết could not start: ${err.message}`);
      process.exit(1);
    }
  );
}

if (import.meta.url === `file://${process.argv[1]}`) runFromCli();
