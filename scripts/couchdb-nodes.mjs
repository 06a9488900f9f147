// Helpers for the scripts and benches that start Apache CouchDB nodes with ../shared/couchdb/couchdb.sh
// (scripts/test-couchdb.mjs, scripts/test-cluster.mjs, bench/cluster-ingest.mjs): free ports for
// them, and the processes they leave.
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';

/** Whether a loopback port is free. */
export const isPortFree = (port) =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/**
 * The lowest port the kernel hands out to outgoing connections. Ports for nodes that are killed and
 * started again are taken below it: while a node was down, one of the test's own connections once
 * got its port as a local port, and the node could not listen again (eaddrinuse).
 */
export function ephemeralLow() {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12000 ? low : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A base port for `count` nodes as couchdb.sh places them: node k on base + 10 k (HTTP) and
 * base + 10 k + 5 (Erlang distribution), every one of them free, below the outgoing ports.
 */
export async function freeNodePorts(count) {
  const span = ephemeralLow() - 10 * count - 10000;
  for (let tries = 0; tries < 100; tries++) {
    const base = 10000 + Math.floor(Math.random() * span);
    const all = Array.from({ length: count }, (_, k) => [base + 10 * k, base + 10 * k + 5]).flat();
    if ((await Promise.all(all.map(isPortFree))).every(Boolean)) return base;
  }
  throw new Error('no free block of ports on 127.0.0.1');
}

/** Pids of running processes whose executable is `name` (from /proc), zombies left out. */
export function pidsNamed(name) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
      if (comm === name && state !== 'Z') out.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** Runs `stop` (stopping the nodes, removing their folder) when the script is interrupted, then exits. */
export function stopOnInterrupt(stop) {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      stop();
      process.exit(130);
    });
  }
}
