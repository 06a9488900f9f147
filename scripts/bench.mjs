// `npm run bench`: builds, then runs every benchmark in bench/ and prints their figures.
import { spawnSync } from 'node:child_process';

const run = (args) => spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
let status = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' }).status ?? 1;
if (status !== 0) process.exit(status);
// The commune replica at full size (50,000 documents over a throttled link) takes about 6 minutes,
// up to half an hour if the sync gets slow again: here it runs at 10,000 (about 2) unless REPLICA_FULL=1.
const replica = process.env.REPLICA_FULL === '1' ? ['bench/replica.mjs'] : ['bench/replica.mjs', '--docs', '10000'];
// The officials' statistics over a province: 1,000,000 station entries take about 10 minutes to
// write to the embedded store before anything is measured; 200,000 unless REPORTS_FULL=1.
const reports = process.env.REPORTS_FULL === '1' ? ['bench/reports.mjs'] : ['bench/reports.mjs', '--entries', '200000'];
// Station ingest on a 3-node CouchDB cluster (1 and 2 instances) and a single node, from
// ../shared/couchdb (LV_SHARED_DIR); it says it is skipped when that folder is missing.
// The server against crowds and hostile clients: long-polls beside /api/keys, probes by class.
for (const args of [['bench/decoder.mjs'], ['bench/checkin.mjs'], ['bench/paint.mjs'], ['bench/poster.mjs'], ['bench/ingest.mjs'], ['bench/cluster-ingest.mjs'], ['bench/exposure-match.mjs'], ['bench/snapshot.mjs'], ['bench/tallies.mjs'], ['bench/longpoll.mjs'], ['bench/probes.mjs'], replica, reports]) {
  console.log(`\n=== ${args.join(' ')}`);
  status ||= run(args);
}
process.exit(status);
