import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The same `$lib` as SvelteKit, so modules shared with the PWA import alike in tests.
  resolve: { alias: { $lib: fileURLToPath(new URL('./src/lib', import.meta.url)) } },
  test: {
    include: ['src/**/*.test.ts', 'server/**/*.test.ts', 'tests/integration/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // The fault tests kill servers under real PouchDB clients, and PouchDB's HTTP adapter leaves a
    // rejection of its own unhandled when a connection is reset at that moment (the replication
    // itself fails and is retried by the test). Only that error is let pass; anything else fails the run.
    onUnhandledError(error) {
      const { name, code, message } = error as Error & { code?: string };
      if (name === 'FetchError' && (code === 'ECONNRESET' || code === 'ECONNREFUSED') && /\/sync\//.test(message)) return false;
    }
  }
});
