#!/usr/bin/env node
/**
 * Long-polls against the API: does a crowd of phones waiting on `_changes` starve everyone else?
 *
 * Every phone on the unit picker holds `GET /sync/lv_directory/_changes?feed=longpoll&since=now`
 * open, anonymously, and opens the next one as soon as one returns (as PouchDB's live replication
 * does; after a 429 it waits the Retry-After first). Before the gateway bounded them, about 70 such
 * phones used up the embedded store's connections and `/api/keys` stopped answering.
 *
 * The server runs in a child process (dist/server.mjs, or --bundle; embedded store, a temp DATA_DIR,
 * 127.0.0.1 only); this process is the phones. Two phases on the same server, side by side:
 *   baseline:  no long-polls;
 *   load:      --polls long-polls (200), each on its own keep-alive connection, all open before timing.
 * In each phase `GET /api/keys` goes at a fixed rate (--rate, 20/s), open loop (a slow answer does
 * not delay the next request), for --seconds (30: past the gateway's default 25 s bound, so each
 * long-poll is answered once and re-opened in the timed part); each request gives up after
 * --timeout (5 s) and counts as a timeout. `GET /api/health` goes once a second beside it.
 * Prints latency percentiles of /api/keys, errors and timeouts, health answers, and the long-polls
 * open / answered / refused (429) / failed.
 *
 * Usage: node bench/longpoll.mjs [--polls 200] [--seconds 30] [--rate 20] [--timeout 5] [--longpoll-ms N] [--bundle file]
 *   --longpoll-ms  the gateway's bound on one long-poll (SYNC_LONGPOLL_MS; default: the server's own, 25000)
 *   --bundle       another build of the server, e.g. one from before the bound, to see the freeze
 * Prints a table and a final `RESULT {json}` line; exits 0 when the run completed (whatever the
 * figures: the target is printed, not asserted), 1 when the server died or could not start.
 */
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { exitWith, parseFlags, percentile, printFigures, printResult, procCpuMs, round, serverBundle, spawnBenchServer, tempDirs } from './lib.mjs';

const OPTIONS = {
  usage: 'node bench/longpoll.mjs [--polls 200] [--seconds 30] [--rate 20] [--timeout 5] [--longpoll-ms N] [--bundle dist/server.mjs]',
  spec: { polls: 'whole', seconds: 'number', rate: 'number', timeout: 'number', longpollMs: 'whole', bundle: 'path' },
  defaults: { polls: 200, seconds: 30, rate: 20, timeout: 5, longpollMs: null, bundle: null },
  check(opts) {
    if (opts.seconds <= 0 || opts.rate <= 0 || opts.timeout <= 0) throw new Error('--seconds, --rate and --timeout must be positive');
    if (opts.polls > 5000) throw new Error('--polls: at most 5000');
  }
};

const LONGPOLL_PATH = '/sync/lv_directory/_changes?feed=longpoll&since=now';

/**
 * One GET: resolves with { status, ms, retryAfter } or { error: 'timeout' | message, ms }; never rejects.
 * `signal` ends it early (counted by the caller, not here).
 */
function get(url, { agent, timeoutMs, signal }) {
  return new Promise((resolve) => {
    const start = performance.now();
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, ms: performance.now() - start });
    };
    const failed = (err) => finish({ error: signal?.aborted ? 'stopped' : timedOut ? 'timeout' : err?.code ?? err?.message ?? 'closed' });
    // Our own deadline (not an AbortSignal, which a response already under way may not end).
    let timedOut = false;
    const timer = timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          req.destroy();
          failed();
        }, timeoutMs)
      : null;
    const req = http.request(url, { agent, signal }, (res) => {
      res.resume();
      res.on('end', () => finish({ status: res.statusCode, retryAfter: Number(res.headers['retry-after']) }));
      res.on('error', failed);
      res.on('close', () => failed(new Error('closed')));
    });
    req.on('error', failed);
    req.on('close', () => setImmediate(() => failed(new Error('closed'))));
    req.end();
  });
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const wake = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', wake);
      resolve();
    };
    const t = setTimeout(wake, ms);
    signal?.addEventListener('abort', wake, { once: true });
  });

