#!/usr/bin/env node
/**
 * Poster PDF benchmark: seconds to build one PDF of 200 venue posters (A4, one page each) in the
 * browser, as a commune team would for every venue of a commune, with the same module the app loads
 * (src/lib/client/poster-pdf.ts, bundled by esbuild) in headless Chromium.
 *
 * The 200 venues carry real signed check-in URLs (signed in the page before the clock starts) and
 * Vietnamese names of 11 to 80 characters. The fonts are fetched from a local server and passed in,
 * as the app fetches its own copies. Three runs; prints the median, the PDF's size, the longest time
 * the page's main thread was blocked (what the progress bar cannot hide), then one line
 * `RESULT {json}` for scripts.
 *
 * Usage: node bench/poster.mjs   (CHROMIUM=path overrides /usr/bin/chromium)
 */
import { PDFDocument } from 'pdf-lib';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { bundleCode, chromiumPath, failer, launchChromium, median, openBenchPage, origin, pageHtml, printResult, serveFiles } from './lib.mjs';

const VENUES = 200;
const RUNS = 3;
const SIZE = 'A4';
// A run takes seconds; the limit only turns a hang into an error.
const BENCH_TIMEOUT_MS = 300_000;

const require = createRequire(import.meta.url);
const fontDir = path.dirname(require.resolve('@expo-google-fonts/be-vietnam-pro/package.json'));
const FONTS = {
  '/fonts/regular.ttf': path.join(fontDir, '400Regular/BeVietnamPro_400Regular.ttf'),
  '/fonts/bold.ttf': path.join(fontDir, '700Bold/BeVietnamPro_700Bold.ttf')
};

const fail = failer('poster');

// The page: sign the venues, fetch the fonts, then time buildPosterPdf. Everything else stays out of the clock.
const ENTRY = `
import { buildPosterPdf } from './src/lib/client/poster-pdf.ts';
import { checkinUrl } from './src/lib/core/venue/venue-token.ts';
import { newSigningKey, signVenueToken } from './src/lib/core/venue/venue-signing.ts';
import { VENUE_TYPES } from './src/lib/core/venue/venue.ts';

const PLACES = ['Nhà văn hóa thôn Trung Tiến', 'Chợ', 'Trường Tiểu học', 'Trạm Y tế', 'Quán cà phê', 'Nhà thờ giáo xứ', 'Cửa hàng tạp hóa Hương Lý', 'Xe khách Đức Thọ – Hà Tĩnh'];
const COMMUNES = ['xã Đức Lạng', 'thị trấn Đức Thọ', 'xã Tùng Ảnh', 'xã Quang Vĩnh', 'xã Yên Hồ'];

function venues(count) {
  const key = newSigningKey('1001');
  const list = [];
  for (let i = 0; i < count; i++) {
    const commune = COMMUNES[i % COMMUNES.length];
    // Names from 11 to 80 characters: the long ones wrap and take a version 11 QR.
    const name = (PLACES[i % PLACES.length] + ' số ' + (i + 1) + (i % 3 === 0 ? ', ' + commune + ', huyện Đức Thọ, tỉnh Hà Tĩnh, Việt Nam' : '')).slice(0, 80).trim();
    const venueId = ('bench' + i.toString(32).padStart(7, 'a')).replace(/[^a-z2-7]/g, 'a').slice(0, 12);
    const venueType = VENUE_TYPES[i % VENUE_TYPES.length];
    const token = signVenueToken({ venueId, name, communeCode: '18118', venueType }, key);
    list.push({
      name,
      venueType,
      address: 'Thôn ' + ((i % 12) + 1),
      communeLabel: commune[0].toUpperCase() + commune.slice(1) + ', Huyện Đức Thọ, Tỉnh Hà Tĩnh',
      url: checkinUrl('https://luuvet.example.vn', token),
      fallbackUrl: 'luuvet.example.vn/v/' + venueId
    });
  }
  return list;
}

async function bytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(url + ': HTTP ' + res.status);
  return new Uint8Array(await res.arrayBuffer());
}

window.runPosterBench = async (count, size) => {
  const list = venues(count);
  const fonts = { regular: await bytes('/fonts/regular.ttf'), bold: await bytes('/fonts/bold.ttf') };
  // The longest gap between two timer ticks while building: how long the page could not respond.
  let longest = 0;
  let last = performance.now();
  let ticking = true;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (ticking) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  let progressCalls = 0;
  let lastProgress = null;
  const start = performance.now();
  const pdf = await buildPosterPdf(list, { size, lang: 'vi', fonts, onProgress: (done, total) => { progressCalls++; lastProgress = [done, total]; } });
  const ms = performance.now() - start;
  ticking = false;
  tick();
  let binary = '';
  for (let i = 0; i < pdf.length; i += 0x8000) binary += String.fromCharCode(...pdf.subarray(i, i + 0x8000));
  return { ms, longestBlockMs: longest, progressCalls, lastProgress, pdfBase64: btoa(binary) };
};
`;

