/**
 * Browser half of bench/decoder.mjs, bundled by it with esbuild. Decodes each corpus picture with
 * the app's decoder (the `barcode-detector` ponyfill, i.e. ZXing-C++ in WebAssembly) and with the
 * zxing-js decoder built into html5-qrcode, both reading the same canvas. It only reports the raw
 * texts and timings: judging them against the expected text is left to bench/decoder.mjs, so the
 * matching rule lives in one place.
 */
import { BarcodeDetector, prepareZXingModule, ZXING_WASM_SHA256, ZXING_WASM_VERSION } from 'barcode-detector/ponyfill';
import { Html5QrcodeSupportedFormats } from 'html5-qrcode/esm/core.js';
import { ZXingHtml5QrcodeDecoder } from 'html5-qrcode/esm/zxing-html5-qrcode-decoder.js';

/** Photos are scaled down to this long side before decoding, as a camera frame would be. */
const MAX_SIDE = 1600;

/** The exception kinds by which zxing-js says it could not read a code. */
const ZXING_JS_MISSES = new Set(['NotFoundException', 'ChecksumException', 'FormatException']);

export interface Outcome {
  /** Every text the decoder returned (the ponyfill may find several codes, zxing-js one at most). */
  texts: string[];
  ms: number;
  /** Set when the decoder threw for another reason than "no code found". */
  error?: string;
}

export interface PictureOutcome {
  app: Outcome;
  html5qrcode: Outcome;
}

export interface BenchOutcome {
  wasmInitMs: number;
  /** The wasm build that the ponyfill's bundled glue code was made for; any other build breaks it. */
  expectedWasm: { version: string; sha256: string };
  pictures: PictureOutcome[];
}

type Decode = (canvas: HTMLCanvasElement) => Promise<string[]>;

async function loadCanvas(url: string): Promise<HTMLCanvasElement> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const bitmap = await createImageBitmap(await response.blob());
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  // willReadFrequently keeps the canvas in CPU memory, so neither decoder pays a GPU read-back
  // that the other might then get for free.
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('no 2d canvas context');
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return canvas;
}

/** Decodes are repeated and the median time kept: one decode takes a few ms, and timer and GC noise is of the same size. */
const REPEATS = 5;

async function timed(decode: Decode, canvas: HTMLCanvasElement): Promise<Outcome> {
  const first = await timedOnce(decode, canvas);
  const times = [first.ms];
  for (let i = 1; i < REPEATS; i++) times.push((await timedOnce(decode, canvas)).ms);
  times.sort((a, b) => a - b);
  return { ...first, ms: times[Math.floor(REPEATS / 2)]! };
}

async function timedOnce(decode: Decode, canvas: HTMLCanvasElement): Promise<Outcome> {
  const start = performance.now();
  try {
    const texts = await decode(canvas);
    return { texts, ms: performance.now() - start };
  } catch (err) {
    const ms = performance.now() - start;
    // zxing-js reports "no code found" or "code found but unreadable" by throwing one of these:
    // that is a plain miss. Anything else is a fault, reported so that it is not mistaken for one.
    const kind = (err as { getKind?: () => string }).getKind?.();
    if (kind !== undefined && ZXING_JS_MISSES.has(kind)) return { texts: [], ms };
    return { texts: [], ms, error: String(err) };
  }
}

async function run(wasmUrl: string, pictureUrls: string[]): Promise<BenchOutcome> {
  // Awaiting the module factory measures fetching, compiling and instantiating the wasm once,
  // apart from the per-picture decode times.
  const initStart = performance.now();
  await prepareZXingModule({
    overrides: { locateFile: (path: string, prefix: string) => (path.endsWith('.wasm') ? wasmUrl : prefix + path) },
    fireImmediately: true
  });
  const wasmInitMs = performance.now() - initStart;

  const detector = new BarcodeDetector({ formats: ['qr_code'] });
  const zxingJs = new ZXingHtml5QrcodeDecoder([Html5QrcodeSupportedFormats.QR_CODE], false, {
    log: () => {},
    warn: () => {},
    logError: () => {},
    logErrors: () => {}
  });
  const decoders: Record<keyof PictureOutcome, Decode> = {
    app: async (canvas) => (await detector.detect(canvas)).map((code) => code.rawValue),
    html5qrcode: async (canvas) => [(await zxingJs.decodeAsync(canvas)).text]
  };

  // One untimed round on the first picture, so that lazy set-up and JIT warm-up of either
  // decoder do not land on the first timed picture.
  const first = pictureUrls[0];
  if (first !== undefined) {
    const canvas = await loadCanvas(first);
    await timed(decoders.app, canvas);
    await timed(decoders.html5qrcode, canvas);
  }

  const pictures: PictureOutcome[] = [];
  for (const [index, url] of pictureUrls.entries()) {
    const canvas = await loadCanvas(url);
    // Alternate which decoder goes first, so any cache effect of reading the canvas is shared.
    if (index % 2 === 0) {
      const app = await timed(decoders.app, canvas);
      pictures.push({ app, html5qrcode: await timed(decoders.html5qrcode, canvas) });
    } else {
      const html5qrcode = await timed(decoders.html5qrcode, canvas);
      pictures.push({ app: await timed(decoders.app, canvas), html5qrcode });
    }
  }
  return { wasmInitMs, expectedWasm: { version: ZXING_WASM_VERSION, sha256: ZXING_WASM_SHA256 }, pictures };
}

(window as unknown as { decoderBench: { run: typeof run } }).decoderBench = { run };
