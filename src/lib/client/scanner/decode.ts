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

/**
 * Reads camera frames one at a time: draws the scan box of the frame (video pixels, capped at
 * MAX_DECODE_SIDE) on its own canvas and decodes it, with the main pass or, while frames come up
 * empty, the retry passes in turn.
 */
export class FrameReader {
  private context: Canvas2D | null = null;
  private emptyFrames = 0;

  /** The pass the next frame gets. */
  get nextPass(): number {
    return passForFrame(this.emptyFrames, READ_PASSES.length);
  }

  async read(source: CanvasImageSource, region: Rect): Promise<string[]> {
    const context = (this.context ??= newContext());
    const size = decodeSize(region);
    if (context.canvas.width !== size.width || context.canvas.height !== size.height) {
      context.canvas.width = size.width;
      context.canvas.height = size.height;
    }
    context.drawImage(source, region.x, region.y, region.width, region.height, 0, 0, size.width, size.height);
    const texts = await decodePixels(context.getImageData(0, 0, size.width, size.height), this.nextPass);
    this.emptyFrames = texts.length > 0 ? 0 : this.emptyFrames + 1;
    return texts;
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