/** `n` phones, each looping on a long-poll over its own keep-alive connection until stop(). */
function startLongPolls(base, n) {
  const stats = { requests: 0, open: 0, maxOpen: 0, answered: 0, refused: 0, otherStatus: {}, errors: {}, answeredMs: [] };
  const stopper = new AbortController();
  // One listener per phone's pending request on the one signal that stops them all.
  setMaxListeners(0, stopper.signal);
  const agents = [];
  const loops = [];
  for (let i = 0; i < n; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    loops.push(
      (async () => {
        while (!stopper.signal.aborted) {
          stats.requests++;
          stats.open++;
          stats.maxOpen = Math.max(stats.maxOpen, stats.open);
          // No client deadline of our own: the server must end the wait (a phone's would be ~60 s).
          const r = await get(base + LONGPOLL_PATH, { agent, signal: stopper.signal });
          stats.open--;
          if (r.error === 'stopped') break;
          if (r.error) {
            stats.errors[r.error] = (stats.errors[r.error] ?? 0) + 1;
            await sleep(1000, stopper.signal);
          } else if (r.status === 200) {
            stats.answered++;
            stats.answeredMs.push(r.ms);
          } else if (r.status === 429) {
            stats.refused++;
            await sleep((Number.isFinite(r.retryAfter) ? r.retryAfter : 1) * 1000, stopper.signal);
          } else {
            stats.otherStatus[r.status] = (stats.otherStatus[r.status] ?? 0) + 1;
            await sleep(1000, stopper.signal);
          }
        }
      })()
    );
  }
  return {
    stats,
    /** Clears the counters (not `open`): the timed part starts here. */
    reset() {
      Object.assign(stats, { requests: 0, maxOpen: stats.open, answered: 0, refused: 0, otherStatus: {}, errors: {}, answeredMs: [] });
    },
    async stop() {
      stopper.abort();
      await Promise.all(loops);
      for (const a of agents) a.destroy();
    }
  };
}

/** /api/keys at `rate` per second, open loop, and /api/health once a second, for `seconds`. */
async function measureApi(base, { seconds, rate, timeoutMs }, polls) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const keys = { ms: [], status: {}, errors: {}, sent: 0, timeline: [] };
  const health = { status: {}, errors: {}, ms: [] };
  const openSeen = [];
  const pending = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  let nextHealth = start;
  for (let i = 0; ; i++) {
    const at = start + (i * 1000) / rate;
    if (at >= end) break;
    const wait = at - performance.now();
    if (wait > 0) await sleep(wait);
    keys.sent++;
    const sentAt = performance.now() - start;
    pending.push(
      get(`${base}/api/keys`, { agent, timeoutMs }).then((r) => {
        keys.timeline.push([sentAt, r.error ? Infinity : r.ms]);
        if (r.error) keys.errors[r.error] = (keys.errors[r.error] ?? 0) + 1;
        else {
          keys.status[r.status] = (keys.status[r.status] ?? 0) + 1;
          if (r.status === 200) keys.ms.push(r.ms);
        }
      })
    );
    if (performance.now() >= nextHealth) {
      nextHealth += 1000;
      if (polls) openSeen.push(polls.stats.open);
      pending.push(
        get(`${base}/api/health`, { agent, timeoutMs }).then((r) => {
          if (r.error) health.errors[r.error] = (health.errors[r.error] ?? 0) + 1;
          else {
            health.status[r.status] = (health.status[r.status] ?? 0) + 1;
            health.ms.push(r.ms);
          }
        })
      );
    }
  }
  await Promise.all(pending);
  agent.destroy();
  return { keys, health, openSeen };
}

