/**
 * The scanner's decoder: ZXing-C++ (WebAssembly, zxing-wasm's reader) with explicit options, and the
 * frame reader that crops the scan box out of a camera frame at video-pixel resolution. No camera
 * and no bundler-specific import here: bench/decoder.mjs runs this very module on still pictures.
 */
import { prepareZXingModule, readBarcodes, type ReaderOptions } from 'zxing-wasm/reader';
import { decodeSize, passForFrame, type Rect } from '../../core/scan-frame';

const COMMON: ReaderOptions = {
  formats: ['QRCode'],
  // Accuracy over speed: a frame is a few hundred thousand pixels and there are a dozen a second.
  tryHarder: true,
  // Rotation only matters to linear codes; a QR code is found at any angle without it.
  tryRotate: false,
  tryInvert: true,
  tryDownscale: true,
  // The closing filter runs only when the plain binarization found nothing, and has never lost a read.
  tryDenoise: true,
  // The bytes as the code holds them (UTF-8 for the app's codes), as the BarcodeDetector interface gives them.
  textMode: 'Plain',
  maxNumberOfSymbols: 1
};

/**
 * The reader passes a camera frame gets in turn while nothing is read: the main pass (local
 * thresholds, good under uneven light), then one with a global threshold, which reads codes that
 * glare or a bright spot breaks up for the local binarizer.
 */
export const READ_PASSES: readonly ReaderOptions[] = [
  { ...COMMON, binarizer: 'LocalAverage' },
  { ...COMMON, binarizer: 'GlobalHistogram' }
];

let ready: Promise<unknown> | null = null;

/** Loads the wasm once, from `wasmUrl` (our own origin: the service worker precaches it, no CDN). */
export function loadDecoder(wasmUrl: string): Promise<unknown> {
  ready ??= prepareZXingModule({
    overrides: { locateFile: (path: string, prefix: string) => (path.endsWith('.wasm') ? wasmUrl : prefix + path) },
    fireImmediately: true
  }).catch((err: unknown) => {
    // A failed load (offline before the precache was complete) may be retried later.
    ready = null;
    throw err;
  });
  return ready;
}

/** The valid codes' texts in the picture, read with the given pass. */
export async function decodePixels(image: ImageData, pass: number): Promise<string[]> {
  const results = await readBarcodes(image, READ_PASSES[pass] ?? READ_PASSES[0]);
  return results.filter((r) => r.isValid).map((r) => r.text);
}

type Canvas2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

function newContext(): Canvas2D {
  // willReadFrequently keeps the canvas in CPU memory: every frame is read back.
  const context =
    typeof OffscreenCanvas === 'function'
      ? new OffscreenCanvas(1, 1).getContext('2d', { willReadFrequently: true })
      : document.createElement('canvas').getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('no 2d canvas context');
  return context;
}

/** Frame formats whose first plane is the luma (Y) plane, one byte a pixel: what cameras give. */
const LUMA_FIRST = new Set(['I420', 'I420A', 'I422', 'I444', 'NV12']);
/** Formats of four bytes a pixel, and whether red comes first. */
const FOUR_BYTES: Record<string, boolean> = { RGBA: true, RGBX: true, BGRA: false, BGRX: false };

/**
 * The region of a video frame as RGBA pixels, copied straight from the frame's own memory
 * (WebCodecs VideoFrame.copyTo): only the region is touched, where drawing the video on a canvas
 * converts the whole frame to RGB first (35 ms against 5 ms for a 720×720 box of an HD camera
 * frame in Chromium). Null when the frame cannot be copied this way (no WebCodecs, a format kept
 * on the GPU): the caller then draws on a canvas.
 */
async function framePixels(frame: VideoFrame, region: Rect, reuse: ImageData | null): Promise<ImageData | null> {
  // The reader copies the pixels into its own memory, so one ImageData serves frame after frame.
  const imageOf = (width: number, height: number) => (reuse && reuse.width === width && reuse.height === height ? reuse : new ImageData(width, height));
  const format = frame.format;
  if (format === null) return null;
  if (LUMA_FIRST.has(format)) {
    // Chroma is subsampled 2×2 in 4:2:0: the rect must fall on even pixels.
    const x = region.x & ~1;
    const y = region.y & ~1;
    const width = (region.x + region.width - x + 1) & ~1;
    const height = (region.y + region.height - y + 1) & ~1;
    const rect = { x, y, width: Math.min(width, frame.codedWidth - x), height: Math.min(height, frame.codedHeight - y) };
    const buffer = new Uint8Array(frame.allocationSize({ rect }));
    const [luma] = await frame.copyTo(buffer, { rect });
    if (!luma) return null;
    // A grey picture: R = G = B = Y, written four bytes at once (little-endian: 0xAABBGGRR).
    const image = imageOf(rect.width, rect.height);
    const out = new Uint32Array(image.data.buffer);
    for (let row = 0; row < rect.height; row++) {
      const from = luma.offset + row * luma.stride;
      const to = row * rect.width;
      for (let col = 0; col < rect.width; col++) out[to + col] = 0xff000000 | (buffer[from + col]! * 0x010101);
    }
    return image;
  }
  const redFirst = FOUR_BYTES[format];
  if (redFirst === undefined) return null;
  const rect = { x: region.x, y: region.y, width: region.width, height: region.height };
  const image = imageOf(rect.width, rect.height);
  const [plane] = await frame.copyTo(image.data, { rect, layout: [{ offset: 0, stride: rect.width * 4 }] });
  if (!plane) return null;
  const data = image.data;
  for (let i = 0; i < data.length; i += 4) {
    if (!redFirst) [data[i], data[i + 2]] = [data[i + 2]!, data[i]!];
    data[i + 3] = 255;
  }
  return image;
}

