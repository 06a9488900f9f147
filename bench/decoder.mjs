#!/usr/bin/env node
/**
 * QR decoder benchmark: how many pictures of the ZXing photo corpus (../shared/qr-corpus/zxing)
 * each decoder reads exactly, and how long one decode takes, side by side in headless Chromium:
 *
 *   app          the `barcode-detector` ponyfill (ZXing-C++ WebAssembly), as the app uses it
 *   html5qrcode  the zxing-js decoder built into html5-qrcode 2.3.8 (its own, used without a BarcodeDetector)
 *
 * Both decoders read the same canvas per picture (bench/decoder-page.ts).
 *
 * Then at camera conditions: each picture fitted whole (letterboxed) into a 640×480 and a 1280×720
 * frame, and read as the live scanner reads a frame:
 *
 *   today      html5-qrcode 2.3.8 as the app ran it: its box (0.7 of the view, at least 160 px)
 *              redrawn at CSS size on a 390 px phone, BarcodeDetector (ZXing-C++), then zxing-js mirrored
 *   new        the app's own frame reader (src/lib/client/scanner/decode.ts, bundled as it is) on the
 *              frame as an I420 VideoFrame (as the camera gives it): the scan box of the square view
 *              at video pixels, one reader pass a frame until one reads
 *   zxing-js   html5-qrcode's decoder on the new box: would keeping it add reads?
 *   reference  ZXing-C++ at its best settings on the whole 1280×720 frame (every option, each binarizer)
 *
 * Prints tables, then one line `RESULT {json}` for scripts. Usage: node bench/decoder.mjs
 * (CHROMIUM=path overrides /usr/bin/chromium, QR_CORPUS=dir the corpus, BOX_SHARE=0..1 tries another
 * scan box size than the app's).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, bundleCode, failer, launchChromium, median, openBenchPage, origin, pageHtml, percentile, printResult, serveFiles, tableRow, withTimeout } from './lib.mjs';

// QR_CORPUS overrides the place (a git worktree has no ../shared beside it).
const corpusDir = path.resolve(process.env.QR_CORPUS ?? path.resolve(ROOT, '../shared/qr-corpus/zxing'));
// The same wasm file the app serves (src/lib/client/scanner.ts imports it from `zxing-wasm`), so
// the bench measures what users get; keep the two in step.
const wasmPath = createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm');
// A run takes seconds (small pictures); the limit only turns a hang into an error.
const BENCH_TIMEOUT_MS = 150_000;
// The camera run decodes every picture several times over, the reference on whole HD frames.
const CAMERA_TIMEOUT_MS = 900_000;
/** BOX_SHARE tries another scan box size than the app's (src/lib/core/scan-frame.ts SCAN_BOX_SHARE). */
const boxShare = process.env.BOX_SHARE ? Number(process.env.BOX_SHARE) : undefined;
const IMAGE_TYPES = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.bmp': 'image/bmp' };
const DECODERS = [
  ['app', 'app (ZXing-C++ wasm)'],
  ['html5qrcode', 'html5-qrcode (zxing-js)']
];

const fail = failer('decoder');

