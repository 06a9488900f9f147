/**
 * Browser half of bench/decoder.mjs, bundled by it with esbuild. Decodes each corpus picture with
 * the app's decoder (the `barcode-detector` ponyfill, i.e. ZXing-C++ in WebAssembly) and with the
 * zxing-js decoder built into html5-qrcode, both reading the same canvas. It only reports the raw
 * texts and timings: judging them against the expected text is left to bench/decoder.mjs, so the
 * matching rule lives in one place. `runCamera` reads the same pictures as camera frames, as today's
 * scanner and the new one read them (see bench/decoder.mjs).
 */
import { BarcodeDetector, prepareZXingModule, ZXING_WASM_SHA256, ZXING_WASM_VERSION } from 'barcode-detector/ponyfill';
import { Html5QrcodeSupportedFormats } from 'html5-qrcode/esm/core.js';
import { ZXingHtml5QrcodeDecoder } from 'html5-qrcode/esm/zxing-html5-qrcode-decoder.js';
import { readBarcodes, type ReaderOptions } from 'zxing-wasm/reader';
import { FrameReader, loadDecoder, READ_PASSES } from '../src/lib/client/scanner/decode';
import { SCAN_BOX_SHARE, scanBoxInVideo, type Size } from '../src/lib/core/scan-frame';

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

// ---------------------------------------------------------------------------------------------
// Camera conditions: each picture as a camera frame, read as today's scanner and the new one read it
// ---------------------------------------------------------------------------------------------

/** The camera view on a 390 px phone: the page's width less its margins, square (CameraScanner.svelte). */
const PHONE_VIEW: Size = { width: 354, height: 354 };
/** The same phone's view as html5-qrcode laid it out: the container's width, the video's own aspect. */
const OLD_CONTAINER_WIDTH = 354;

export interface FrameOutcome {
  texts: string[];
  /** ms per frame, one entry per frame decoded */
  ms: number[];
  /** of `ms`, the time spent copying the frame's pixels (draw and read back), where the pipeline says */
  copyMs?: number[];
  /** which decoder or pass read it, when one did */
  by?: string;
  error?: string;
}

export interface CameraPictureOutcome {
  /** keyed by frame size ("640x480", "1280x720"), then pipeline */
  [frame: string]: { today: FrameOutcome; app: FrameOutcome; zxingJsBox: FrameOutcome; reference?: FrameOutcome; referenceOnePass?: FrameOutcome };
}

/**
 * The picture as a camera frame of the given size: scaled to fit whole (letterboxed, the bars
 * black), centred. Fitting rather than cropping keeps every picture's code in the frame, so the
 * reference on the whole frame sees all of it and only the scan box can lose something.
 */
function cameraFrame(bitmap: ImageBitmap, size: Size): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = size.width;
  canvas.height = size.height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('no 2d canvas context');
  context.fillStyle = '#000';
  context.fillRect(0, 0, size.width, size.height);
  const scale = Math.min(size.width / bitmap.width, size.height / bitmap.height);
  const width = bitmap.width * scale;
  const height = bitmap.height * scale;
  context.drawImage(bitmap, (size.width - width) / 2, (size.height - height) / 2, width, height);
  return canvas;
}

/**
 * Today's scanner on one frame, as html5-qrcode 2.3.8 runs it (html5-qrcode.js foreverScan): the
 * box is the app's qrbox (0.7 of the shorter CSS side, at least 160 px) of a video laid out at the
 * container's width, redrawn on a canvas at that CSS size; the first decode goes to the
 * BarcodeDetector (the ponyfill, ZXing-C++ with its defaults), and when it finds nothing the
 * canvas is mirrored and the second goes to zxing-js (the shim alternates decoders call by call,
 * so on a frame with nothing that is how every frame goes).
 */
