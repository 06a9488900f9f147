// `npm run bench`: builds, then runs every benchmark in bench/ and prints their figures.
import { spawnSync } from 'node:child_process';

const run = (args) => spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
let status = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' }).status ?? 1;
if (status !== 0) process.exit(status);
for (const bench of ['bench/decoder.mjs', 'bench/checkin.mjs', 'bench/poster.mjs', 'bench/ingest.mjs', 'bench/exposure-match.mjs', 'bench/snapshot.mjs', 'bench/tallies.mjs']) {
  console.log(`\n=== ${bench}`);
  status ||= run([bench]);
}
process.exit(status);
