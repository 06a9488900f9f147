/**
 * The server as its own process, as `npm start` runs it (dist/server.mjs with dist/store.mjs beside
 * it), bundled from the sources once per test process: for tests that kill it or read what it
 * prints when it cannot start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let bundled: Promise<string> | null = null;
let bundleDir: string | null = null;

/** Removes the bundle of serverBundle() (call in afterAll). */
export function removeServerBundle(): void {
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  bundleDir = null;
  bundled = null;
}

/** dist/server.mjs and dist/store.mjs as scripts/build-server.mjs makes them, in a folder of this test process. */
export function serverBundle(): Promise<string> {
  bundled ??= (async () => {
    // Inside the project, so that the bundle's imports of packages resolve from node_modules.
    const dir = path.join(ROOT, 'node_modules', '.cache', 'lv-test-server', `${process.pid}-${randomBytes(4).toString('hex')}`);
    bundleDir = dir;
    const outdir = path.join(dir, 'dist');
    mkdirSync(outdir, { recursive: true });
    // The server reads its demo data at ../server/data from its bundle, as from dist/.
    mkdirSync(path.join(dir, 'server'), { recursive: true });
    symlinkSync(path.join(ROOT, 'server', 'data'), path.join(dir, 'server', 'data'));
    await build({
      entryPoints: { server: path.join(ROOT, 'server/main.ts'), store: path.join(ROOT, 'server/store/embedded-child.ts') },
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      packages: 'external',
      outdir,
      outExtension: { '.js': '.mjs' },
      logLevel: 'warning'
    });
    return path.join(outdir, 'server.mjs');
  })();
  return bundled;
}

export interface ServerProcess {
  proc: ChildProcess;
  output(): { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();

/** Kills every server this test process started and that still runs (call in afterAll): a test that failed or timed out leaves none behind. */
export function killServers(): void {
  for (const proc of live) proc.kill('SIGKILL');
}
process.once('exit', killServers);

/** Starts `node server.mjs` with env added to this process's environment. */
export async function spawnServer(env: Record<string, string>): Promise<ServerProcess> {
  const entry = await serverBundle();
  // As scripts/start.mjs (npm start) runs it: import the bundle, call runFromCli().
  const script = `import(${JSON.stringify(pathToFileURL(entry).href)}).then((m) => m.runFromCli())`;
  // The store is what the test says: a COUCHDB_URL of the shell that runs the tests (npm run
  // test:couchdb takes one) must not turn an embedded-store test into a CouchDB one.
  const { COUCHDB_URL: _shell, LV_TEST_COUCHDB_URL: _suite, ...inherited } = process.env;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { DEMO_ACTIVITY: '0', ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return { proc, output: () => ({ stdout, stderr }), exited };
}

/** Thrown by a probe of until(): stop waiting at once. */
export class GiveUp extends Error {}

/** Polls until probe answers something other than undefined; fails after `tries` rounds of `everyMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, tries = 400, everyMs = 50): Promise<T> {
  let lastError: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
}

/** Whether a process runs (a zombie, ended but not yet reaped by its new parent, does not). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pids of a process's children (Linux /proc). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(name));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}
