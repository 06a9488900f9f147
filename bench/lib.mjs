/**
 * Helpers shared by the benchmarks in bench/: the project root, the server under test (dist/server.mjs
 * started in this process on a temp DATA_DIR), headless Chromium and the bench pages it opens (bundled
 * with esbuild, served from 127.0.0.1), loopback HTTP requests, a worker thread's messages, CPU time
 * from /proc, statistics (median, percentile, a seeded random generator), and the printed table and
 * final `RESULT {json}` line.
 *
 * Only node: modules are imported up front: playwright-core, esbuild and PouchDB load when first
 * used, so the server benches (and their worker threads) do not carry what they do not use.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `<name> bench: <message>` on stderr, then exit 1. */
export const failer = (name) => (message) => {
  console.error(`${name} bench: ${message}`);
  process.exit(1);
};

/**
 * The command-line options, `--name value` or `--name=value`: `spec` maps each option (camelCase of
 * its name) to how its value is read, 'number' (≥ 0), 'whole' (≥ 0, rounded down), 'path' (resolved),
 * 'text' (as given, not empty) or 'switch' (no value); `check(opts)` throws on values that do not go together. --help or -h
 * prints `usage: <usage>` and exits 0; a bad option prints `<name> bench: <why>` and exits 2.
 */
export function parseFlags(name, { usage, spec, defaults, check = () => {} }, argv = process.argv.slice(2)) {
  const opts = { ...defaults };
  try {
    for (let i = 0; i < argv.length; i++) {
      // Split at the first '=' only: a value (a URL with a password) may hold more.
      const eq = argv[i].indexOf('=');
      const [flag, inline] = eq < 0 ? [argv[i], undefined] : [argv[i].slice(0, eq), argv[i].slice(eq + 1)];
      if (flag === '--help' || flag === '-h') {
        console.log(`usage: ${usage}`);
        process.exit(0);
      }
      const key = flag.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
      const kind = flag.startsWith('--') && Object.hasOwn(spec, key) ? spec[key] : null;
      if (!kind) throw new Error(`unknown option ${argv[i]}`);
      if (kind === 'switch') opts[key] = true;
      else if (kind === 'path') opts[key] = path.resolve(inline ?? argv[++i] ?? '');
      else if (kind === 'text') {
        const v = inline ?? argv[++i];
        if (!v) throw new Error(`${flag} needs a value`);
        opts[key] = v;
      }
      else {
        const v = inline ?? argv[++i];
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a number, not "${v}"`);
        opts[key] = kind === 'whole' ? Math.floor(n) : n;
      }
    }
    check(opts);
  } catch (err) {
    console.error(`${name} bench: ${err.message}`);
    process.exit(2);
  }
  return opts;
}

/**
 * The end of a bench: exit 0 when `outcome` is an empty list of problems, else exit 1 after
 * `<name> bench failed:` and the problems, one a line, or the error (with its stack) that stopped it.
 */
export function exitWith(name, outcome) {
  if (Array.isArray(outcome) && !outcome.length) process.exit(0);
  const why = Array.isArray(outcome) ? `\n  ${outcome.join('\n  ')}` : ` ${outcome?.stack ?? outcome}`;
  console.error(`\n${name} bench failed:${why}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

/**
 * The middle value (the mean of the two middle ones for an even count). Self-contained, so a bench
 * page can take its source: `${median}` in the page's code.
 */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile: the smallest value that at least p % of `xs` do not exceed; NaN for none. */
export function percentile(xs, p) {
  if (!xs.length) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** `x` rounded to `digits` decimals; null when it is not a finite number (JSON has no NaN). */
export const round = (x, digits) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : null);

/**
 * A seeded random generator (mulberry32): the same data on every run. Self-contained, so Node and a
 * bench page (`${mulberry32}` in its code) draw the same numbers.
 */
export function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/** One line of left-aligned columns, each padded to its width. */
export const tableRow = (cells, widths) => cells.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(' ').trimEnd();

/** Rows of a label and figures, the figures right-aligned in 14 characters ('—' for none), under an optional header. */
export function printFigures(rows, header = null) {
  const w = Math.max(...rows.map((r) => r[0].length));
  const cell = (v) => String(v ?? '—').padStart(14);
  if (header) console.log(`${''.padEnd(w)} ${header.map(cell).join(' ')}`);
  for (const [label, ...values] of rows) console.log(`${label.padEnd(w)} ${values.map(cell).join(' ')}`);
}

/** The last line of every bench, for scripts. */
export const printResult = (result) => console.log(`RESULT ${JSON.stringify(result)}`);

// ---------------------------------------------------------------------------------------------
// The server under test, in this process
// ---------------------------------------------------------------------------------------------

/**
 * The server bundle to measure: `explicit` (a --bundle option: it must exist), else dist/server.mjs,
 * built with scripts/build-server.mjs when it is missing, or, with `rebuildStale`, older than a .ts
 * file of server/ or src/lib/core/ (a stale bundle would measure old code). Exits 1 when it cannot.
 */
export function serverBundle(name, { explicit = null, rebuildStale = false } = {}) {
  const failed = (message) => {
    console.error(`${name} bench failed: ${message}`);
    process.exit(1);
  };
  if (explicit) {
    if (!existsSync(explicit)) failed(`--bundle ${explicit}: no such file`);
    return explicit;
  }
  const bundle = path.join(ROOT, 'dist/server.mjs');
  const newest = (dir) =>
    readdirSync(dir, { recursive: true, withFileTypes: true }).reduce((t, e) => (e.isFile() && e.name.endsWith('.ts') ? Math.max(t, statSync(path.join(e.parentPath ?? e.path, e.name)).mtimeMs) : t), 0);
  const missing = !existsSync(bundle);
  if (missing || (rebuildStale && statSync(bundle).mtimeMs < Math.max(newest(path.join(ROOT, 'server')), newest(path.join(ROOT, 'src/lib/core'))))) {
    console.error(`${name} bench: dist/server.mjs is missing${rebuildStale ? ' or older than its sources' : ''}, building it (node scripts/build-server.mjs)…`);
    const r = spawnSync(process.execPath, ['scripts/build-server.mjs'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0 || !existsSync(bundle)) failed('could not build dist/server.mjs');
  }
  return bundle;
}

/**
 * A temp folder for one run: `data` for the server's DATA_DIR, `static` (made, with the 200.html the
 * server falls back to) for its STATIC_DIR; `remove()` deletes it all.
 */
export function tempDirs(prefix) {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  const staticDir = path.join(root, 'static');
  mkdirSync(staticDir);
  writeFileSync(path.join(staticDir, '200.html'), '<!doctype html><title>bench</title>');
  return { root, data: path.join(root, 'data'), static: staticDir, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * startServer from `bundle`, as `npm start` runs it: on 127.0.0.1, a free port, no request log.
 * `env` gives DATA_DIR, STATIC_DIR and anything else readConfig reads (undefined = its default).
 */
export async function startBenchServer(bundle, env) {
  const { startServer, readConfig } = await import(pathToFileURL(bundle).href);
  return startServer(readConfig({ PORT: '0', HOST: '127.0.0.1', LOG: '0', PUBLIC_ORIGIN: 'http://127.0.0.1', ...env }));
}

/** PouchDB with the in-memory adapter: a device's local database. */
export async function memoryPouchDB() {
  const { default: PouchDB } = await import('pouchdb-node');
  const { default: memoryAdapter } = await import('pouchdb-adapter-memory');
  PouchDB.plugin(memoryAdapter);
  return PouchDB;
}

/**
 * A remote database for replication, sending `cookie` (a session) with each request;
 * `onResponse(url, method, ms)` sees how long each request took to its response headers.
 */
export function remotePouch(PouchDB, url, cookie, onResponse = null) {
  return new PouchDB(url, {
    skip_setup: true,
    fetch: (u, opts = {}) => {
      const headers = new Headers(opts.headers);
      if (cookie) headers.set('cookie', cookie);
      const t0 = performance.now();
      const sent = PouchDB.fetch(u, { ...opts, headers });
      if (!onResponse) return sent;
      return sent.then((res) => {
        onResponse(String(u), (opts.method ?? 'GET').toUpperCase(), performance.now() - t0);
        return res;
      });
    }
  });
}

/** The `lv_session=…` pair of a Set-Cookie header, or undefined. */
export const sessionCookie = (setCookie) => /lv_session=[^;]+/.exec(String(setCookie ?? ''))?.[0];

/**
 * One HTTP request with node:http (not fetch, which adds its own Accept-Encoding and decompresses,
 * hiding what is sent). A string `body` goes as JSON. Resolves with the status, headers, raw body
 * and the time until the body's end; rejects on a network error.
 */
export function httpRequest(url, { method = 'GET', headers = {}, body, agent, localAddress } = {}) {
  const sendHeaders = body === undefined ? headers : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers };
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = http.request(url, { method, headers: sendHeaders, agent, localAddress }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - start }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// Load generators in a worker thread, CPU time
// ---------------------------------------------------------------------------------------------

/**
 * The main thread's side of a worker: `next()` waits for its next message, `call(msg)` posts one
 * and waits for the answer. A `{ type: 'error', message }` message, an error or an exit rejects.
 */
export function workerChannel(worker, label) {
  const messages = [];
  let wake = null;
  const push = (m) => {
    messages.push(m);
    wake?.();
  };
  worker.on('message', (m) => push(m?.type === 'error' ? { failure: new Error(`${label}: ${m.message}`) } : m));
  worker.on('error', (err) => push({ failure: err }));
  worker.on('exit', (code) => push({ failure: new Error(`${label} exited (${code})`) }));
  const next = async () => {
    while (!messages.length) await new Promise((resolve) => (wake = resolve));
    const m = messages.shift();
    if (m.failure) throw m.failure;
    return m;
  };
  return {
    worker,
    next,
    call(msg) {
      worker.postMessage(msg);
      return next();
    }
  };
}

/** Clock ticks per second of /proc's CPU times (USER_HZ): `getconf CLK_TCK`, 100 when it cannot say. */
export const CLOCK_TICKS = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return r.status === 0 && Number.isInteger(n) && n > 0 ? n : 100;
})();

/** CPU ms (user + system) of a thread or process so far, from its /proc stat file; NaN without /proc. */
export function procCpuMs(statFile) {
  try {
    const f = readFileSync(statFile, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** CPU ms of this process's main thread (where the server runs): a worker thread's time is not in it. */
export const mainThreadCpuMs = () => procCpuMs(`/proc/self/task/${process.pid}/stat`);

// ---------------------------------------------------------------------------------------------
// Headless Chromium and bench pages
// ---------------------------------------------------------------------------------------------

export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** The flags of the end-to-end tests (CHROMIUM_ARGS in playwright.config.ts): keep the two in step. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Throws when there is no Chromium to launch: a bench can say so before it does anything long. */
export function checkChromium() {
  if (!existsSync(chromiumPath)) throw new Error(`Chromium not found at ${chromiumPath} (install it, or set CHROMIUM to its path)`);
}

/** Headless Chromium at $CHROMIUM or /usr/bin/chromium, through playwright-core. */
export async function launchChromium() {
  checkChromium();
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
}

/**
 * Bundles code with esbuild, for the browser unless `options` say otherwise: `source` (TypeScript by
 * default) is resolved from the project root, so a bench page imports the app's modules as the PWA
 * does. Other `options` go to esbuild as they are (minify, target, plugins, …). Returns the JavaScript.
 */
export async function bundleCode(source, sourcefile, { loader = 'ts', ...options } = {}) {
  const { build } = await import('esbuild');
  const out = await build({
    stdin: { contents: source, resolveDir: ROOT, sourcefile, loader },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'warning',
    ...options
  });
  return out.outputFiles[0].text;
}

/** An HTML page that only loads the module at `src`. */
export const pageHtml = (src) => `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="${src}"></script>`;

/**
 * A server on 127.0.0.1 (a secure context, which WebCrypto needs), on a free port: `files` maps a
 * path to [content type, body]; `fallback(pathname)` may answer the others with the same pair.
 * Anything else is a 404. Resolves once it listens; `origin(server)` is its address.
 */
export function serveFiles(files, fallback = () => null) {
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    const file = files[pathname] ?? fallback(pathname);
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

export const origin = (server) => `http://127.0.0.1:${server.address().port}`;

/**
 * A new page of `owner` (a browser or a context) at `url`, once the bench script has defined
 * `window[name]`. Page errors go to stderr, and into the error when the script never gets there.
 * `beforeLoad(page)` runs before the page is opened (listeners, throttling).
 */
export async function openBenchPage(owner, url, name, beforeLoad = null) {
  const page = await owner.newPage();
  const errors = [];
  page.on('pageerror', (err) => {
    errors.push(err.message);
    console.error(`page error: ${err.message}`);
  });
  await beforeLoad?.(page);
  await page.goto(url);
  await page.waitForFunction((n) => n in window, name).catch((err) => {
    throw new Error(`the bench page did not start${errors.length ? `: ${errors.join('; ')}` : ''} (${err.message.split('\n')[0]})`);
  });
  return page;
}

/** `promise`, or an error `<what>: no result after N s`: a hang becomes a failure. */
export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// The server under test, in a child process
// ---------------------------------------------------------------------------------------------

/** What the child runs: startServer from the bundle, its address and pids by IPC, close on demand. */
const SERVER_CHILD = `
const { startServer, readConfig } = await import(process.env.LV_BENCH_BUNDLE);
const server = await startServer(readConfig(JSON.parse(process.env.LV_BENCH_CONFIG)));
const storePid = () => (typeof server.storePid === 'function' ? server.storePid() : null);
process.on('message', async (m) => {
  if (m?.cmd === 'storePid') process.send({ type: 'reply', id: m.id, value: storePid() });
  if (m?.cmd === 'store') {
    // A fixture written straight to the store (a venue of another commune), as the server's own code would.
    try {
      if (m.commune) await server.store.ensureCommuneDb(m.commune);
      const r = m.path ? await server.store.request(m.method, m.path, { body: m.body }) : null;
      process.send({ type: 'reply', id: m.id, value: r });
    } catch (err) {
      process.send({ type: 'reply', id: m.id, value: { error: String(err?.message ?? err) } });
    }
  }
  if (m?.cmd === 'close') {
    await server.close().catch(() => {});
    process.exit(0);
  }
});
process.send({ type: 'ready', url: server.url, storePid: storePid(), demoTeam: server.demoTeam ?? null });
`;

/**
 * startServer from `bundle` in a child process of its own, configured as startBenchServer does: a
 * bench that provokes it can see it die (and its store's process, by pid) without dying itself, and
 * its clients do not share its event loop. The child's stderr is kept (the last 200 lines, `log()`);
 * `exited` is null while it runs, else its exit code or signal. `storePid()` asks it for its store's
 * pid (null for an in-process store or a build without one); `storeRequest()` writes a fixture
 * through its Store; `demoTeam` is the demo team's phone and password. `close()` ends it.
 */
export async function spawnBenchServer(bundle, env, { startMs = 60_000 } = {}) {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--input-type=module', '-e', SERVER_CHILD], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: {
      ...process.env,
      LV_BENCH_BUNDLE: pathToFileURL(bundle).href,
      LV_BENCH_CONFIG: JSON.stringify({ PORT: '0', HOST: '127.0.0.1', LOG: '0', PUBLIC_ORIGIN: 'http://127.0.0.1', ...env })
    }
  });
  const lines = [];
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    lines.push(...parts);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  });
  const handle = { pid: child.pid, url: null, firstStorePid: null, exited: null, log: () => [...lines, partial].filter(Boolean) };
  const waiting = new Map();
  let nextId = 0;
  child.on('message', (m) => {
    if (m?.type === 'reply') {
      waiting.get(m.id)?.(m.value);
      waiting.delete(m.id);
    }
  });
  const gone = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      handle.exited = signal ?? code;
      for (const w of waiting.values()) w(null);
      waiting.clear();
      resolve();
    })
  );
  handle.gone = gone;
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within ${startMs / 1000} s`)), startMs);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    gone.then(() => {
      clearTimeout(timer);
      reject(new Error(`the server exited at start (${handle.exited}): ${handle.log().slice(-5).join(' | ')}`));
    });
  });
  handle.url = ready.url;
  handle.firstStorePid = ready.storePid;
  handle.demoTeam = ready.demoTeam;
  const ask = (msg) =>
    handle.exited !== null
      ? Promise.resolve(null)
      : new Promise((resolve) => {
          const id = ++nextId;
          waiting.set(id, resolve);
          child.send({ ...msg, id });
        });
  handle.storePid = () => ask({ cmd: 'storePid' });
  /** A raw store request made by the server's Store (after making commune `commune`'s database, if given). */
  handle.storeRequest = (method, path, body, commune) => ask({ cmd: 'store', method, path, body, commune });
  handle.close = async () => {
    if (handle.exited !== null) return;
    child.send({ cmd: 'close' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  return handle;
}

/**
 * A TLS front with HTTP/2 before a bench server, as a production deployment has (a reverse proxy or a
 * CDN: a PWA is served over HTTPS, and every TLS terminator in use speaks HTTP/2). Over HTTP/1.1 a
 * browser fetches six files at a time, so a page of thirty modules pays five round trips more than
 * it does behind such a front. The certificate is self-signed (made with openssl, for this run only):
 * contexts that use the front need `ignoreHTTPSErrors`. Returns null, with a reason, where openssl is
 * missing. The front streams requests and answers through unchanged, compression included.
 */
export async function startHttp2Front(upstream) {
  const { execFileSync } = await import('node:child_process');
  const http2 = await import('node:http2');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lv-h2-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`], { stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return { front: null, reason: 'openssl is not installed' };
  }
  const target = new URL(upstream);
  // Headers HTTP/2 forbids, or that belong to one hop only.
  const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'http2-settings', 'host']);
  const server = http2.createSecureServer({ key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`), allowHTTP1: true }, (req, res) => {
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !k.startsWith(':') && !hopByHop.has(k)));
    headers.host = target.host;
    const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
      const back = Object.fromEntries(Object.entries(answer.headers).filter(([k]) => !hopByHop.has(k)));
      res.writeHead(answer.statusCode ?? 502, back);
      answer.pipe(res);
    });
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
  // Browsers keep HTTP/2 sessions open: they are ended at close, or close would wait for them.
  const sessions = new Set();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  rmSync(dir, { recursive: true, force: true });
  return {
    front: {
      url: `https://localhost:${server.address().port}`,
      close: () => {
        for (const session of sessions) session.destroy();
        return new Promise((resolve) => server.close(() => resolve()));
      }
    },
    reason: null
  };
}
