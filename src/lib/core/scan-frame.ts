/**
 * The live scanner's frame rules, pure so that the app and bench/decoder.mjs share them: which part
 * of the camera's picture is decoded (the scan box, in video pixels, the same square the overlay
 * shows), which reader pass a frame gets, and when a code read again is news.
 */

export interface Size {
  width: number;
  height: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The scan box's side as a share of the shorter side of the camera view: all of a square view.
 * What the person sees is what is read: a code aimed at but poking out of a smaller box was lost
 * (bench/decoder.mjs: 0.9 read 153 of 179 pictures, the whole square 168, at 32 ms p90 a frame).
 */
export const SCAN_BOX_SHARE = 1;

/**
 * The longest side a scan box is decoded at. A 1280×720 stream's box is decoded at its own pixels;
 * a bigger stream's box is scaled down to this, which keeps a frame's time bounded on a cheap phone
 * while still giving a poster a metre away several pixels a module.
 */
export const MAX_DECODE_SIDE = 720;

/**
 * How the view shows the video: scaled to cover it (CSS object-fit: cover), centred. Returns the
 * scale (view pixels per video pixel) and the part of the video that is visible, in video pixels.
 */
export function coverMapping(video: Size, view: Size): { scale: number; visible: Rect } {
  const scale = Math.max(view.width / video.width, view.height / video.height);
  const width = Math.min(video.width, view.width / scale);
  const height = Math.min(video.height, view.height / scale);
  return { scale, visible: { x: (video.width - width) / 2, y: (video.height - height) / 2, width, height } };
}

/** The scan box in view (CSS) pixels: a centred square, `share` of the view's shorter side. */
export function scanBoxInView(view: Size, share = SCAN_BOX_SHARE): Rect {
  const side = Math.min(view.width, view.height) * share;
  return { x: (view.width - side) / 2, y: (view.height - side) / 2, width: side, height: side };
}

/**
 * The scan box in video pixels: exactly the pixels under the box the view shows, rounded outward
 * to whole pixels and kept inside the frame.
 */
export function scanBoxInVideo(video: Size, view: Size, share = SCAN_BOX_SHARE): Rect {
  const { scale, visible } = coverMapping(video, view);
  const box = scanBoxInView(view, share);
  const x0 = Math.max(0, Math.floor(visible.x + box.x / scale));
  const y0 = Math.max(0, Math.floor(visible.y + box.y / scale));
  const x1 = Math.min(video.width, Math.ceil(visible.x + (box.x + box.width) / scale));
  const y1 = Math.min(video.height, Math.ceil(visible.y + (box.y + box.height) / scale));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** The size a region is decoded at: its own pixels, scaled down (never up) so no side exceeds maxSide. */
export function decodeSize(region: Size, maxSide = MAX_DECODE_SIDE): Size {
  const scale = Math.min(1, maxSide / Math.max(region.width, region.height));
  return { width: Math.max(1, Math.round(region.width * scale)), height: Math.max(1, Math.round(region.height * scale)) };
}

/** A point of the view (CSS pixels from its top left) as a share of the video frame (0..1 each way), for tap-to-focus. */
export function viewPointToVideo(point: { x: number; y: number }, video: Size, view: Size): { x: number; y: number } {
  const { scale, visible } = coverMapping(video, view);
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  return { x: clamp((visible.x + point.x / scale) / video.width), y: clamp((visible.y + point.y / scale) / video.height) };
}

/**
 * The reader pass for the next frame, given how many frames in a row have had no code: the main
 * pass first, then the retry passes in turn while nothing is found, back to the main pass after a read.
 */
export function passForFrame(emptyFramesInARow: number, passes: number): number {
  return passes > 0 ? emptyFramesInARow % passes : 0;
}

/** How long the same code held in front of the camera stays quiet after it was reported. */
export const REPEAT_QUIET_MS = 1500;

/**
 * Lets a code through unless it is the one reported last, less than REPEAT_QUIET_MS ago: a code
 * held up to the camera is read a dozen times a second, the page needs it once, and again only
 * after a pause (the station records the same card again as "already recorded").
 */
export class RepeatFilter {
  private last: { text: string; at: number } | null = null;

  constructor(private readonly quietMs = REPEAT_QUIET_MS) {}

  accept(text: string, now: number): boolean {
    if (this.last && this.last.text === text && now - this.last.at < this.quietMs) return false;
    this.last = { text, at: now };
    return true;
  }
}
