/**
 * The live scanner reads what the camera sees: a venue code held far from the camera (3 video
 * pixels a module in a 1280×720 frame) checks in, where the old scanner, which redrew its box at
 * CSS size (160 px on this phone) before decoding, had well under one pixel a module.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect, test } from '@playwright/test';
import { prepareZXingModule, readBarcodes } from 'zxing-wasm/reader';
import { qrFrame, writeCameraVideo, type GreyFrame } from '../tools/fake-camera';
import { browserWithCamera, demoVenues, diaryVisits } from './helpers';

const require = createRequire(import.meta.url);
/** 3 video pixels a module: a poster a few metres away, or a small sticker at arm's length. */
const FAR = { moduleSize: 3 };

/** The region of a grey frame, resampled to `out` pixels a side with bilinear filtering (as a canvas drawImage does). */
function resample(frame: GreyFrame, region: { x: number; y: number; side: number }, out: number): GreyFrame {
  const luma = new Uint8Array(out * out);
  const step = region.side / out;
  for (let oy = 0; oy < out; oy++) {
    for (let ox = 0; ox < out; ox++) {
      const sx = region.x + (ox + 0.5) * step - 0.5;
      const sy = region.y + (oy + 0.5) * step - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const at = (x: number, y: number) => frame.luma[Math.min(frame.height - 1, Math.max(0, y)) * frame.width + Math.min(frame.width - 1, Math.max(0, x))]!;
      const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
      const bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
      luma[oy * out + ox] = Math.round(top * (1 - fy) + bottom * fy);
    }
  }
  return { width: out, height: out, luma };
}

async function codesIn(frame: GreyFrame): Promise<string[]> {
  const wasm = readFileSync(require.resolve('zxing-wasm/reader/zxing_reader.wasm'));
  await prepareZXingModule({ overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) }, fireImmediately: true });
  const rgba = new Uint8ClampedArray(frame.width * frame.height * 4);
  frame.luma.forEach((y, i) => rgba.set([y, y, y, 255], i * 4));
  const results = await readBarcodes({ data: rgba, width: frame.width, height: frame.height, colorSpace: 'srgb' }, { formats: ['QRCode'], tryHarder: true, tryDenoise: true });
  return results.filter((r) => r.isValid).map((r) => r.text);
}

test('a code far from the camera, unreadable at the old box size, checks in at video pixels', async ({ request, baseURL }) => {
  const venue = (await demoVenues(request))[2]!;
  // What the old scanner gave the decoder on this phone: a 354 px wide view of the 16:9 video, a
  // 160 px box (its minimum) covering 572 video pixels, redrawn at 160 px. Nothing reads there;
  // the same code in the app's box (the central 720×720 square, at its own pixels) reads.
  const frame = qrFrame(venue.url, FAR);
  const oldSide = Math.round(160 * (1280 / 354));
  expect(await codesIn(resample(frame, { x: (1280 - oldSide) / 2, y: (720 - oldSide) / 2, side: oldSide }, 160))).toEqual([]);
  expect(await codesIn(resample(frame, { x: 280, y: 0, side: 720 }, 720))).toEqual([venue.url]);

  const browser = await browserWithCamera(writeCameraVideo(path.resolve('tmp', 'camera', 'venue-far.y4m'), venue.url, FAR));
  try {
    const context = await browser.newContext({ baseURL, permissions: ['camera'], viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto('/scan');
    await expect(page.getByTestId('checkin-confirmation').getByTestId('venue-name')).toHaveText(venue.name, { timeout: 30_000 });
    expect(await diaryVisits(page)).toMatchObject([{ venueName: venue.name, source: 'scan', verification: 'verified' }]);
  } finally {
    await browser.close();
  }
});

test('the camera runs at HD, the frame drawn is the square decoded, and it stops while the page is hidden or left', async ({ baseURL }) => {
  // Not a venue code: the page stays on the camera and says what the code is.
  const browser = await browserWithCamera(writeCameraVideo(path.resolve('tmp', 'camera', 'text-far.y4m'), 'Xin chào, đây không phải mã địa điểm', FAR));
  try {
    const context = await browser.newContext({ baseURL, permissions: ['camera'], viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto('/scan');
    await expect(page.getByTestId('scan-result')).toBeVisible({ timeout: 30_000 });
    // A tap focuses where the camera can; this fake camera cannot, and nothing breaks.
    await page.getByTestId('camera').click({ position: { x: 100, y: 100 } });
    const camera = await page.evaluate(() => {
      const video = document.querySelector('video')!;
      const view = video.closest('.viewport')!.getBoundingClientRect();
      const box = document.querySelector('[data-testid="scan-box"]')!.getBoundingClientRect();
      return { width: video.videoWidth, height: video.videoHeight, view: [view.width, view.height], box: [box.left - view.left, box.top - view.top, box.width, box.height] };
    });
    expect([camera.width, camera.height]).toEqual([1280, 720]);
    // A square view, and the frame drawn over it is all of it: the part decoded.
    expect(camera.view[0]).toBeCloseTo(camera.view[1]!, 0);
    expect(camera.box).toEqual([0, 0, camera.view[0], camera.view[1]]);
    if (process.env.SHOTS) {
      // Both languages with the camera running (switching the language opens the camera anew).
      await page.screenshot({ path: `${process.env.SHOTS}/scanner-far-code-vi.png` });
      await page.getByTestId('lang-switch').click();
      await expect(page.locator('html')).toHaveAttribute('lang', 'en');
      await expect(page.getByTestId('scan-result')).toBeVisible({ timeout: 30_000 });
      await page.screenshot({ path: `${process.env.SHOTS}/scanner-far-code-en.png` });
    }
    // A hidden page (the phone locked, another app) gives the camera back, and takes it again on return.
    const keepStream = () => page.evaluate(() => ((window as unknown as { seenStream: unknown }).seenStream = document.querySelector('video')!.srcObject));
    const live = () => page.evaluate(() => (window as unknown as { seenStream: MediaStream }).seenStream.getTracks().map((t) => t.readyState));
    const setHidden = (hidden: boolean) =>
      page.evaluate((h) => {
        Object.defineProperty(document, 'hidden', { value: h, configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
      }, hidden);
    await expect(page.getByTestId('camera')).toHaveAttribute('data-scanning', 'true');
    await keepStream();
    expect(await live()).toEqual(['live']);
    await setHidden(true);
    await expect.poll(live).toEqual(['ended']);
    await expect(page.getByTestId('camera')).toHaveAttribute('data-scanning', 'false');
    await setHidden(false);
    await expect(page.getByTestId('camera')).toHaveAttribute('data-scanning', 'true');
    await keepStream();
    expect(await live()).toEqual(['live']);

    // Leaving the page gives the camera back too.
    await page.getByRole('link').first().click();
    await expect(page.locator('video')).toHaveCount(0);
    expect(await live()).toEqual(['ended']);
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
});
