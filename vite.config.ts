import { sveltekit } from '@sveltejs/kit/vite';
import { SvelteKitPWA } from '@vite-pwa/sveltekit';
import { paraglideVitePlugin } from '@inlang/paraglide-js';
import { defineConfig } from 'vite';

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
      workbox: {
        clientsClaim: true,
        // The shell and every route's code, the ZXing wasm for the scanner and fonts: all needed offline.
        globPatterns: ['client/**/*.{js,css,html,wasm,svg,png,ico,webmanifest,woff2}', 'prerendered/**/*.html'],
        maximumFileSizeToCacheInBytes: 3 * 1024 * 1024,
        // Routes have their own precached shells ("/c", "/scan"…); any other path gets the home shell,
        // which routes in the browser like every page of this SPA.
        navigateFallback: '/',
        navigateFallbackDenylist: [/^\/api\//, /^\/sync\//]
      }
    })
  ],
  server: { port: 5173 }
});
