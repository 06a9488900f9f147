import { sveltekit } from '@sveltejs/kit/vite';
import { SvelteKitPWA } from '@vite-pwa/sveltekit';
import { paraglideVitePlugin } from '@inlang/paraglide-js';
import { defineConfig } from 'vite';
import { existsSync, readFileSync } from 'node:fs';

/**
 * Chunks for venue owners and teams only: pdf-lib (posters) and PouchDB (shared replicas). Found by
 * content, since chunk names are only hashes. Citizens, most of the users, never download them; the
 * venue pages preload them once signed in, and the runtime cache keeps them for offline use.
 */
function isRoleChunk(url: string): boolean {
  if (!url.endsWith('.js')) return false;
  const file = `.svelte-kit/output/client/${url.replace(/^\//, '')}`;
  if (!existsSync(file)) return false;
  const code = readFileSync(file, 'utf8');
  return code.includes('PDFDocument') || code.includes('PouchDB');
}

/**
 * @vite-pwa/sveltekit fills `manifestTransforms` with its own transform (which maps build paths to
 * URLs) only when none is given, and it writes it onto this very object: a setter appends our filter
 * after it, instead of replacing it.
 */
function withRoleChunksLeftOut<T extends object>(workbox: T): T {
  type Transform = (entries: { url: string }[]) => Promise<{ manifest: { url: string }[]; warnings?: string[] }>;
  let transforms: Transform[] | undefined;
  const dropRoleChunks: Transform = async (entries) => ({ manifest: entries.filter((entry) => !isRoleChunk(entry.url)), warnings: [] });
  return Object.defineProperty(workbox, 'manifestTransforms', {
    enumerable: true,
    get: () => transforms,
    set: (value: Transform[] | undefined) => {
      transforms = value ? [...value, dropRoleChunks] : value;
    }
  });
}

export default defineConfig({
  plugins: [
    paraglideVitePlugin({
      project: './project.inlang',
      outdir: './src/lib/paraglide',
      // Vietnamese unless the person chose English on this device; the choice sticks.
      // (`npm run i18n` compiles the same for type-checking before a build: keep the two in step.)
      strategy: ['localStorage', 'baseLocale'],
      emitGitIgnore: false
    }),
    sveltekit(),
    SvelteKitPWA({
      registerType: 'prompt',
      injectRegister: false,
      strategies: 'generateSW',
      manifest: false, // static/manifest.webmanifest, linked from app.html
      workbox: withRoleChunksLeftOut({
        clientsClaim: true,
        // The shell and every route's code, the ZXing wasm for the scanner and fonts: all needed offline.
        globPatterns: ['client/**/*.{js,css,html,wasm,svg,png,ico,webmanifest,woff2}', 'prerendered/**/*.html'],
        maximumFileSizeToCacheInBytes: 3 * 1024 * 1024,
        // Routes have their own precached shells ("/c", "/scan"…); any other path gets the home shell,
        // which routes in the browser like every page of this SPA.
        navigateFallback: '/',
        // Pages read their query (?c=…&id=…) in the browser: the shell is the same for any query.
        ignoreURLParametersMatching: [/.*/],
        navigateFallbackDenylist: [/^\/api\//, /^\/sync\//],
        runtimeCaching: [
          {
            urlPattern: ({ url }: { url: URL }) => url.pathname.startsWith('/_app/immutable/'),
            handler: 'CacheFirst' as const,
            // Hashed files never change: what was fetched once (role chunks, poster fonts) serves offline.
            options: { cacheName: 'lv-lazy-assets', expiration: { maxEntries: 80 } }
          }
        ]
      }),
    })
  ],
  server: { port: 5173 }
});
