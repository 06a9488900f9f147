/** Everything the server reads from its environment, read once, with the defaults of a newcomer's machine. */
import path from 'node:path';
import { clampRetentionDays } from '../src/lib/core/retention';

export interface ServerConfig {
  port: number;
  host: string;
  /** Where the embedded store and the generated signing key live. */
  dataDir: string;
  /** A real CouchDB (with admin credentials in the URL); unset = start the embedded store. */
  couchdbUrl: string | null;
  /** The origin printed into venue QR codes, e.g. https://luuvet.hatinh.gov.vn */
  publicOrigin: string;
  /** JSON keyring shared by several servers; unset = a key file in dataDir. */
  signingKeys: string | null;
  /** Secret for session tokens, shared by all servers; unset = a file in dataDir. */
  sessionSecret: string | null;
  retentionDays: number;
  /** Seed the demo commune and its venues on first start. */
  demo: boolean;
  /** Password of the demo commune team; null = a random one kept in dataDir. */
  demoTeamPassword: string | null;
  /** Folder of the built PWA. */
  staticDir: string;
  log: boolean;
  /** Abuse limits of the anonymous tallies (server/tallies.ts); 0 turns a limit off, for benchmarks only. */
  tallies: { clientReportsPerMinute: number; venueCountsPerMinute: number; clientVenueDayMax: number };
  /** Guessing limit of diary-share codes (server/diary-share.ts): wrong codes per client address per ten minutes; 0 = no limit. */
  diaryShare: { clientFailuresPerTenMinutes: number };
  /** Clients waiting for changes (server/sync/longpoll.ts): the longest wait, and how many at once. */
  waiting: { maxMs: number; maxOpen: number };
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not "${env.PORT}"`);
  return {
    port,
    host: env.HOST ?? '127.0.0.1',
    dataDir: path.resolve(env.DATA_DIR ?? './data'),
    couchdbUrl: env.COUCHDB_URL || null,
    publicOrigin: (env.PUBLIC_ORIGIN ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    signingKeys: env.SIGNING_KEYS || null,
    sessionSecret: env.SESSION_SECRET || null,
    retentionDays: clampRetentionDays(env.RETENTION_DAYS ?? 21),
    demo: env.DEMO !== '0',
    demoTeamPassword: env.DEMO_TEAM_PASSWORD || null,
    staticDir: path.resolve(env.STATIC_DIR ?? './build'),
    log: env.LOG !== '0',
    tallies: {
      clientReportsPerMinute: limit(env, 'TALLY_CLIENT_PER_MINUTE', 60),
      venueCountsPerMinute: limit(env, 'TALLY_VENUE_PER_MINUTE', 1200),
      clientVenueDayMax: limit(env, 'TALLY_CLIENT_VENUE_DAY_MAX', 300)
    },
    diaryShare: {
      clientFailuresPerTenMinutes: limit(env, 'SHARE_CODE_FAILURES_PER_10_MIN', 10)
    },
    waiting: {
      maxMs: limit(env, 'SYNC_LONGPOLL_MS', 25_000) || 25_000,
      maxOpen: limit(env, 'SYNC_WAITING_MAX', 1000) || 1000
    }
  };
}

function limit(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number ≥ 0 (0 = no limit), not "${raw}"`);
  return n;
}
