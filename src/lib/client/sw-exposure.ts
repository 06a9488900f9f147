/**
 * Service worker additions, loaded by Workbox's generated worker (`importScripts('/sw-exposure.js')`,
 * bundled by scripts/build-server.mjs): the exposure check on periodic background sync, and opening
 * the alert screen from a notification. Only listeners are added at load: a throw here would stop
 * the whole worker from installing, and with it the app offline.
 */
import { showAlertNotifications, type Locale } from './exposure-notify';
import { exposureDb, runExposureCheck } from './exposure-check';
import { PERIODIC_SYNC_TAG } from './exposure-sync-tag';
import { decodeKeysDocument } from '$lib/core/keys';
import type { PublicKey } from '$lib/core/venue/venue-token';



interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface WindowClientLike {
  url: string;
  focus(): Promise<unknown>;
  navigate(url: string): Promise<unknown>;
  postMessage(message: unknown): void;
}
interface WorkerScope {
  addEventListener(type: string, listener: (event: ExtendableEvent & Record<string, unknown>) => void): void;
  registration: ServiceWorkerRegistration;
  clients: { matchAll(o: { type: 'window'; includeUncontrolled: boolean }): Promise<WindowClientLike[]>; openWindow(url: string): Promise<unknown> };
}
const worker = self as unknown as WorkerScope;

async function freshKeys(): Promise<PublicKey[]> {
  try {
    const res = await fetch('/api/keys', { cache: 'no-cache', credentials: 'omit' });
    return (res.ok && decodeKeysDocument(await res.json())) || [];
  } catch {
    return [];
  }
}

async function backgroundCheck(): Promise<void> {
  const locale = ((await exposureDb.meta.get('locale'))?.value as Locale | undefined) ?? 'vi';
  let keys: Promise<PublicKey[]> | null = null;
  await runExposureCheck({
    keys: () => (keys ??= freshKeys()),
    notify: (raised) => showAlertNotifications(raised, locale, worker.registration)
  });
  for (const client of await worker.clients.matchAll({ type: 'window', includeUncontrolled: true })) client.postMessage({ type: 'lv-exposure-checked' });
}

worker.addEventListener('periodicsync', (event) => {
  if (event.tag === PERIODIC_SYNC_TAG) event.waitUntil(backgroundCheck().catch(() => {}));
});

worker.addEventListener('notificationclick', (event) => {
  const notification = event.notification as Notification;
  notification.close();
  const url = (notification.data as { url?: string } | null)?.url ?? '/alerts';
  event.waitUntil(
    (async () => {
      const windows = await worker.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows[0];
      if (open) {
        await open.focus();
        await open.navigate(url).catch(() => {});
      } else await worker.clients.openWindow(url);
    })()
  );
});
