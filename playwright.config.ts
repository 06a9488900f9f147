import { defineConfig } from '@playwright/test';

// Overridable so that several checkouts can run their browser tests side by side.
export const E2E_PORT = Number(process.env.E2E_PORT ?? 3107);
/** The demo commune team's password on the test server (server/demo.ts seedDemoTeam). */
export const DEMO_TEAM_PASSWORD = 'to-covid-thu-nghiem';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
];

export default defineConfig({
  testDir: 'tests/e2e',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://localhost:${E2E_PORT}`,
    viewport: { width: 390, height: 844 },
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
    serviceWorkers: 'allow',
    trace: 'off'
  },
  webServer: {
    // A fresh data directory each run: the demo venues are seeded and signed anew.
    command: `rm -rf tmp/e2e-data && node dist/server.mjs`,
    env: { PORT: String(E2E_PORT), DATA_DIR: 'tmp/e2e-data', PUBLIC_ORIGIN: `http://localhost:${E2E_PORT}`, LOG: '0', DEMO_TEAM_PASSWORD },
    url: `http://localhost:${E2E_PORT}/api/health`,
    reuseExistingServer: false,
    timeout: 60_000
  }
});
