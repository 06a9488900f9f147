/**
 * A video for Chromium's fake camera (`--use-file-for-fake-video-capture=FILE`), so browser tests
 * can hold a QR code up to the camera: the text as a QR code, black modules on a white frame,
 * centred, written as one YUV4MPEG2 frame (4:2:0, 8-bit) that Chromium plays in a loop.
 *
 * Grey only: the chroma planes are all 128, so the picture is the luma (Y) plane alone, which is
 * what a QR reader looks at anyway.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import QRCode from 'qrcode';

export interface CameraFrameOptions {
  /** Pixels per QR module; 6 fills about a third of a 720-line frame with a venue link. */
  moduleSize?: number;
  width?: number;
  height?: number;
}

export interface GreyFrame {
  width: number;
  height: number;
  /** One byte per pixel, 0 black to 255 white, row after row. */
  luma: Uint8Array;
}

/** The blank modules a QR reader needs around the code (ISO/IEC 18004 asks for 4). */
const QUIET_ZONE = 4;
const BLACK = 0;
const WHITE = 255;
/** Cb and Cr of a grey pixel. */
const NO_COLOUR = 128;

/** The text as a QR code drawn on a white frame of the given size, centred. */
export function qrFrame(text: string, options: CameraFrameOptions = {}): GreyFrame {
  const { moduleSize = 6, width = 1280, height = 720 } = options;
  // Chroma is subsampled 2×2: odd sizes have no whole chroma plane.
  if (width % 2 || height % 2) throw new Error(`frame size must be even, not ${width}×${height}`);
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const side = (modules.size + 2 * QUIET_ZONE) * moduleSize;
  if (side > width || side > height) throw new Error(`a ${side}-pixel code does not fit a ${width}×${height} frame: use a smaller module size`);
  const luma = new Uint8Array(width * height).fill(WHITE);
  const left = Math.floor((width - side) / 2) + QUIET_ZONE * moduleSize;
  const top = Math.floor((height - side) / 2) + QUIET_ZONE * moduleSize;
  for (let row = 0; row < modules.size; row++) {
    for (let col = 0; col < modules.size; col++) {
      if (!modules.get(row, col)) continue;
      for (let dy = 0; dy < moduleSize; dy++) {
        const start = (top + row * moduleSize + dy) * width + left + col * moduleSize;
        luma.fill(BLACK, start, start + moduleSize);
      }
    }
  }
  return { width, height, luma };
}

/** One frame as a YUV4MPEG2 file: header, frame header, Y plane, then the Cb and Cr planes. */
export function y4mOf(frame: GreyFrame): Uint8Array {
  const header = new TextEncoder().encode(`YUV4MPEG2 W${frame.width} H${frame.height} F15:1 Ip A1:1 C420jpeg\nFRAME\n`);
  const chroma = (frame.width / 2) * (frame.height / 2);
  const file = new Uint8Array(header.length + frame.luma.length + 2 * chroma);
  file.set(header, 0);
  file.set(frame.luma, header.length);
  file.fill(NO_COLOUR, header.length + frame.luma.length);
  return file;
}

/** Reads back the first frame of a YUV4MPEG2 file written by y4mOf (4:2:0, 8-bit). */
export function firstFrameOf(file: Uint8Array): GreyFrame {
  const text = new TextDecoder('latin1');
  const headerEnd = file.indexOf(0x0a);
  const header = text.decode(file.subarray(0, headerEnd)).split(' ');
  if (header[0] !== 'YUV4MPEG2') throw new Error('not a YUV4MPEG2 file');
  const field = (tag: string) => header.find((f) => f.startsWith(tag))?.slice(1);
  const width = Number(field('W'));
  const height = Number(field('H'));
  const colour = field('C') ?? '420jpeg';
  if (!/^420(jpeg|paldv|mpeg2)?$/.test(colour)) throw new Error(`only 4:2:0 8-bit frames are read, not C${colour}`);
  const frameEnd = file.indexOf(0x0a, headerEnd + 1);
  if (!text.decode(file.subarray(headerEnd + 1, frameEnd)).startsWith('FRAME')) throw new Error('no FRAME after the header');
  const luma = file.slice(frameEnd + 1, frameEnd + 1 + width * height);
  if (luma.length !== width * height) throw new Error('the frame is cut short');
  return { width, height, luma };
}

/** Writes the text's camera video to `file` (folders made as needed) and returns the file's path. */
export function writeCameraVideo(file: string, text: string, options: CameraFrameOptions = {}): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, y4mOf(qrFrame(text, options)));
  return file;
}