function bundle() {
  return bundleCode(ENTRY, 'poster-bench-entry.js', {
    loader: 'js',
    target: 'es2022',
    logLevel: 'silent',
    plugins: [
      {
        // Vite's `?url` font imports: the bench passes the fonts itself, so they are never loaded.
        name: 'vite-url-stub',
        setup(b) {
          b.onResolve({ filter: /\?url$/ }, (args) => ({ path: args.path, namespace: 'url-stub' }));
          b.onLoad({ filter: /.*/, namespace: 'url-stub' }, () => ({ contents: 'export default "";', loader: 'js' }));
        }
      }
    ]
  });
}

let script;
try {
  script = await bundle();
} catch (err) {
  fail(`could not bundle src/lib/client/poster-pdf.ts: ${err.message}`);
}
const server = await serveFiles({
  '/': ['text/html; charset=utf-8', pageHtml('/bench.js')],
  '/bench.js': ['text/javascript; charset=utf-8', script],
  ...Object.fromEntries(Object.entries(FONTS).map(([url, file]) => [url, ['font/ttf', fs.readFileSync(file)]]))
});
const browser = await launchChromium().catch((err) => fail(err.message));
const timer = setTimeout(() => fail(`no result after ${BENCH_TIMEOUT_MS / 1000} s`), BENCH_TIMEOUT_MS);

let status = 0;
try {
  const page = await openBenchPage(browser, origin(server), 'runPosterBench');

  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const run = await page.evaluate(([count, size]) => window.runPosterBench(count, size), [VENUES, SIZE]);
    const pdf = Buffer.from(run.pdfBase64, 'base64');
    const doc = await PDFDocument.load(pdf);
    const pages = doc.getPages();
    if (pages.length !== VENUES) throw new Error(`run ${i + 1}: ${pages.length} pages, expected ${VENUES}`);
    const [w, h] = [pages[0].getWidth(), pages[0].getHeight()];
    if (w !== 595.28 || h !== 841.89) throw new Error(`run ${i + 1}: page size ${w}×${h}, expected A4 595.28×841.89`);
    if (run.lastProgress?.[0] !== VENUES) throw new Error(`run ${i + 1}: progress ended at ${JSON.stringify(run.lastProgress)}`);
    runs.push({ seconds: run.ms / 1000, bytes: pdf.length, longestBlockMs: run.longestBlockMs, progressCalls: run.progressCalls });
    console.log(`run ${i + 1}: ${(run.ms / 1000).toFixed(2)} s, ${pdf.length} bytes, main thread blocked at most ${Math.round(run.longestBlockMs)} ms`);
  }

  const seconds = median(runs.map((r) => r.seconds));
  const pdfBytes = runs.at(-1).bytes;
  const longestBlockMs = Math.round(Math.max(...runs.map((r) => r.longestBlockMs)));
  console.log(`\n${VENUES} venues, ${SIZE}, in ${path.basename(chromiumPath)} (headless)`);
  console.log(`median        ${seconds.toFixed(2)} s  (${((seconds * 1000) / VENUES).toFixed(1)} ms a page)`);
  console.log(`PDF           ${pdfBytes} bytes  (${Math.round(pdfBytes / VENUES)} bytes a page, fonts included)`);
  console.log(`longest block ${longestBlockMs} ms  (the page cannot respond for that long; progress updates ${runs[0].progressCalls} times)`);
  printResult({ poster: { venues: VENUES, medianSeconds: Number(seconds.toFixed(3)), pdfBytes, bytesPerPage: Math.round(pdfBytes / VENUES), longestBlockMs } });
} catch (err) {
  console.error(`poster bench: ${err instanceof Error ? err.message : err}`);
  status = 1;
} finally {
  clearTimeout(timer);
  await browser.close();
  server.close();
}
process.exit(status);