function todayScanner(detector: BarcodeDetector, zxingJs: ZXingHtml5QrcodeDecoder) {
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  return async (frame: HTMLCanvasElement): Promise<FrameOutcome> => {
    const cssWidth = OLD_CONTAINER_WIDTH;
    const cssHeight = (cssWidth * frame.height) / frame.width;
    const side = Math.max(160, Math.floor(Math.min(cssWidth, cssHeight) * 0.7));
    const region = { x: (cssWidth - side) / 2, y: (cssHeight - side) / 2, width: side, height: side };
    const ratio = frame.width / cssWidth;
    const start = performance.now();
    canvas.width = region.width;
    canvas.height = region.height;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.drawImage(frame, region.x * ratio, region.y * ratio, region.width * ratio, region.height * ratio, 0, 0, region.width, region.height);
    let texts = (await detector.detect(canvas)).map((code) => code.rawValue);
    let by = 'BarcodeDetector';
    if (texts.length === 0) {
      context.translate(canvas.width, 0);
      context.scale(-1, 1);
      context.drawImage(frame, region.x * ratio, region.y * ratio, region.width * ratio, region.height * ratio, 0, 0, region.width, region.height);
      by = 'zxing-js';
      try {
        texts = [(await zxingJs.decodeAsync(canvas)).text];
      } catch (err) {
        const kind = (err as { getKind?: () => string }).getKind?.();
        if (kind === undefined || !ZXING_JS_MISSES.has(kind)) return { texts: [], ms: [performance.now() - start], error: String(err) };
      }
    }
    return { texts, ms: [performance.now() - start], ...(texts.length ? { by } : {}) };
  };
}

/**
 * The new scanner on one frame, as the app runs it (src/lib/client/scanner/decode.ts) on a camera
 * frame (an I420 VideoFrame): the scan box of the phone's square view in video pixels, frame after frame while nothing reads, one
 * frame per pass, so a still frame has had every pass after READ_PASSES.length frames.
 */
let boxShare = SCAN_BOX_SHARE;

/**
 * The frame as a camera gives it to the app: a WebCodecs VideoFrame in I420 (what Chromium's
 * camera capture delivers), its luma from the picture's RGB as ZXing-C++ weighs it, chroma grey
 * (the reader looks at luma only).
 */
function cameraVideoFrame(frame: HTMLCanvasElement): VideoFrame {
  const { width, height } = frame;
  const rgba = frame.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, width, height).data;
  const i420 = new Uint8Array(width * height * 1.5).fill(128);
  for (let i = 0; i < width * height; i++) i420[i] = (306 * rgba[i * 4]! + 601 * rgba[i * 4 + 1]! + 117 * rgba[i * 4 + 2]! + 512) >> 10;
  return new VideoFrame(i420, { format: 'I420', codedWidth: width, codedHeight: height, timestamp: 0 });
}

async function appScanner(frame: HTMLCanvasElement): Promise<FrameOutcome> {
  const reader = new FrameReader();
  const region = scanBoxInVideo(frame, PHONE_VIEW, boxShare);
  const ms: number[] = [];
  const copyMs: number[] = [];
  const video = cameraVideoFrame(frame);
  try {
    for (let pass = 0; pass < READ_PASSES.length; pass++) {
      const start = performance.now();
      const texts = await reader.read(video, region);
      ms.push(performance.now() - start);
      copyMs.push(reader.lastCopyMs);
      if (texts.length) return { texts, ms, copyMs, by: `pass ${pass + 1}` };
    }
    return { texts: [], ms, copyMs };
  } finally {
    video.close();
  }
}

/**
 * zxing-js (html5-qrcode's decoder) on the new scan box at video pixels, plain and mirrored: does
 * keeping it in the alternation add any read the new pipeline misses?
 */
function zxingJsOnBox(zxingJs: ZXingHtml5QrcodeDecoder) {
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  return async (frame: HTMLCanvasElement): Promise<FrameOutcome> => {
    const region = scanBoxInVideo(frame, PHONE_VIEW, boxShare);
    const ms: number[] = [];
    for (const mirrored of [false, true]) {
      const start = performance.now();
      canvas.width = region.width;
      canvas.height = region.height;
      context.setTransform(mirrored ? -1 : 1, 0, 0, 1, mirrored ? region.width : 0, 0);
      context.drawImage(frame, region.x, region.y, region.width, region.height, 0, 0, region.width, region.height);
      try {
        const text = (await zxingJs.decodeAsync(canvas)).text;
        ms.push(performance.now() - start);
        return { texts: [text], ms, by: mirrored ? 'mirrored' : 'plain' };
      } catch (err) {
        ms.push(performance.now() - start);
        const kind = (err as { getKind?: () => string }).getKind?.();
        if (kind === undefined || !ZXING_JS_MISSES.has(kind)) return { texts: [], ms, error: String(err) };
      }
    }
    return { texts: [], ms };
  };
}

