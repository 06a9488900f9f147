import path from 'node:path';
import { chromium, expect, type APIRequestContext, type Browser, type Page } from '@playwright/test';
import { CHROMIUM_ARGS } from '../../playwright.config';
import { checkinUrl, type VenueClaims } from '../../src/lib/core/venue/venue-token';
import { newSigningKey, signVenueToken } from '../../src/lib/core/venue/venue-signing';
import { writeCameraVideo } from '../tools/fake-camera';

export interface DemoVenue {
  venueId: string;
  name: string;
  venueType: string;
  url: string;
}

export async function demoVenues(request: APIRequestContext): Promise<DemoVenue[]> {
  const res = await request.get('/api/demo');
  expect(res.ok()).toBe(true);
  return ((await res.json()) as { venues: DemoVenue[] }).venues;
}

/** A venue code signed by an attacker's key that claims the server's key id. */
export async function forgedVenueUrl(request: APIRequestContext, baseURL: string, claims: Partial<VenueClaims> = {}): Promise<string> {
  const { active } = (await (await request.get('/api/keys')).json()) as { active: string };
  const token = signVenueToken(
    { venueId: 'forgedvenue2', name: 'Cửa hàng giả mạo', communeCode: '18070', venueType: 'shop', ...claims },
    newSigningKey(active)
  );
  return checkinUrl(baseURL, token);
}

/** A .y4m video of the text as a QR code, for Chromium's fake camera (tests/tools/fake-camera.ts). */
export function cameraFile(name: string, text: string): string {
  return writeCameraVideo(path.resolve('tmp', 'camera', `${name}.y4m`), text, { moduleSize: 6 });
}

/** A browser whose camera shows the given video, with camera permission granted. */
export async function browserWithCamera(y4m: string): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`]
  });
}

/** The visits in the page's IndexedDB diary, read with the raw API (no app code involved). */
export async function diaryVisits(page: Page): Promise<{ venueName: string; source: string; verification: string; checkout: number | null }[]> {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('luu-vet-diary');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('visits')) return resolve([]);
          const all = db.transaction('visits').objectStore('visits').getAll();
          all.onsuccess = () => resolve(all.result);
          all.onerror = () => reject(all.error);
        };
      })
  );
}

/**
 * Waits until the app says it works offline: the service worker has installed its precache and
 * controls the page (the app marks the document, and shows the person a short notice).
 */
export async function waitForOfflineReady(page: Page): Promise<void> {
  await page.waitForFunction(() => document.documentElement.dataset.offlineReady === '1', undefined, { timeout: 30_000, polling: 250 });
}

/** Answers the app's own confirmation dialog (src/lib/ui/DialogHost.svelte); the browser's confirm() is never used. */
export async function confirmInApp(page: Page, yes = true): Promise<void> {
  const dialog = page.getByTestId('confirm-dialog');
  await expect(dialog).toBeVisible();
  await dialog.getByTestId(yes ? 'confirm-yes' : 'confirm-no').click();
  await expect(dialog).toBeHidden();
}

/** With SHOTS=<dir>, the screen is saved there in Vietnamese and in English, to be looked at; otherwise nothing. */
export async function shots(page: Page, name: string) {
  if (!process.env.SHOTS) return;
  await page.screenshot({ path: `${process.env.SHOTS}/${name}-vi.png`, fullPage: true });
  await page.getByTestId('lang-switch').click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByText('Loading…', { exact: true })).toHaveCount(0);
  await page.screenshot({ path: `${process.env.SHOTS}/${name}-en.png`, fullPage: true });
  await page.getByTestId('lang-switch').click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'vi');
}
