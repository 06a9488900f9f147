// Runs a TypeScript entry of server/ (a command such as units:import or user:add): esbuild bundles
// it with the shared src/lib/core it imports, packages stay external, then Node runs the bundle.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs server/<command>.ts [args…]');
  process.exit(2);
}
// Inside the project, so that the bundle's imports of packages resolve from node_modules.
const outfile = path.join(process.cwd(), 'node_modules', '.cache', 'lv-cmd', `${path.basename(entry, '.ts')}-${process.pid}.mjs`);
try {
  await build({ entryPoints: [entry], bundle: true, platform: 'node', target: 'node20', format: 'esm', packages: 'external', outfile, logLevel: 'warning' });
  const mod = await import(pathToFileURL(outfile).href);
  if (typeof mod.main !== 'function') throw new Error(`${entry} exports no main(argv)`);
  const code = await mod.main(args);
  process.exitCode = typeof code === 'number' ? code : 0;
} finally {
  rmSync(outfile, { force: true });
}
