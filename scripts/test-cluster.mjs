// `npm run test:cluster`: the whole system on a real 3-node Apache CouchDB cluster (issue 14's test,
// tests/cluster/): two server instances, stations, citizens and a team over both, an instance and a
// CouchDB node killed midway. The cluster comes from the shared folder of CI extras (LV_SHARED_DIR,
// default ../shared next to the project: couchdb/couchdb.sh); without it the test is skipped, in words.
//
//   npm run test:cluster                       a fresh cluster on free ports, in a temporary folder
//   LV_CLUSTER_PORT=26400 npm run test:cluster the nodes on 26400, 26410, 26420 (and +5 each)
//
// The nodes are stopped afterwards, on Ctrl-C too; so is the epmd daemon their start brought up,
// when none was running before and no other CouchDB node uses it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeNodePorts, pidsNamed, stopOnInterrupt } from './couchdb-nodes.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NODES = 3;

const sharedDir = () => path.resolve(root, process.env.LV_SHARED_DIR || '../shared');
const hidden = (url) => url.replace(/\/\/[^@/\s]*@/, '//');

async function main() {
  const script = path.join(sharedDir(), 'couchdb', 'couchdb.sh');
  if (!existsSync(script)) {
    console.log(`Cluster test skipped: ${script} is missing (LV_SHARED_DIR names the folder that holds couchdb/couchdb.sh).`);
    return 0;
  }
  const base = process.env.LV_CLUSTER_PORT ? Number(process.env.LV_CLUSTER_PORT) : await freeNodePorts(NODES);
  if (!Number.isInteger(base) || base < 1024 || base + 10 * (NODES - 1) + 5 > 65535) {
    console.error(`LV_CLUSTER_PORT must be a port from 1024 to ${65535 - 10 * (NODES - 1) - 5}, not "${process.env.LV_CLUSTER_PORT}"`);
    return 2;
  }
  const ports = Array.from({ length: NODES }, (_, k) => base + 10 * k);
  const epmdBefore = pidsNamed('epmd').length > 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lv-cluster-'));
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    console.log('Stopping the CouchDB nodes.');
    spawnSync('bash', [script, 'stop', dir], { stdio: 'inherit' });
    // epmd outlives the nodes that started it; ours goes when no CouchDB node is left to use it.
    if (!epmdBefore && pidsNamed('beam.smp').length === 0) for (const pid of pidsNamed('epmd')) process.kill(pid, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  stopOnInterrupt(stop);
  try {
    const started = Date.now();
    console.log(`Starting a ${NODES}-node Apache CouchDB cluster from ${script} on 127.0.0.1:${ports.join(', ')} (data in ${dir}).`);
    const r = spawnSync('bash', [script, 'cluster', dir, String(NODES), String(base)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const url = r.stdout.trim().split('\n').at(-1) ?? '';
    if (r.status !== 0 || !/^https?:\/\//.test(url)) {
      console.error(`The cluster did not start (couchdb.sh exited with ${r.status}).`);
      return 1;
    }
    console.log(`\nCluster up in ${((Date.now() - started) / 1000).toFixed(1)} s at ${hidden(url)}.`);
    const run = spawnSync('npx', ['vitest', 'run', '--config', 'tests/cluster/vitest.config.ts', ...process.argv.slice(2).filter((a) => a !== '--')], {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'COUCHDB_URL' && k !== 'LV_TEST_COUCHDB_URL')),
        LV_CLUSTER_URL: url,
        LV_CLUSTER_DIR: dir,
        LV_CLUSTER_SCRIPT: script,
        LV_CLUSTER_PORTS: ports.join(',')
      }
    });
    console.log(`\ncluster test finished in ${Math.round((Date.now() - started) / 1000)} s (cluster start included).`);
    return run.status ?? 1;
  } finally {
    stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`test:cluster: ${hidden(String(err?.message ?? err))}`);
    process.exit(1);
  }
);
