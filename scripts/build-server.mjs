// Bundles server/ (with the shared src/lib/core it imports) into dist/server.mjs, and the embedded
// store's own process (server/store/embedded-child.ts, started by the server) into dist/store.mjs
// beside it; packages stay external.
import { build } from 'esbuild';

await build({
  entryPoints: { server: 'server/main.ts', store: 'server/store/embedded-child.ts' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  sourcemap: true,
  logLevel: 'warning'
});

// The service worker's additions (exposure check on periodic sync, notification clicks): Workbox's
// generated worker imports build/sw-exposure.js. Bundled here because Vite builds no worker entry.
await build({
  entryPoints: ['src/lib/client/sw-exposure.ts'],
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  format: 'iife',
  alias: { $lib: './src/lib' },
  // Paraglide reads import.meta.env.SSR, which a classic worker script has not: let it fall back to its own test.
  define: { 'import.meta.env': '{}' },
  minify: true,
  outfile: 'build/sw-exposure.js',
  logLevel: 'warning'
});