/** ZXing-C++ at its best settings on the whole frame: every option on, each binarizer in turn. */
const REFERENCE_PASSES: ReaderOptions[] = (['LocalAverage', 'GlobalHistogram', 'FixedThreshold'] as const).map((binarizer) => ({
  formats: ['QRCode'],
  tryHarder: true,
  tryRotate: true,
  tryInvert: true,
  tryDownscale: true,
  tryDenoise: true,
  binarizer,
  textMode: 'Plain'
}));

async function reference(frame: HTMLCanvasElement, passes: ReaderOptions[]): Promise<FrameOutcome> {
  const image = frame.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, frame.width, frame.height);
  const ms: number[] = [];
  for (const [i, options] of passes.entries()) {
    const start = performance.now();
    const texts = (await readBarcodes(image, options)).filter((r) => r.isValid).map((r) => r.text);
    ms.push(performance.now() - start);
    if (texts.length) return { texts, ms, by: String(options.binarizer ?? i) };
  }
  return { texts: [], ms };
}

const CAMERA_FRAMES: Size[] = [
  { width: 640, height: 480 },
  { width: 1280, height: 720 }
];

/** `share` other than the app's is for trying other box sizes (BOX_SHARE=… node bench/decoder.mjs). */
async function runCamera(wasmUrl: string, pictureUrls: string[], share?: number): Promise<{ frames: string[]; boxShare: number; pictures: CameraPictureOutcome[] }> {
  boxShare = share ?? SCAN_BOX_SHARE;
  // Both decoders load the same wasm file: the ponyfill for today's pipeline, zxing-wasm's reader for the new one.
  await prepareZXingModule({
    overrides: { locateFile: (path: string, prefix: string) => (path.endsWith('.wasm') ? wasmUrl : prefix + path) },
    fireImmediately: true
  });
  await loadDecoder(wasmUrl);
  const detector = new BarcodeDetector({ formats: ['qr_code'] });
  const zxingJs = new ZXingHtml5QrcodeDecoder([Html5QrcodeSupportedFormats.QR_CODE], false, { log: () => {}, warn: () => {}, logError: () => {}, logErrors: () => {} });
  const today = todayScanner(detector, zxingJs);
  const zxingJsBox = zxingJsOnBox(zxingJs);
  const safely = async (run: () => Promise<FrameOutcome>): Promise<FrameOutcome> => {
    try {
      return await run();
    } catch (err) {
      return { texts: [], ms: [], error: String(err) };
    }
  };

  const pictures: CameraPictureOutcome[] = [];
  for (const [index, url] of pictureUrls.entries()) {
    const response = await fetch(url);
    const bitmap = await createImageBitmap(await response.blob());
    const outcome: CameraPictureOutcome = {};
    for (const size of CAMERA_FRAMES) {
      const frame = cameraFrame(bitmap, size);
      // Warm-up on the first picture only, so lazy set-up does not land on a timed frame.
      if (index === 0) {
        await today(frame);
        await appScanner(frame);
      }
      const key = `${size.width}x${size.height}`;
      const runs = index % 2 === 0 ? [today, appScanner] : [appScanner, today];
      const [first, second] = [await safely(() => runs[0]!(frame)), await safely(() => runs[1]!(frame))];
      const pair = index % 2 === 0 ? { today: first, app: second } : { today: second, app: first };
      outcome[key] = { ...pair, zxingJsBox: await safely(() => zxingJsBox(frame)) };
      if (size.width === 1280) {
        outcome[key]!.reference = await safely(() => reference(frame, REFERENCE_PASSES));
        outcome[key]!.referenceOnePass = await safely(() => reference(frame, REFERENCE_PASSES.slice(0, 1)));
      }
    }
    bitmap.close();
    pictures.push(outcome);
  }
  return { frames: CAMERA_FRAMES.map((s) => `${s.width}x${s.height}`), boxShare, pictures };
}

(window as unknown as { decoderBench: { run: typeof run; runCamera: typeof runCamera } }).decoderBench = { run, runCamera };
