import { describe, expect, it } from 'vitest';
import { coverMapping, decodeSize, passForFrame, RepeatFilter, REPEAT_QUIET_MS, scanBoxInVideo, scanBoxInView, viewPointToVideo } from './scan-frame';

const HD = { width: 1280, height: 720 };
const PORTRAIT_HD = { width: 720, height: 1280 };
const PHONE_VIEW = { width: 358, height: 358 };

describe('scan box geometry', () => {
  it('a square view over a landscape HD frame shows its central square, and the box is decoded at video pixels', () => {
    const { scale, visible } = coverMapping(HD, PHONE_VIEW);
    expect(scale).toBeCloseTo(358 / 720);
    expect(visible).toEqual({ x: 280, y: 0, width: 720, height: 720 });
    // The whole view: 720 video pixels a side, not the 358 CSS pixels it is shown at.
    expect(scanBoxInVideo(HD, PHONE_VIEW, 1)).toEqual({ x: 280, y: 0, width: 720, height: 720 });
  });

  it('a smaller box is the same share of the visible square, centred, in either orientation', () => {
    expect(scanBoxInVideo(HD, PHONE_VIEW, 0.5)).toEqual({ x: 460, y: 180, width: 360, height: 360 });
    expect(scanBoxInVideo(PORTRAIT_HD, PHONE_VIEW, 0.5)).toEqual({ x: 180, y: 460, width: 360, height: 360 });
  });

  it('the box drawn in the view maps onto the video region decoded', () => {
    const view = { width: 358, height: 300 };
    const box = scanBoxInView(view, 0.8);
    expect(box).toEqual({ x: 59, y: 30, width: 240, height: 240 });
    const region = scanBoxInVideo(HD, view, 0.8);
    // Corners of the drawn box, mapped to the video, fall on the decoded region's corners (within a pixel of rounding outward).
    const topLeft = viewPointToVideo({ x: box.x, y: box.y }, HD, view);
    const bottomRight = viewPointToVideo({ x: box.x + box.width, y: box.y + box.height }, HD, view);
    expect(Math.abs(topLeft.x * HD.width - region.x)).toBeLessThan(1);
    expect(Math.abs(topLeft.y * HD.height - region.y)).toBeLessThan(1);
    expect(Math.abs(bottomRight.x * HD.width - (region.x + region.width))).toBeLessThan(1);
    expect(Math.abs(bottomRight.y * HD.height - (region.y + region.height))).toBeLessThan(1);
  });

  it('never reaches outside the frame, even when the view is wider than the video', () => {
    const region = scanBoxInVideo({ width: 640, height: 480 }, { width: 900, height: 200 }, 1);
    expect(region.x).toBeGreaterThanOrEqual(0);
    expect(region.y).toBeGreaterThanOrEqual(0);
    expect(region.x + region.width).toBeLessThanOrEqual(640);
    expect(region.y + region.height).toBeLessThanOrEqual(480);
  });

  it('decodes an HD box at its own pixels and scales a bigger one down, never up', () => {
    expect(decodeSize({ width: 720, height: 720 })).toEqual({ width: 720, height: 720 });
    expect(decodeSize({ width: 1080, height: 1080 })).toEqual({ width: 720, height: 720 });
    expect(decodeSize({ width: 200, height: 100 })).toEqual({ width: 200, height: 100 });
  });

  it('a tap maps to the share of the frame under the finger', () => {
    expect(viewPointToVideo({ x: 179, y: 179 }, HD, PHONE_VIEW)).toEqual({ x: 0.5, y: 0.5 });
    expect(viewPointToVideo({ x: 0, y: 0 }, HD, PHONE_VIEW)).toEqual({ x: 280 / 1280, y: 0 });
    expect(viewPointToVideo({ x: -50, y: 999 }, HD, PHONE_VIEW)).toEqual({ x: 280 / 1280 - (50 * 720) / 358 / 1280, y: 1 });
  });
});

describe('reader passes', () => {
  it('the main pass first, the retries in turn while frames are empty, and back to the main pass after a read', () => {
    expect([0, 1, 2, 3, 4].map((empty) => passForFrame(empty, 2))).toEqual([0, 1, 0, 1, 0]);
    expect([0, 1, 2, 3].map((empty) => passForFrame(empty, 3))).toEqual([0, 1, 2, 0]);
    expect(passForFrame(5, 1)).toBe(0);
    expect(passForFrame(5, 0)).toBe(0);
  });
});

describe('the same code twice', () => {
  it('is quiet while held up, reported again after a pause, and another code goes through at once', () => {
    const filter = new RepeatFilter();
    expect(filter.accept('A', 0)).toBe(true);
    expect(filter.accept('A', 80)).toBe(false);
    expect(filter.accept('A', REPEAT_QUIET_MS - 1)).toBe(false);
    expect(filter.accept('B', REPEAT_QUIET_MS - 1)).toBe(true);
    expect(filter.accept('A', REPEAT_QUIET_MS)).toBe(true);
    expect(filter.accept('A', 2 * REPEAT_QUIET_MS)).toBe(true);
  });
});
