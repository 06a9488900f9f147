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
// Inside the project, so that the bundle's imports of packages resolve from node_modules. The
// embedded store's process (store.mjs) is bundled beside the command, where the command's
// supervisor looks for it, as dist/server.mjs finds dist/store.mjs.
const outdir = path.join(process.cwd(), 'node_modules', '.cache', 'lv-cmd', `${path.basename(entry, '.ts')}-${process.pid}`);
const outfile = path.join(outdir, 'command.mjs');
try {
  await build({
    entryPoints: { command: entry, store: 'server/store/embedded-child.ts' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    outdir,
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning'
  });
  const mod = await import(pathToFileURL(outfile).href);
  if (typeof mod.main !== 'function') throw new Error(`${entry} exports no main(argv)`);
  const code = await mod.main(args);
  process.exitCode = typeof code === 'number' ? code : 0;
} catch (err) {
  // A command that fails says why in words (a store in use, a folder it cannot write), not with a stack.
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