async function main() {
  const opts = parseFlags('longpoll', OPTIONS);
  const watchdog = setTimeout(() => exitWith('longpoll', new Error('timed out')), (opts.seconds * 2 + 240) * 1000);
  watchdog.unref();
  const bundle = serverBundle('longpoll', { explicit: opts.bundle });
  const dirs = tempDirs('lv-longpoll-');
  let server = null;
  let polls = null;
  const loads = [{ when: 'at start', load: os.loadavg()[0] }];
  try {
    server = await spawnBenchServer(bundle, { DATA_DIR: dirs.data, STATIC_DIR: dirs.static, ...(opts.longpollMs ? { SYNC_LONGPOLL_MS: String(opts.longpollMs) } : {}) });
    const base = server.url;
    console.log(`Lưu Vết long-polls against the API: ${opts.polls} anonymous long-polls on lv_directory; /api/keys at ${opts.rate}/s for ${opts.seconds} s per phase, ${opts.timeout} s client timeout`);
    console.log(`  server ${base} (child pid ${server.pid}${opts.bundle ? `, ${opts.bundle}` : ''}; store ${server.firstStorePid ? `in its own process, pid ${server.firstStorePid}` : 'in the server process'})${opts.longpollMs ? `, SYNC_LONGPOLL_MS=${opts.longpollMs}` : ''}; ${os.cpus().length} CPUs, Node ${process.version}`);
    const timeoutMs = opts.timeout * 1000;

    // Warm the path once (first store reads, JIT).
    await measureApi(base, { seconds: 1, rate: opts.rate, timeoutMs }, null);

    // CPU seconds of the server's and the store's processes over each timed part (from /proc).
    const storePid = server.firstStorePid;
    const cpuNow = () => ({ server: procCpuMs(`/proc/${server.pid}/stat`), store: storePid ? procCpuMs(`/proc/${storePid}/stat`) : NaN });
    const cpuSince = (c0) => {
      const c1 = cpuNow();
      return { server: round((c1.server - c0.server) / 1000, 1), store: round((c1.store - c0.store) / 1000, 1) };
    };

    process.stdout.write('  phase baseline (0 long-polls)…');
    let c0 = cpuNow();
    const baseline = await measureApi(base, { seconds: opts.seconds, rate: opts.rate, timeoutMs }, null);
    const baselineCpu = cpuSince(c0);
    loads.push({ when: 'after baseline', load: os.loadavg()[0] });
    console.log(' done');

    process.stdout.write(`  phase load (${opts.polls} long-polls): opening…`);
    c0 = cpuNow();
    polls = startLongPolls(base, opts.polls);
    // All sent and none answered yet: give the server a moment to take them in.
    for (let i = 0; i < 50 && polls.stats.open < opts.polls; i++) await sleep(100);
    await sleep(2000);
    const openAtStart = polls.stats.open;
    const openingCpu = cpuSince(c0);
    c0 = cpuNow();
    polls.reset();
    process.stdout.write(` ${openAtStart} open, measuring…`);
    const load = await measureApi(base, { seconds: opts.seconds, rate: opts.rate, timeoutMs }, polls);
    const openAtEnd = polls.stats.open;
    const loadCpu = cpuSince(c0);
    const lp = { ...polls.stats, answeredMs: polls.stats.answeredMs };
    loads.push({ when: 'after load', load: os.loadavg()[0] });
    await polls.stop();
    polls = null;
    console.log(' done');

    const died = server.exited !== null;
    const storeNow = died ? null : await server.storePid();
    const row = (m) => {
      const timeouts = m.keys.errors.timeout ?? 0;
      const otherErrors = Object.entries(m.keys.errors).filter(([k]) => k !== 'timeout').reduce((a, [, v]) => a + v, 0);
      const non200 = Object.entries(m.keys.status).filter(([k]) => k !== '200').reduce((a, [, v]) => a + v, 0);
      return {
        sent: m.keys.sent,
        ok: m.keys.ms.length,
        p50: round(percentile(m.keys.ms, 50), 1),
        p95: round(percentile(m.keys.ms, 95), 1),
        p99: round(percentile(m.keys.ms, 99), 1),
        max: round(Math.max(...m.keys.ms), 1),
        non200,
        non200ByStatus: Object.fromEntries(Object.entries(m.keys.status).filter(([k]) => k !== '200')),
        timeouts,
        otherErrors,
        health200: m.health.status['200'] ?? 0,
        healthOther: Object.entries(m.health.status).filter(([k]) => k !== '200').reduce((a, [, v]) => a + v, 0) + Object.values(m.health.errors).reduce((a, b) => a + b, 0),
        healthP95: round(percentile(m.health.ms, 95), 1)
      };
    };
    const b = row(baseline);
    const l = row(load);
    console.log('');
    printFigures(
      [
        ['/api/keys requests sent', b.sent, l.sent],
        ['  answered 200', b.ok, l.ok],
        ['  p50 (ms)', b.p50, l.p50],
        ['  p95 (ms)', b.p95, l.p95],
        ['  p99 (ms)', b.p99, l.p99],
        ['  max (ms)', b.max, l.max],
        ['  other status', b.non200, l.non200],
        [`  timeouts (> ${opts.timeout} s)`, b.timeouts, l.timeouts],
        ['  network errors', b.otherErrors, l.otherErrors],
        ['/api/health 200 / not (p95 ms)', `${b.health200} / ${b.healthOther} (${b.healthP95 ?? '—'})`, `${l.health200} / ${l.healthOther} (${l.healthP95 ?? '—'})`],
        ['CPU s: server / store process', `${baselineCpu.server} / ${baselineCpu.store ?? '—'}`, `${loadCpu.server} / ${loadCpu.store ?? '—'}`],
        ['long-polls open at start', 0, openAtStart],
        ['  open, min / max seen', '—', `${Math.min(...load.openSeen)} / ${lp.maxOpen}`],
        ['  open at end', 0, openAtEnd],
        ['  requests (timed part)', 0, lp.requests],
        ['  answered 200', 0, lp.answered],
        ['  answered after (ms, p50)', '—', round(percentile(lp.answeredMs, 50), 0)],
        ['  refused 429', 0, lp.refused],
        ['  other status', 0, Object.entries(lp.otherStatus).map(([k, v]) => `${k}×${v}`).join(' ') || 0],
        ['  network errors', 0, Object.entries(lp.errors).map(([k, v]) => `${k}×${v}`).join(' ') || 0]
      ],
      ['0 long-polls', `${opts.polls} long-polls`]
    );
    // Where the slow answers fall: p95 per 5 s window of the timed part (∞: a timeout).
    const windows = (m) => {
      const out = [];
      for (let w = 0; w * 5000 < opts.seconds * 1000; w++) {
        const xs = m.keys.timeline.filter(([t]) => t >= w * 5000 && t < (w + 1) * 5000).map(([, ms]) => ms);
        out.push(xs.length ? (Number.isFinite(percentile(xs, 95)) ? Math.round(percentile(xs, 95)) : '∞') : '—');
      }
      return out.join(' ');
    };
    console.log(`opening the long-polls (until all sent, + 2 s) took CPU s: server ${openingCpu.server}, store ${openingCpu.store ?? '—'}`);
    console.log(`/api/keys p95 (ms) by 5 s window: baseline ${windows(baseline)}; with long-polls ${windows(load)}`);
    const restarted = server.firstStorePid !== null && storeNow !== server.firstStorePid;
    console.log(`server process: ${died ? `DIED (${server.exited})` : 'alive'}; store process: ${server.firstStorePid === null ? 'in the server process' : restarted ? `RESTARTED (pid ${server.firstStorePid} → ${storeNow})` : `same pid ${storeNow}`}`);
    const met = openAtStart >= opts.polls && l.p95 !== null && l.p95 < 200 && !l.timeouts && !l.non200;
    console.log(`target: ${opts.polls} open long-polls while /api/keys p95 < 200 ms (all answered): ${met ? 'met' : 'NOT met'}`);
    const n = os.cpus().length;
    console.log(`machine load (1-min average): ${loads.map((x) => `${x.when} ${x.load.toFixed(1)}`).join(', ')} on ${n} CPUs${loads.some((x) => x.load > n * 0.75) ? ' — other programs compete for the CPUs: latencies are noisy' : ''}`);
    console.log('');
    printResult({ longpoll: { polls: opts.polls, seconds: opts.seconds, rate: opts.rate, bundle: opts.bundle ?? 'dist/server.mjs', baseline: b, load: { ...l, openAtStart, openAtEnd, longpollRequests: lp.requests, answered: lp.answered, refused: lp.refused, otherStatus: lp.otherStatus, errors: lp.errors }, serverDied: died, storeRestarted: restarted, targetMet: met } });
    await server.close();
    dirs.remove();
    exitWith('longpoll', died ? [`the server died (${server.exited})`] : []);
  } catch (err) {
    await polls?.stop().catch(() => {});
    await server?.close().catch(() => {});
    dirs.remove();
    exitWith('longpoll', err);
  }
}

await main();
