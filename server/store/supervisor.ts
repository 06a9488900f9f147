/**
 * Runs the embedded store (embedded-child.ts) in its own process and keeps it running: when it
 * ends (a store bug, an out-of-memory kill, SIGKILL), the server goes on answering (503 for what
 * needs the store) and starts it again, with backoff, on the same port and with the same admin
 * password, so the store URL the server holds stays valid.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromStore, StartStore, StoreFailure } from './child-protocol';

export interface EmbeddedCouch {
  /** URL with admin credentials, for the server's own use only. */
  url: string;
  /** The pid of the store's process while it runs (tests kill it), else null. */
  pid(): number | null;
  close(): Promise<void>;
}

/** A start that failed for a reason the operator can act on. */
export class StoreStartError extends Error {
  constructor(
    readonly failure: StoreFailure,
    message: string
  ) {
    super(message);
  }
}

export interface SuperviseOptions {
  /** Where restarts are told (the server's stderr); never a path, a request or a document. */
  log?: (msg: string) => void;
}

/** First wait before a restart; doubled on every failure in a row, up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
/** A store that ran this long was healthy: its next end starts again from the first wait. */
const HEALTHY_AFTER_MS = 30_000;
/** A server killed with SIGKILL leaves its store a moment to notice and free the LevelDB lock. */
const LOCK_WAIT_MS = 3_000;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

// Every running store process, killed when this process exits, however it exits (the store also
// exits by itself when the IPC channel closes; this covers an exit that leaves the channel open).
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function superviseEmbeddedStore(dataDir: string, opts: SuperviseOptions = {}): Promise<EmbeddedCouch> {
  const log = opts.log ?? ((msg: string) => console.error(msg));
  const entry = await childEntry();
  const password = randomBytes(24).toString('base64url');
  let port = 0;
  let child: ChildProcess | null = null;
  let closing = false;
  let backoff = FIRST_BACKOFF_MS;
  let restartTimer: ReturnType<typeof setTimeout> | null = null;
  /** A store process started and not yet ready. */
  let starting: ChildProcess | null = null;

  /** Starts one store process; resolves once it listens, rejects with the reason it could not. */
  function spawnOnce(): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
      // No argv of ours, no inherited Node flags (a test runner's loaders), stdin closed; the
      // store's stderr is the server's.
      const proc = fork(entry, [], { execArgv: [], env: storeEnv(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
      running.add(proc);
      starting = proc;
      let settled = false;
      const timer = setTimeout(() => fail('other', 'the embedded store did not start in time'), START_TIMEOUT_MS);
      const fail = (failure: StoreFailure, message: string) => {
        if (settled) return;
        settled = true;
        if (starting === proc) starting = null;
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(new StoreStartError(failure, inWords(failure, message, dataDir)));
      };
      proc.on('message', (msg: FromStore) => {
        if (msg.type === 'ready' && !settled) {
          settled = true;
          if (starting === proc) starting = null;
          clearTimeout(timer);
          port = msg.port;
          resolve(proc);
        } else if (msg.type === 'failed') fail(msg.failure, msg.message);
      });
      proc.once('exit', (code, signal) => {
        running.delete(proc);
        fail('other', `the embedded store ended before it was ready (${signal ?? `exit code ${code}`})`);
      });
      proc.once('error', (err) => fail('other', err.message));
      proc.send({ type: 'start', dataDir, port, password } satisfies StartStore);
    });
  }

  /** A start that waits out a lock still held by the store of a server that was just killed. */
  async function start(): Promise<ChildProcess> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        return await spawnOnce();
      } catch (err) {
        if (!(err instanceof StoreStartError) || err.failure !== 'locked' || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  function watch(proc: ChildProcess): void {
    child = proc;
    const startedAt = Date.now();
    proc.once('exit', (code, signal) => {
      if (child === proc) child = null;
      if (closing) return;
      if (Date.now() - startedAt > HEALTHY_AFTER_MS) backoff = FIRST_BACKOFF_MS;
      log(`Lưu Vết: the embedded store stopped (${signal ?? `exit code ${code}`}); starting it again in ${backoff} ms`);
      scheduleRestart();
    });
  }

  function scheduleRestart(): void {
    const wait = backoff;
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    restartTimer = setTimeout(() => {
      restartTimer = null;
      if (closing) return;
      spawnOnce().then(
        (proc) => {
          if (closing) {
            proc.kill('SIGKILL');
            return;
          }
          log('Lưu Vết: the embedded store is running again');
          watch(proc);
        },
        (err: Error) => {
          if (closing) return;
          log(`Lưu Vết: the embedded store could not start again (${err.message}); trying again in ${backoff} ms`);
          scheduleRestart();
        }
      );
    }, wait);
  }

  watch(await start());

  return {
    url: `http://lv_server:${password}@127.0.0.1:${port}`,
    pid: () => child?.pid ?? null,
    async close() {
      closing = true;
      if (restartTimer) clearTimeout(restartTimer);
      const pending = starting;
      if (pending && pending.exitCode === null && pending.signalCode === null) {
        // A restart under way: it holds the LevelDB lock as soon as it opens the databases.
        await new Promise<void>((resolve) => {
          pending.once('exit', () => resolve());
          pending.kill('SIGKILL');
        });
      }
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
        proc.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        if (proc.connected) proc.send({ type: 'stop' });
        else proc.kill('SIGTERM');
      });
    }
  };
}

