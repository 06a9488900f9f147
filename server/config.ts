/** Everything the server reads from its environment, read once, with the defaults of a newcomer's machine. */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { clampRetentionDays } from '../src/lib/core/citizen/retention';

export interface ServerConfig {
  port: number;
  host: string;
  /** Where the embedded store and the generated signing key live. */
  dataDir: string;
  /** A real CouchDB (with admin credentials in the URL); unset = start the embedded store. */
  couchdbUrl: string | null;
  /** The origin printed into venue QR codes, e.g. https://luuvet.hatinh.gov.vn */
  publicOrigin: string;
  /** Whether PUBLIC_ORIGIN was given; without it posters printed on this machine point at localhost. */
  publicOriginSet: boolean;
  /** JSON keyring shared by several servers; unset = a key file in dataDir. */
  signingKeys: string | null;
  /** Secret for session tokens, shared by all servers; unset = a file in dataDir. */
  sessionSecret: string | null;
  retentionDays: number;
  /** Seed the demo commune and its venues on first start. */
  demo: boolean;
  /** Three weeks of made-up activity in the demo district (server/demo-activity.ts); DEMO_ACTIVITY=0 leaves it out. */
  demoActivity: boolean;
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
  /** The longest time a client may take to send a whole request (headers and body); then a 408. */
  requestTimeoutMs: number;
  /**
   * Which reverse proxies may say who the client is (X-Forwarded-For): false = none, the peer is the
   * client; or the proxies' addresses. Behind a proxy without it, every client has the proxy's
   * address and shares one allowance of every per-address limit.
   */
  trustProxy: false | string[];
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const rawPort = env.PORT?.trim() || '3000';
  const port = /^[0-9]{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number from 0 to 65535, not "${env.PORT}": set PORT=3000, for example`);
  return {
    port,
    host: env.HOST ?? '127.0.0.1',
    dataDir: path.resolve(env.DATA_DIR ?? './data'),
    couchdbUrl: env.COUCHDB_URL || null,
    publicOrigin: (env.PUBLIC_ORIGIN ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    publicOriginSet: !!env.PUBLIC_ORIGIN?.trim(),
    signingKeys: env.SIGNING_KEYS || null,
    sessionSecret: env.SESSION_SECRET || null,
    retentionDays: clampRetentionDays(env.RETENTION_DAYS ?? 21),
    demo: env.DEMO !== '0',
    demoActivity: env.DEMO !== '0' && env.DEMO_ACTIVITY !== '0',
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
    },
    requestTimeoutMs: limit(env, 'REQUEST_TIMEOUT_MS', 300_000) || 300_000,
    trustProxy: trustedProxies(env.TRUST_PROXY)
  };
}

/** proxy-addr's names for address ranges (Fastify's trustProxy): loopback, link-local, private. */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY: unset = no proxy; else the addresses or ranges (CIDR) of the proxies in front,
 * comma-separated, or loopback / linklocal / uniquelocal. A proxy is trusted by its address only:
 * trusting every sender, or a number of hops (which Fastify refuses to honour, since it cannot tell a
 * proxy from a client sending the header itself), would let any client claim any address and escape
 * its limits.
 */
export function trustedProxies(raw: string | undefined): false | string[] {
  const text = raw?.trim() ?? '';
  if (text === '' || text === 'false') return false;
  const fix = 'set TRUST_PROXY to the address of the reverse proxy (e.g. 127.0.0.1, or 10.0.0.0/8 for a private network) or to loopback';
  if (text === 'true' || text === '*' || /^[0-9]+$/.test(text)) throw new Error(`TRUST_PROXY=${text} would let any client claim any address and escape the per-address limits: ${fix}`);
  const entries = text.split(',').map((e) => e.trim());
  for (const entry of entries) {
    if (PROXY_RANGES.has(entry)) continue;
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const prefixOk = prefix === undefined || (/^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
    if (!family || !prefixOk || extra !== undefined) throw new Error(`TRUST_PROXY: "${entry}" is not an address, a range or one of ${[...PROXY_RANGES].join(', ')}: ${fix}`);
  }
  return entries;
}

function limit(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number ≥ 0 (0 = no limit), not "${raw}"`);
  return n;
}

/**
 * Makes DATA_DIR (owner only: it will hold the signing key, the session secret and the embedded
 * store) and checks that the server may write there, before anything starts, so that a wrong
 * folder is said in words. An existing folder keeps its mode: it is the operator's.
 * Nothing to do when every file it would hold comes from elsewhere (CouchDB, keys and secret given).
 */
export function prepareDataDir(config: ServerConfig): void {
  if (config.couchdbUrl && config.signingKeys && config.sessionSecret && !config.demo) return;
  const dir = config.dataDir;
  const fix = 'give the server a folder it may write to with DATA_DIR';
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`DATA_DIR ${dir} is a file, not a folder: ${fix}`);
  const probe = path.join(dir, `.write-test-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(probe, '', { mode: 0o600 });
    rmSync(probe, { force: true });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code === 'ENOSPC' ? 'disk full' : code === 'ENOTDIR' ? 'a part of the path is a file' : (err as Error).message;
    throw new Error(`the server cannot write in DATA_DIR ${dir} (${why}): ${fix}`);
  }
}
