// `npm test`: the whole suite. Types, unit and integration tests (Vitest), a production build,
// then the browser tests (Playwright driving Debian's Chromium with a fake camera).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function run(cmd, args, opts = {}) {
  console.log(`\n▶ ${cmd} ${args.join(' ')}`);
  const result = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  return result.status ?? 1;
}

/** Debian packages the suite needs: Chromium for the browser tests, poppler for rendering poster PDFs. */
function ensureSystemPackages() {
  const missing = [];
  if (!existsSync(CHROMIUM)) missing.push('chromium');
  if (!existsSync('/usr/bin/pdftoppm') || !existsSync('/usr/bin/pdftotext')) missing.push('poppler-utils');
  if (missing.length === 0) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && existsSync('/usr/bin/apt-get')) {
    console.log(`Missing ${missing.join(' and ')}: installing Debian's packages (once).`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (run('apt-get', ['update', '-qq'], { env }) === 0 && run('apt-get', ['install', '-y', '-qq', ...missing], { env }) === 0) return;
  }
  console.error(
    `The tests need ${missing.join(' and ')}.\n` +
      `Install with:  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}\n` +
      (missing.includes('chromium') ? `(or point CHROMIUM_PATH at a Chromium binary)\n` : '')
  );
  process.exit(1);
}

function counts(file, pick) {
  try {
    return pick(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return { passed: 0, failed: 0, skipped: 0 };
  }
}

rmSync('tmp/results', { recursive: true, force: true });
mkdirSync('tmp/results', { recursive: true });
ensureSystemPackages();

const steps = [];
// The message functions are generated (Paraglide); type-checking needs them before the first build.
steps.push(['types', run('npx', ['svelte-kit', 'sync']) || run('npm', ['run', 'i18n', '--silent']) || run('npx', ['svelte-check', '--tsconfig', './tsconfig.json', '--threshold', 'error', '--fail-on-warnings'])]);
steps.push(['unit + integration', run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', '--outputFile.json=tmp/results/vitest.json'])]);
steps.push(['build', run('npm', ['run', 'build', '--silent'])]);
const built = steps.at(-1)[1] === 0;
if (built) {
  steps.push([
    'browser',
    run('npx', ['playwright', 'test', '--reporter=list,json'], { env: { ...process.env, PLAYWRIGHT_JSON_OUTPUT_NAME: 'tmp/results/playwright.json', CHROMIUM_PATH: CHROMIUM } })
  ]);
}

const unit = counts('tmp/results/vitest.json', (r) => ({ passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + r.numTodoTests }));
const e2e = counts('tmp/results/playwright.json', (r) => ({ passed: r.stats.expected, failed: r.stats.unexpected + r.stats.flaky, skipped: r.stats.skipped }));
const failedSteps = steps.filter(([, status]) => status !== 0).map(([name]) => name);
console.log('\n' + steps.map(([name, status]) => `${status === 0 ? '✓' : '✗'} ${name}`).join('\n'));
if (!built) console.log('✗ browser (not run: the build failed)');
const failed = unit.failed + e2e.failed + (failedSteps.length > 0 && unit.failed + e2e.failed === 0 ? 1 : 0);
console.log(`\nunit+integration: ${unit.passed} passed, browser: ${e2e.passed} passed`);
console.log(`${unit.passed + e2e.passed} passed, ${failed} failed, ${unit.skipped + e2e.skipped} skipped`);
process.exit(failedSteps.length > 0 || !built ? 1 : 0);