/** The server's environment without its secrets: the store needs none of them. */
function storeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['SESSION_SECRET', 'SIGNING_KEYS', 'COUCHDB_URL', 'DEMO_TEAM_PASSWORD']) delete env[name];
  return env;
}

/** What the operator reads when the store cannot start: what happened and what to do. */
function inWords(failure: StoreFailure, message: string, dataDir: string): string {
  switch (failure) {
    case 'locked':
      return `the data folder ${dataDir} is in use by another running Lưu Vết server (or a command such as units:import): stop it first, or use another folder with DATA_DIR`;
    case 'not_writable':
      return `the embedded store cannot write in the data folder ${dataDir} (${message}): give the server a folder it may write to with DATA_DIR, or set COUCHDB_URL`;
    case 'port_taken':
      return `the embedded store's port is taken by another program (${message})`;
    default:
      return `the embedded store did not start (${message})`;
  }
}

/**
 * The store process's script. From the bundle (dist/server.mjs, or a command bundled by
 * scripts/run-ts.mjs) it is store.mjs beside it; from the TypeScript sources (tests), this
 * process bundles embedded-child.ts once, with esbuild, as scripts/run-ts.mjs does for commands.
 */
let bundled: Promise<string> | null = null;

function childEntry(): Promise<string> {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) {
    const sibling = path.join(path.dirname(here), 'store.mjs');
    if (existsSync(sibling)) return Promise.resolve(sibling);
    return Promise.reject(new StoreStartError('other', `${sibling} is missing: build the server again (npm run build)`));
  }
  bundled ??= bundleChild(path.join(path.dirname(here), 'embedded-child.ts'), path.resolve(path.dirname(here), '../..'));
  return bundled;
}

async function bundleChild(source: string, projectRoot: string): Promise<string> {
  const { build } = await import('esbuild');
  const out = await build({ entryPoints: [source], bundle: true, platform: 'node', target: 'node20', format: 'esm', packages: 'external', write: false, outfile: 'store.mjs', logLevel: 'warning' });
  const code = out.outputFiles[0]!.contents;
  // Named by its content: every test process of one version of the sources shares one file, and
  // a file once written never changes under a running store. Inside the project, so that the
  // bundle's imports of packages resolve from node_modules.
  const dir = path.join(projectRoot, 'node_modules', '.cache', 'lv-store');
  const file = path.join(dir, `store-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(partial, code);
    renameSync(partial, file);
  }
  return file;
}