/** Every picture with a sibling N.txt, in a stable order (folder, then number). */
function listPictures() {
  const pictures = [];
  for (const dir of fs.readdirSync(corpusDir, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const file of fs.readdirSync(path.join(corpusDir, dir.name))) {
      const ext = path.extname(file).toLowerCase();
      if (!(ext in IMAGE_TYPES)) continue;
      const base = file.slice(0, -ext.length);
      const txt = path.join(corpusDir, dir.name, `${base}.txt`);
      // No text file means no single expected answer (multi-qrcode-1 holds several codes).
      if (!fs.existsSync(txt)) continue;
      pictures.push({ name: `${dir.name}/${file}`, expected: fs.readFileSync(txt, 'utf8') });
    }
  }
  return pictures.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

/**
 * Exact match, with one allowance. The .txt files are the expected texts of ZXing's own tests,
 * which compare them byte for byte, and most have no trailing newline; the few that do
 * (qrcode-3/18-25 end in CRLF, qrcode-5/16-19 in LF) end that way because the code itself holds
 * that line break. Still, in case a file got a newline added by an editor, a decoded text that
 * lacks one is accepted when it equals the expected text minus a single trailing "\n" or "\r\n".
 * `judge` counts how often that allowance was needed, so it cannot hide anything.
 */
function judge(texts, expected) {
  if (texts.includes(expected)) return 'exact';
  const trimmed = expected.replace(/\r?\n$/, '');
  if (trimmed !== expected && texts.some((text) => text === trimmed)) return 'newline';
  return 'miss';
}

/** Serves the page, its bundle, the wasm and the corpus pictures; nothing else. */
async function serve() {
  return serveFiles(
    {
      '/': ['text/html', pageHtml('/decoder-page.js')],
      '/decoder-page.js': ['text/javascript', await bundleCode("import './bench/decoder-page.ts';", 'decoder-bench-entry.ts')],
      // application/wasm lets Chromium compile while streaming, as it would for the app.
      '/zxing_reader.wasm': ['application/wasm', fs.readFileSync(wasmPath)]
    },
    (pathname) => {
      if (!pathname.startsWith('/corpus/')) return null;
      const file = path.resolve(corpusDir, decodeURIComponent(pathname.slice('/corpus/'.length)));
      const type = IMAGE_TYPES[path.extname(file).toLowerCase()];
      // Only pictures inside the corpus, whatever the URL says.
      return type && file.startsWith(corpusDir + path.sep) && fs.existsSync(file) ? [type, fs.readFileSync(file)] : null;
    }
  );
}

/** Runs the bench page; `consoleErrors` collects each distinct console error with its count. */
async function runInBrowser(base, pictures, consoleErrors) {
  const browser = await launchChromium();
  try {
    const page = await openBenchPage(browser, `${base}/`, 'decoderBench', (p) => {
      // The ponyfill logs the real cause (e.g. a wasm trap) and throws a generic DOMException, so
      // the console is where a failing app decoder explains itself; once per message is enough.
      p.on('console', (msg) => {
        if (msg.type() === 'error') consoleErrors.set(msg.text(), (consoleErrors.get(msg.text()) ?? 0) + 1);
      });
    });
    const urls = pictures.map((p) => `${base}/corpus/${p.name.split('/').map(encodeURIComponent).join('/')}`);
    const natural = await withTimeout(
      page.evaluate(([wasmUrl, pictureUrls]) => window.decoderBench.run(wasmUrl, pictureUrls), [`${base}/zxing_reader.wasm`, urls]),
      BENCH_TIMEOUT_MS,
      'decoding'
    );
    // A fresh page, so the camera run's decoders start as cold as the app's.
    await page.close();
    const cameraPage = await openBenchPage(browser, `${base}/`, 'decoderBench');
    const camera = await withTimeout(
      cameraPage.evaluate(([wasmUrl, pictureUrls, share]) => window.decoderBench.runCamera(wasmUrl, pictureUrls, share), [`${base}/zxing_reader.wasm`, urls, boxShare]),
      CAMERA_TIMEOUT_MS,
      'decoding camera frames'
    );
    return { ...natural, camera };
  } finally {
    await browser.close();
  }
}

function summarise(pictures, outcome) {
  const summary = {};
  for (const [key] of DECODERS) {
    const verdicts = pictures.map((p, i) => judge(outcome.pictures[i][key].texts, p.expected));
    const times = outcome.pictures.map((o) => o[key].ms);
    const decoded = verdicts.filter((v) => v !== 'miss').length;
    summary[key] = {
      decoded,
      total: pictures.length,
      share: Number(((100 * decoded) / pictures.length).toFixed(1)),
      medianMs: Number(median(times).toFixed(2)),
      p90Ms: Number(percentile(times, 90).toFixed(2)),
      verdicts,
      newlineAllowance: verdicts.filter((v) => v === 'newline').length,
      errors: outcome.pictures.flatMap((o, i) => (o[key].error ? [{ name: pictures[i].name, error: o[key].error }] : []))
    };
  }
  return summary;
}

function report(pictures, outcome, summary) {
  const widths = [28, 10, 9, 12, 8];
  console.log(`QR decoding, ${pictures.length} pictures from ${corpusDir}`);
  console.log(`Chromium headless; pictures drawn on a canvas at natural size (long side capped at 1600 px)\n`);
  console.log(tableRow(['decoder', 'decoded', 'share', 'median ms', 'p90 ms'], widths));
  for (const [key, label] of DECODERS) {
    const s = summary[key];
    console.log(tableRow([label, `${s.decoded}/${s.total}`, `${s.share.toFixed(1)} %`, s.medianMs.toFixed(1), s.p90Ms.toFixed(1)], widths));
  }
  console.log(`\nwasm init (fetch + compile + instantiate, once): ${outcome.wasmInitMs.toFixed(1)} ms`);
  console.log('Times are per decode (median of 5 repeats of each picture), over all pictures (read or not), image loading and one warm-up round excluded.');

  const names = (filter) => pictures.filter((_, i) => filter(i)).map((p) => p.name);
  const app = summary.app.verdicts;
  const zx = summary.html5qrcode.verdicts;
  const lists = [
    ['read by neither', names((i) => app[i] === 'miss' && zx[i] === 'miss')],
    ['read only by the app decoder', names((i) => app[i] !== 'miss' && zx[i] === 'miss')],
    ['read only by html5-qrcode', names((i) => app[i] === 'miss' && zx[i] !== 'miss')]
  ];
  for (const [title, list] of lists) console.log(`\n${title} (${list.length}): ${list.join(' ') || '-'}`);
  for (const [key, label] of DECODERS) {
    const s = summary[key];
    if (s.newlineAllowance) console.log(`\n${label}: ${s.newlineAllowance} counted only thanks to the trailing-newline allowance`);
    if (s.errors.length === 0) continue;
    console.log(`\n${label}: ${s.errors.length} decoder errors, counted as misses:`);
    const byMessage = new Map();
    for (const e of s.errors) byMessage.set(e.error, [...(byMessage.get(e.error) ?? []), e]);
    for (const [error, hits] of byMessage) console.log(`  ${hits.length} x ${error} (${hits.slice(0, 3).map((h) => h.name).join(' ')}${hits.length > 3 ? ' ...' : ''})`);
  }
}

const CAMERA_PIPELINES = [
  ['today', "today: html5-qrcode's box at CSS size, BarcodeDetector/zxing-js"],
  ['app', 'new: scan box at video pixels, ZXing-C++ passes'],
  ['zxingJsBox', 'zxing-js on the new box (video pixels)'],
  ['reference', 'ZXing-C++ best, whole frame, 3 binarizers'],
  ['referenceOnePass', 'ZXing-C++ best, whole frame, 1 pass']
];

/** Per frame size and pipeline: pictures read, ms per frame (median, p90), what read them. */
function summariseCamera(pictures, camera) {
  const out = {};
  for (const frame of camera.frames) {
    out[frame] = {};
    for (const [key] of CAMERA_PIPELINES) {
      const runs = camera.pictures.map((p) => p[frame][key]);
      if (runs.some((r) => r === undefined)) continue;
      const verdicts = pictures.map((p, i) => judge(runs[i].texts, p.expected));
      const times = runs.flatMap((r) => r.ms);
      const copies = runs.flatMap((r) => r.copyMs ?? []);
      const by = {};
      runs.forEach((r, i) => {
        if (verdicts[i] !== 'miss') by[r.by ?? '?'] = (by[r.by ?? '?'] ?? 0) + 1;
      });
      out[frame][key] = {
        decoded: verdicts.filter((v) => v !== 'miss').length,
        total: pictures.length,
        medianMs: Number(median(times).toFixed(2)),
        p90Ms: Number(percentile(times, 90).toFixed(2)),
        ...(copies.length ? { copyMedianMs: Number(median(copies).toFixed(2)), copyP90Ms: Number(percentile(copies, 90).toFixed(2)) } : {}),
        by,
        verdicts,
        errors: runs.filter((r) => r.error).length
      };
    }
  }
  return out;
}

function reportCamera(pictures, camera, summary) {
  const widths = [54, 10, 11, 8, 30];
  console.log(`\nCamera conditions: each picture fitted whole (letterboxed, black bars) into the frame, the scan box cropped as each scanner crops it`);
  console.log(`(a 390 px phone: today a 354 px wide container and a 0.7 box redrawn at CSS size; new a 354 px square view, box ${camera.boxShare} of it in video pixels)`);
  for (const frame of camera.frames) {
    console.log(`\n${frame} frame`);
    console.log(tableRow(['pipeline', 'read', 'median ms', 'p90 ms', 'read by'], widths));
    for (const [key, label] of CAMERA_PIPELINES) {
      const s = summary[frame][key];
      if (!s) continue;
      console.log(tableRow([label, `${s.decoded}/${s.total}`, s.medianMs.toFixed(1), s.p90Ms.toFixed(1), Object.entries(s.by).map(([k, v]) => `${k} ${v}`).join(', ')], widths));
    }
    const app = summary[frame].app.verdicts;
    const today = summary[frame].today.verdicts;
    const names = (f) => pictures.filter((_, i) => f(i)).map((p) => p.name);
    console.log(`  read today, not by the new pipeline: ${names((i) => today[i] !== 'miss' && app[i] === 'miss').join(' ') || '-'}`);
    const copy = summary[frame].app;
    if (copy.copyMedianMs !== undefined) console.log(`  of the new pipeline's ms, copying the box's pixels out of the I420 frame: median ${copy.copyMedianMs.toFixed(1)}, p90 ${copy.copyP90Ms.toFixed(1)}`);
    const js = summary[frame].zxingJsBox.verdicts;
    console.log(`  read by zxing-js on the new box, not by the new pipeline: ${names((i) => js[i] !== 'miss' && app[i] === 'miss').join(' ') || '-'}`);
    const ref = summary[frame].reference?.verdicts;
    if (ref) console.log(`  read by the reference, not by the new pipeline: ${names((i) => ref[i] !== 'miss' && app[i] === 'miss').join(' ') || '-'}`);
    if (ref) console.log(`  read by the new pipeline, not by the reference: ${names((i) => ref[i] === 'miss' && app[i] !== 'miss').join(' ') || '-'}`);
  }
  console.log('\nms per frame: every frame decoded (the new pipeline decodes a still frame once per pass until one reads; the reference, once per binarizer).');
}

/**
 * barcode-detector bundles the glue code of one zxing-wasm build; with any other build's wasm,
 * every decode traps. Returns a warning when the served wasm is not the one the glue expects.
 */
function wasmMismatch(expectedWasm) {
  const servedSha256 = createHash('sha256').update(fs.readFileSync(wasmPath)).digest('hex');
  if (servedSha256 === expectedWasm.sha256) return null;
  return (
    `WARNING: ${wasmPath} (sha256 ${servedSha256.slice(0, 12)}...) is not the zxing-wasm ${expectedWasm.version} build ` +
    `(sha256 ${expectedWasm.sha256.slice(0, 12)}...) whose glue code barcode-detector bundles: the app decoder cannot work with it.`
  );
}

async function main() {
  if (!fs.existsSync(corpusDir)) fail(`QR corpus not found at ${corpusDir} (see ../shared/qr-corpus/README.md)`);
  const pictures = listPictures();
  if (pictures.length === 0) fail(`no pictures with a .txt file in ${corpusDir}`);

  let server;
  try {
    server = await serve();
    const consoleErrors = new Map();
    const outcome = await runInBrowser(origin(server), pictures, consoleErrors);
    if (outcome.pictures.length !== pictures.length) throw new Error(`got ${outcome.pictures.length} results for ${pictures.length} pictures`);
    const summary = summarise(pictures, outcome);
    report(pictures, outcome, summary);
    const camera = summariseCamera(pictures, outcome.camera);
    reportCamera(pictures, outcome.camera, camera);
    for (const [text, count] of consoleErrors) console.log(`\npage console error (${count} x): ${text}`);
    const mismatch = wasmMismatch(outcome.expectedWasm);
    if (mismatch) console.log(`\n${mismatch}`);
    const decoder = Object.fromEntries(DECODERS.map(([key]) => {
      const { decoded, total, share, medianMs, p90Ms, errors } = summary[key];
      return [key, { decoded, total, share, medianMs, p90Ms, errors: errors.length }];
    }));
    const cameraResult = Object.fromEntries(
      Object.entries(camera).map(([frame, byKey]) => [frame, Object.fromEntries(Object.entries(byKey).map(([k, { decoded, total, medianMs, p90Ms, copyMedianMs }]) => [k, { decoded, total, medianMs, p90Ms, ...(copyMedianMs === undefined ? {} : { copyMedianMs }) }]))])
    );
    const result = { decoder, camera: cameraResult, wasmInitMs: Number(outcome.wasmInitMs.toFixed(1)), wasmMatchesGlue: !mismatch };
    console.log('');
    printResult(result);
  } finally {
    server?.close();
  }
}

main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
