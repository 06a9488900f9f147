/**
 * The exposure check as the pages see it: its status and alerts as reactive state, when it runs
 * (app open, coming back online, back to the app after an hour, a new check-in, the "check now"
 * button, and periodic background sync where the browser has it), and the notification permission.
 */
import type { ExposureAlert } from '$lib/core/exposure/exposure-alerts';
import { getLocale } from '$lib/paraglide/runtime.js';
import type { CheckStatus } from './exposure-check';
import { PERIODIC_SYNC_TAG } from './exposure-sync-tag';

/** Coming back to the app re-checks when the last fetch is older than this. */
const REFRESH_AFTER_MS = 60 * 60 * 1000;
/** Chromium runs periodic sync at most about daily for most sites anyway; ask for twice a day. */
const PERIODIC_MIN_INTERVAL_MS = 12 * 60 * 60 * 1000;

export type NotifyPermission = NotificationPermission | 'unsupported';

const check = () => import('./exposure-check');

class ExposureWatch {
  status = $state.raw<CheckStatus | null>(null);
  alerts = $state.raw<ExposureAlert[]>([]);
  checking = $state(false);
  permission = $state<NotifyPermission>('unsupported');
  #started = false;

  get unhandled(): ExposureAlert[] {
    return this.alerts.filter((a) => a.handledAt === null);
  }

  /** Starts watching: a first check now, and again on the moments that matter. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.permission = typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
    void this.run();
    addEventListener('online', () => void this.run());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState !== 'visible') return;
      const fetched = this.status?.lastFetchedAt ?? 0;
      if (Date.now() - fetched > REFRESH_AFTER_MS) void this.run();
    });
    // The service worker ran a check in the background: show what it found.
    navigator.serviceWorker?.addEventListener('message', (e: MessageEvent) => {
      if ((e.data as { type?: string } | null)?.type === 'lv-exposure-checked') void this.load();
    });
    void this.registerPeriodicCheck();
  }

  /** Reads the held status and alerts without running a check. */
  async load(): Promise<void> {
    const { checkStatus, currentAlerts } = await check();
    [this.status, this.alerts] = await Promise.all([checkStatus(), currentAlerts()]);
  }

  /**
   * Runs the check; `offline` matches what is held without the network (after a new check-in).
   * Without a connection the check still tries the server: the failure is recorded and shown ("could
   * not reach the server at …"), and the `online` event runs it again.
   */
  async run(options: { offline?: boolean } = {}): Promise<void> {
    this.checking = true;
    try {
      // Loaded with the check, not with every page: a cold check-in link should not wait for them.
      const [{ runExposureCheck, exposureDb }, { cachedKeys, prefetchKeys, refreshKeys }, { showAlertNotifications }] = await Promise.all([
        check(),
        import('./keys'),
        import('./exposure-notify')
      ]);
      const locale = getLocale();
      await exposureDb.meta.put({ key: 'locale', value: locale }); // for notifications from the service worker
      this.status = await runExposureCheck({
        offline: options.offline ?? false,
        // The cached list (fetched when missing or old), or the server's current one for an unknown key id.
        keys: async (refresh) => (refresh ? ((await refreshKeys()) ?? cachedKeys()) : (await prefetchKeys(), cachedKeys())),
        notify: async (raised) => showAlertNotifications(raised, locale, await navigator.serviceWorker?.getRegistration())
      });
      this.alerts = await (await check()).currentAlerts();
    } catch {
      // A module that could not load, storage that failed: show what is held rather than nothing.
      await this.load().catch(() => {});
    } finally {
      this.checking = false;
    }
  }

  async markHandled(key: string, handled: boolean): Promise<void> {
    await (await check()).markHandled(key, handled);
    await this.load();
  }

  /** Asks for notifications: only from a tap on a button that says why. */
  async askPermission(): Promise<void> {
    if (typeof Notification === 'undefined') return;
    this.permission = await Notification.requestPermission();
    if (this.permission === 'granted') await this.registerPeriodicCheck();
  }

  /**
   * Periodic background sync: Chromium grants it to installed apps only, and decides how often it
   * fires. Where it is missing, the check runs whenever the app opens.
   */
  async registerPeriodicCheck(): Promise<void> {
    try {
      const registration = await navigator.serviceWorker?.ready;
      const periodic = (registration as ServiceWorkerRegistration & { periodicSync?: { register(tag: string, o: { minInterval: number }): Promise<void> } })
        ?.periodicSync;
      if (!periodic) return;
      const state = await navigator.permissions.query({ name: 'periodic-background-sync' as PermissionName });
      if (state.state === 'granted') await periodic.register(PERIODIC_SYNC_TAG, { minInterval: PERIODIC_MIN_INTERVAL_MS });
    } catch {
      // Not available here: the check on app open covers it.
    }
  }
}

export const exposureWatch = new ExposureWatch();

const NOTIFY_CARD_KEY = 'lv.notifyCard.dismissed';

/** "Later" on the card that asks for notifications: it stays away from the home screen. */
export function notifyCardDismissed(): boolean {
  return typeof localStorage !== 'undefined' && localStorage.getItem(NOTIFY_CARD_KEY) === '1';
}

export function dismissNotifyCard(): void {
  localStorage.setItem(NOTIFY_CARD_KEY, '1');
}
