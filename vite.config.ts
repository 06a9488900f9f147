import { sveltekit } from '@sveltejs/kit/vite';
import { SvelteKitPWA } from '@vite-pwa/sveltekit';
import { paraglideVitePlugin } from '@inlang/paraglide-js';
import { defineConfig, type Plugin } from 'vite';
import { existsSync, readFileSync } from 'node:fs';

/**
 * Pages left to the runtime cache: those of venue owners, commune teams and officials (a few hundred people per
 * commune, not its citizens); the citizen's profile and declaration forms, which pick units from the
 * directory replica and so need PouchDB, itself never precached; and the demo pages, which read
 * `/api/demo` and are useless offline. The personal QR page (/me), the diary and its sharing, and
 * every check-in page stay precached.
 */
const LAZY_ROUTES = ['venue', 'team', 'admin', 'me/edit', 'me/declare', 'demo', 'posters'];
const alternatives = LAZY_ROUTES.map((r) => r.replace('/', '\\/')).join('|');
/** Their page components in SvelteKit's generated nodes. */
const ROLE_ROUTES = new RegExp(`src\\/routes\\/(${alternatives})\\/`);
/**
 * Their prerendered shells ("venue/edit" for venue/edit.html): through the service worker a
 * navigation there gets the empty SPA shell instead (navigateFallback, 200.html), which routes in the
 * browser all the same.
 */
const ROLE_SHELLS = new RegExp(`^(${alternatives})(\\/.*)?$`);

interface ManifestChunk {
  file: string;
  imports?: string[];
  dynamicImports?: string[];
  css?: string[];
}

/**
 * Files only the owner and team pages use: their page chunks, what those import that no citizen page
 * does, and the heavy libraries (pdf-lib for posters, PouchDB for shared replicas, found by content
 * since chunk names are only hashes). Citizens, most of the users, never download them: the 2 MB
 * precache is for the citizen's app. The role pages preload them once signed in, and the runtime
 * cache keeps them for offline use.
 */
function roleOnlyFiles(): Set<string> {
  const dir = '.svelte-kit/output/client';
  const manifestFile = `${dir}/.vite/manifest.json`;
  if (!existsSync(manifestFile)) return new Set();
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, ManifestChunk>;
  const isRoleNode = (key: string) => {
    const node = /client-optimized\/nodes\/\d+\.js$/.test(key) && existsSync(key) ? readFileSync(key, 'utf8') : '';
    return ROLE_ROUTES.test(node);
  };
  const closure = (roots: string[]) => {
    const seen = new Set<string>();
    const files = new Set<string>();
    const visit = (key: string) => {
      if (seen.has(key)) return;
      seen.add(key);
      const chunk = manifest[key];
      if (!chunk) return;
      files.add(chunk.file);
      for (const css of chunk.css ?? []) files.add(css);
      // The app entry imports every page lazily: follow its static imports only, or every page is "citizen".
      const lazy = isEntry(key) ? [] : (chunk.dynamicImports ?? []);
      for (const next of [...(chunk.imports ?? []), ...lazy]) visit(next);
    };
    roots.forEach(visit);
    return files;
  };
  const isEntry = (key: string) => key.endsWith('client-optimized/app.js') || key.endsWith('client/entry.js');
  const roots = Object.keys(manifest).filter((k) => /client-optimized\/nodes\/\d+\.js$/.test(k) || isEntry(k));
  const citizen = closure(roots.filter((k) => !isRoleNode(k)));
  const role = closure(roots.filter(isRoleNode));
  const out = new Set([...role].filter((f) => !citizen.has(f)));
  for (const chunk of Object.values(manifest)) {
    if (!chunk.file.endsWith('.js')) continue;
    const code = readFileSync(`${dir}/${chunk.file}`, 'utf8');
    if (code.includes('PDFDocument') || code.includes('PouchDB')) out.add(chunk.file);
  }
  return out;
}

/**
 * @vite-pwa/sveltekit fills `manifestTransforms` with its own transform (which maps build paths to
 * URLs) only when none is given, and it writes it onto this very object: a setter appends our filter
 * after it, instead of replacing it.
 */
function withRoleChunksLeftOut<T extends object>(workbox: T): T {
  type Transform = (entries: { url: string }[]) => Promise<{ manifest: { url: string }[]; warnings?: string[] }>;
  let transforms: Transform[] | undefined;
  const dropRoleChunks: Transform = async (entries) => {
    const roleOnly = roleOnlyFiles();
    const lazy = (url: string) => roleOnly.has(url) || ROLE_SHELLS.test(url);
    return { manifest: entries.filter((entry) => !lazy(entry.url.replace(/^\//, ''))), warnings: [] };
  };
  return Object.defineProperty(workbox, 'manifestTransforms', {
    enumerable: true,
    get: () => transforms,
    set: (value: Transform[] | undefined) => {
      transforms = value ? [...value, dropRoleChunks] : value;
    }
  });
}

/**
 * Entry screens are prerendered with their HTML (their +page.ts sets ssr), so their modules run once
 * in Node at build time. PouchDB's browser build reads `self` as it loads; no page renders a replica
 * on the server (they open in onMount), so the server build gets a stand-in that fails if used.
 */
function browserOnlyOnServer(): Plugin {
  const stub = '\0lv-browser-only';
  return {
    name: 'lv-browser-only-on-server',
    enforce: 'pre',
    resolveId(id, _importer, options) {
      return options?.ssr && id === 'pouchdb-browser' ? stub : null;
    },
    load(id) {
      if (id !== stub) return null;
      return "export default class PouchDB { constructor() { throw new Error('PouchDB runs in the browser only'); } static plugin() {} }";
    }
  };
}

export default defineConfig({
  plugins: [
    browserOnlyOnServer(),
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
      // adapter-static's fallback (svelte.config.js) is an empty shell that routes by the URL; it is
      // written after the service worker's files are globbed, so it enters the precache by name,
      // its revision taken from the build's version.
      kit: { adapterFallback: '200.html', spa: true },
      workbox: withRoleChunksLeftOut({
        clientsClaim: true,
        // Exposure check on periodic background sync, and notification clicks (src/lib/client/sw-exposure.ts).
        importScripts: ['/sw-exposure.js'],
        // The shell and every route's code, the ZXing wasm for the scanner and fonts: all needed offline.
        globPatterns: ['client/**/*.{js,css,html,wasm,svg,png,ico,webmanifest,woff2}', 'prerendered/**/*.html'],
        maximumFileSizeToCacheInBytes: 3 * 1024 * 1024,
        // Citizen routes have their own precached pages ("/c", "/scan"…), prerendered with their
        // HTML; any other path gets the empty SPA shell, which routes in the browser. Not the home
        // page: it carries the home screen's own HTML and would hydrate as home on /team/report.
        navigateFallback: '/200.html',
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
