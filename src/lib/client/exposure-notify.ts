/**
 * System notifications for new exposure alerts, from the page or the service worker. The text says
 * where and when, so that the person knows what it is about before opening the app; the tag makes
 * a repeated notification of the same alert replace the first instead of piling up.
 */
import type { ExposureAlert } from '$lib/core/exposure/exposure-alerts';
import { clockTime, dayKey } from '$lib/core/time';
// Named imports, not the `m` namespace: the service worker bundle then carries these four messages, not all of them.
import { alert_level_high, alert_level_monitor, notify_body, notify_title } from '$lib/paraglide/messages.js';

export type Locale = 'vi' | 'en';

function when(ms: number, locale: Locale): string {
  const [y, mo, d] = dayKey(ms).split('-');
  return locale === 'vi' ? `${clockTime(ms)} ${d}/${mo}/${y}` : `${clockTime(ms)}, ${d}/${mo}/${y}`;
}

export function alertNotification(alert: ExposureAlert, locale: Locale): { title: string; options: NotificationOptions } {
  const level = alert.event.level === 'high' ? alert_level_high({}, { locale }) : alert_level_monitor({}, { locale });
  return {
    title: notify_title({}, { locale }),
    options: {
      body: notify_body({ venue: alert.event.venueName, time: when(alert.visitCheckin, locale), level }, { locale }),
      tag: `lv-exposure-${alert.key}`,
      icon: '/icons/icon-192.png',
      badge: '/icons/icon-192.png',
      requireInteraction: alert.event.level === 'high',
      data: { url: '/alerts' }
    }
  };
}

/** Shows one notification per alert through the service worker (or the page when it has none). */
export async function showAlertNotifications(raised: readonly ExposureAlert[], locale: Locale, registration?: ServiceWorkerRegistration | null): Promise<void> {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  for (const alert of raised) {
    const { title, options } = alertNotification(alert, locale);
    try {
      if (registration) await registration.showNotification(title, options);
      else new Notification(title, options);
    } catch {
      // Some browsers allow notifications only from a service worker; the alert screen still shows it.
    }
  }
}
