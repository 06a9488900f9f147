// Bundles server/ (with the shared src/lib/core it imports) into dist/server.mjs; packages stay external.
import { build } from 'esbuild';

await build({
  entryPoints: ['server/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  outfile: 'dist/server.mjs',
  sourcemap: true,
  logLevel: 'warning'
});
