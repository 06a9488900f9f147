import { sveltekit } from '@sveltejs/kit/vite';
import { SvelteKitPWA } from '@vite-pwa/sveltekit';
import { paraglideVitePlugin } from '@inlang/paraglide-js';
import { defineConfig, type Plugin } from 'vite';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

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
  const isNode = (key: string) => /client-optimized\/nodes\/\d+\.js$/.test(key);
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
      // The app's router imports every page lazily (from the entry, or the shell chunk that holds
      // it): pages are classed by their own node, or every page would be "citizen".
      const lazy = (chunk.dynamicImports ?? []).filter((next) => !isNode(next));
      for (const next of [...(chunk.imports ?? []), ...lazy]) visit(next);
    };
    roots.forEach(visit);
    return files;
  };
  const isEntry = (key: string) => key.endsWith('client-optimized/app.js') || key.endsWith('client/entry.js');
  const roots = Object.keys(manifest).filter((k) => isNode(k) || isEntry(k));
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


/**
 * Every page loads the app's entry and the root layout, and everything they import statically; the
 * cold check-in link also loads its page's static imports before the visit is saved. Rollup splits
 * that code by which pages share each module, into about fifty files, most of a few hundred bytes;
 * on a slow link each file costs at least a packet's time of its own (Chromium's throttling counts
 * whole 1,500-byte packets per response, as a radio link does). So two chunks instead: the shell
 * every page loads anyway, so grouping it costs no page a byte, and the check-in page's own imports
 * beyond it (which the scanner and the diary share). Client build only.
 *
 * Rollup puts into a manual chunk every static dependency of its modules that no other manual chunk
 * holds, barrels included: Paraglide's message barrels re-export every message of the app, so every
 * message gets a manual chunk of its own kind, grouped by the set of pages and lazy modules that use
 * it, as Rollup's own splitting would group them. A module uses a message as `m.<key>` or by name.
 * `LV_CHUNK_DEBUG=<file> npm run build` writes each client chunk's modules and sizes to <file>.
 */
function pathChunks(): Plugin {
  let ssr = false;
  const root = process.cwd();
  const SHELL_ROOTS = [/\/\.svelte-kit\/generated\/client-optimized\/app\.js$/, /\/@sveltejs\/kit\/src\/runtime\/client\/entry\.js$/, /\/\.svelte-kit\/generated\/client-optimized\/nodes\/0\.js$/];
  const CHECKIN_PAGE = `${root}/src/routes/c/+page.svelte`;
  const MESSAGE_BARREL = /\/paraglide\/messages(\.js|\/_index\.js)$/;
  const MESSAGE = /\/paraglide\/messages\/(\w+)\.js$/;
  const NAMED_IMPORT = /import\s*\{([^}]*)\}\s*from\s*["'][^"']*paraglide\/messages(?:\.js|\/_index\.js)["']/g;
  type Info = (id: string) => { importedIds: readonly string[]; dynamicImporters: readonly string[]; isEntry: boolean; code: string | null } | null;
  const messagesUsed = (code: string) => {
    const keys = new Set<string>();
    for (const [, key = ''] of code.matchAll(/\bm\.(\w+)\b/g)) keys.add(key);
    for (const [, names = ''] of code.matchAll(NAMED_IMPORT)) for (const name of names.split(',')) keys.add(name.trim().split(/\s+as\s+/)[0] ?? '');
    return keys;
  };
  /** Modules loaded with `roots`, following static imports; a message barrel leads to the messages used. */
  const closure = (roots: string[], info: Info, skip: Set<string> = new Set()) => {
    const seen = new Set<string>();
    const stack = [...roots];
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id) || skip.has(id)) continue;
      const module = info(id);
      if (!module) continue;
      seen.add(id);
      for (const next of module.importedIds) {
        if (!MESSAGE_BARREL.test(next)) stack.push(next);
        else for (const key of messagesUsed(module.code ?? '')) stack.push(`${root}/src/lib/paraglide/messages/${key}.js`);
      }
    }
    return seen;
  };
  let assigned: Map<string, string> | null = null;
  const assign = (ids: string[], info: Info) => {
    const shell = closure(ids.filter((m) => SHELL_ROOTS.some((re) => re.test(m))), info);
    const checkin = closure([CHECKIN_PAGE], info, shell);
    const chunks = new Map<string, string>();
    for (const m of shell) chunks.set(m, 'shell');
    for (const m of checkin) chunks.set(m, 'checkin');
    // Every other message: grouped by the entries and lazy modules that load it.
    const users = new Map<string, string[]>();
    ids.forEach((entry, n) => {
      const module = info(entry);
      if (!module || !(module.isEntry || module.dynamicImporters.length > 0)) return;
      for (const m of closure([entry], info)) if (MESSAGE.test(m) && !chunks.has(m)) users.set(m, [...(users.get(m) ?? []), String(n)]);
    });
    for (const m of ids) if (MESSAGE.test(m) && !chunks.has(m)) chunks.set(m, `messages-${users.get(m)?.join('.') ?? 'unused'}`);
    return chunks;
  };
  return {
    name: 'lv-path-chunks',
    apply: 'build',
    configResolved(config) {
      ssr = Boolean(config.build.ssr);
    },
    outputOptions(options) {
      if (ssr) return null;
      return {
        ...options,
        manualChunks(id, { getModuleIds, getModuleInfo }) {
          assigned ??= assign([...getModuleIds()], getModuleInfo);
          return assigned.get(id) ?? null;
        }
      };
    },
    generateBundle(_options, bundle) {
      if (ssr || !process.env.LV_CHUNK_DEBUG) return;
      const lines: string[] = [];
      for (const out of Object.values(bundle)) {
        if (out.type !== 'chunk') continue;
        const mods = Object.entries(out.modules).sort((x, y) => y[1].renderedLength - x[1].renderedLength);
        const total = mods.reduce((n, [, m]) => n + m.renderedLength, 0);
        lines.push(`${total}\t${out.fileName}\t${mods.map(([id, m]) => `${id.replace(root, '')}:${m.renderedLength}`).join(' ')}`);
      }
      writeFileSync(process.env.LV_CHUNK_DEBUG, lines.join('\n'));
    }
  };
}

export default defineConfig({
  plugins: [
    browserOnlyOnServer(),
    pathChunks(),
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