/**
 * Reads camera frames one at a time: copies the scan box of the frame at video pixels (capped at
 * MAX_DECODE_SIDE) and decodes it, with the main pass or, while frames come up empty, the retry
 * passes in turn.
 */
export class FrameReader {
  private context: Canvas2D | null = null;
  private emptyFrames = 0;
  /** False once a frame could not be copied directly: the canvas from then on. */
  private direct = true;
  private image: ImageData | null = null;
  /** How long the last frame's pixel copy took, in ms: bench/decoder.mjs shows it apart from the decode. */
  lastCopyMs = 0;

  /** The pass the next frame gets. */
  get nextPass(): number {
    return passForFrame(this.emptyFrames, READ_PASSES.length);
  }

  async read(source: HTMLVideoElement | VideoFrame | HTMLCanvasElement, region: Rect): Promise<string[]> {
    const start = performance.now();
    const pixels = (await this.directPixels(source, region)) ?? this.canvasPixels(source, region);
    this.lastCopyMs = performance.now() - start;
    const texts = await decodePixels(pixels, this.nextPass);
    this.emptyFrames = texts.length > 0 ? 0 : this.emptyFrames + 1;
    return texts;
  }

  private async directPixels(source: HTMLVideoElement | VideoFrame | HTMLCanvasElement, region: Rect): Promise<ImageData | null> {
    const size = decodeSize(region);
    // A box bigger than MAX_DECODE_SIDE is scaled on the canvas.
    if (!this.direct || typeof VideoFrame !== 'function' || size.width !== region.width || size.height !== region.height) return null;
    const own = !(source instanceof VideoFrame);
    let frame: VideoFrame | null = null;
    try {
      frame = own ? new VideoFrame(source as HTMLVideoElement, { timestamp: 0 }) : (source as VideoFrame);
      const pixels = await framePixels(frame, region, this.image);
      if (pixels) this.image = pixels;
      else this.direct = false;
      return pixels;
    } catch {
      this.direct = false;
      return null;
    } finally {
      if (own) frame?.close();
    }
  }

  private canvasPixels(source: HTMLVideoElement | VideoFrame | HTMLCanvasElement, region: Rect): ImageData {
    const context = (this.context ??= newContext());
    const size = decodeSize(region);
    if (context.canvas.width !== size.width || context.canvas.height !== size.height) {
      context.canvas.width = size.width;
      context.canvas.height = size.height;
    }
    context.drawImage(source, region.x, region.y, region.width, region.height, 0, 0, size.width, size.height);
    return context.getImageData(0, 0, size.width, size.height);
  }
}

/** Long sides a photo is tried at, after its own size: a huge photo's code can be too big for the detector. */
const PHOTO_SIDES = [1024, 512];
/** A photo bigger than this is scaled down first (a 50 MP picture would take seconds and a lot of memory). */
const PHOTO_MAX_SIDE = 2400;

/**
 * Reads a QR code from a photo: at its own size (capped), then downscaled copies, each with every
 * pass. Null when nothing reads.
 */
export async function decodePhoto(picture: ImageBitmap): Promise<string | null> {
  const context = newContext();
  const longSide = Math.max(picture.width, picture.height);
  const sides = [Math.min(longSide, PHOTO_MAX_SIDE), ...PHOTO_SIDES.filter((side) => side < Math.min(longSide, PHOTO_MAX_SIDE))];
  for (const side of sides) {
    const scale = side / longSide;
    const width = Math.max(1, Math.round(picture.width * scale));
    const height = Math.max(1, Math.round(picture.height * scale));
    context.canvas.width = width;
    context.canvas.height = height;
    context.drawImage(picture, 0, 0, width, height);
    const image = context.getImageData(0, 0, width, height);
    for (let pass = 0; pass < READ_PASSES.length; pass++) {
      const [text] = await decodePixels(image, pass);
      if (text !== undefined) return text;
    }
  }
  return null;
}
