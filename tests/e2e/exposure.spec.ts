/**
 * The loop the product exists for: a citizen scans a venue poster, the commune team publishes an
 * exposure event for that venue and time, and the citizen's phone raises the alert and a
 * notification, without telling the server anything about its diary.
 */
import { expect, test, type BrowserContext, type Page, type Request } from '@playwright/test';
import { newSigningKey } from '../../src/lib/core/venue/venue-signing';
import type { SignedExposure } from '../../src/lib/core/exposure/exposure';
import { signSnapshot } from '../../src/lib/core/exposure/exposure-sign';
import { at, makeExposureEvent } from '../../src/lib/core/testing';
import { clockTime, dayKey, dmy, HOUR, MINUTE } from '../../src/lib/core/time';
import { browserWithCamera, cameraFile, confirmInApp, demoVenues, diaryVisits, waitForOfflineReady, shots } from './helpers';
import { DEMO_TEAM_PASSWORD } from '../../playwright.config';

const TEAM_PHONE = '0912000070';

async function teamLogin(page: Page) {
  await page.goto('/team');
  await page.getByLabel('Số điện thoại').fill(TEAM_PHONE);
  await page.getByLabel('Mật khẩu').fill(DEMO_TEAM_PASSWORD);
  await page.getByRole('button', { name: 'Đăng nhập' }).last().click();
  await expect(page.getByTestId('new-exposure')).toBeVisible();
}

/** Fills the team's form (times in Vietnam, as the team reads its clock) and publishes. */
async function publishEvent(page: Page, venueName: string, from: number, to: number, level: 'high' | 'monitor' = 'high') {
  await page.getByTestId('new-exposure').click();
  await page.getByTestId('exposure-venue').selectOption({ label: venueName });
  await page.getByTestId('exposure-from-day').fill(dmy(dayKey(from)));
  await page.getByTestId('exposure-from-time').fill(clockTime(from));
  await page.getByTestId('exposure-to-day').fill(dmy(dayKey(to)));
  await page.getByTestId('exposure-to-time').fill(clockTime(to));
  await page.getByTestId(`level-${level}`).check();
  await page.getByTestId('exposure-contact').fill('0239 3821 115');
  await page.getByTestId('exposure-publish').click();
  await confirmInApp(page);
  await expect(page.getByTestId('exposure-card').filter({ hasText: venueName }).first()).toBeVisible();
}

/** A value the exposure check keeps in its IndexedDB (luu-vet-exposures, table meta), read with the raw API. */
async function checkMeta(page: Page, key: string): Promise<unknown> {
  return page.evaluate(
    (key) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('luu-vet-exposures');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('meta').objectStore('meta').get(key);
          get.onsuccess = () => resolve((get.result as { value?: unknown } | undefined)?.value ?? null);
          get.onerror = () => reject(get.error);
        };
      }),
    key
  );
}

async function synced(page: Page) {
  await expect(page.getByTestId('sync-bar')).toHaveAttribute('data-state', 'done', { timeout: 20_000 });
  await expect(page.getByTestId('sync-bar')).toHaveAttribute('data-pending', '0', { timeout: 20_000 });
}

/** The server signs on push; the snapshot shows the event once it is published. */
async function published(page: Page, predicate: (events: SignedExposure[]) => boolean) {
  await expect
    .poll(async () => predicate(((await (await page.request.get('/api/exposures/42')).json()) as { events: SignedExposure[] }).events), { timeout: 20_000 })
    .toBe(true);
}

async function notifications(page: Page): Promise<{ title: string; body: string }[]> {
  return page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration('/');
    return reg ? (await reg.getNotifications()).map((n) => ({ title: n.title, body: n.body })) : [];
  });
}

/** Fires the service worker's periodic sync event through the DevTools protocol. */
async function dispatchPeriodicSync(context: BrowserContext, page: Page, origin: string) {
  const cdp = await context.newCDPSession(page);
  const registration = new Promise<string>((resolve) =>
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const ours = registrations.find((r) => r.scopeURL.startsWith(origin) && !r.isDeleted);
      if (ours) resolve(ours.registrationId);
    })
  );
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.dispatchPeriodicSyncEvent', { origin, registrationId: await registration, tag: 'lv-exposure-check' });
  await cdp.detach();
}

async function checkNow(page: Page) {
  await page.getByTestId('check-now').click();
  await expect(page.getByTestId('check-now')).toBeEnabled({ timeout: 30_000 });
}

test('a published event at a scanned venue raises one alert and a notification; forged events are ignored; withdrawal clears it', async ({ request, baseURL, browser }) => {
  test.setTimeout(180_000);
  const market = (await demoVenues(request)).find((v) => v.venueId === 'demochoducth')!;
  const camera = await browserWithCamera(cameraFile('exposure-market', market.url));
  let citizenContext: BrowserContext | null = null;
  const teamContext = await browser.newContext({ baseURL });
  try {
    // The citizen scans the market's poster. Notifications are allowed up front: headless Chromium
    // answers 'denied' to a page's request, so the card that asks (shown while the permission is
    // 'default') cannot be clicked through here.
    citizenContext = await camera.newContext({ baseURL, permissions: ['camera', 'notifications'], viewport: { width: 390, height: 844 } });
    const citizen = await citizenContext.newPage();
    await citizen.goto('/');
    await waitForOfflineReady(citizen);
    await citizen.getByTestId('scan-button').click();
    await expect(citizen.getByTestId('checkin-confirmation').getByTestId('venue-name')).toHaveText(market.name, { timeout: 30_000 });
    await expect(citizen.getByTestId('checkin-confirmation').getByTestId('verification')).toHaveAttribute('data-verification', 'verified');
    const visitTime = Date.now();
    await citizen.goto('/');
    await expect(citizen.getByTestId('exposure-status')).toContainText('Chưa phát hiện tiếp xúc', { timeout: 30_000 });
    await expect(citizen.getByTestId('notify-card')).toBeHidden();

    // A man in the middle serves the compact snapshot forged (signed with a key the server never had,
    // under the server's key id) and then altered (one byte of the real one changed): both are
    // refused whole, no alert is raised, and the citizen is told a list was ignored.
    const team = await teamContext.newPage();
    await teamLogin(team);
    await publishEvent(team, 'Quán cà phê Sông La', visitTime - 2 * HOUR, visitTime - HOUR, 'monitor'); // a venue the citizen never visited
    await synced(team);
    await published(team, (events) => events.some((e) => e.event.venueName === 'Quán cà phê Sông La'));
    const forger = newSigningKey((await (await request.get('/api/keys')).json()).active);
    const atMarket = makeExposureEvent({ eventId: 'forged0000001', venueId: market.venueId, venueName: market.name, from: visitTime - HOUR, to: visitTime + HOUR });
    const forged = Buffer.from(signSnapshot({ province: '42', kind: 'full', since: null, version: Date.now(), events: [atMarket], withdrawn: [] }, forger));
    let served = 0; // odd: the forged list, even: the real one altered
    await citizen.route('**/api/exposures/42/snapshot/v2*', async (route) => {
      served++;
      if (served % 2 === 1) return route.fulfill({ status: 200, contentType: 'application/octet-stream', body: forged });
      const { 'if-none-match': _etag, ...headers } = route.request().headers();
      const real = Buffer.from(await (await route.fetch({ headers })).body());
      real[real.length - 3] = real[real.length - 3]! ^ 0x01;
      await route.fulfill({ status: 200, contentType: 'application/octet-stream', body: real });
    });
    await citizen.goto('/alerts');
    await expect(citizen.getByTestId('notify-on')).toBeVisible();
    await checkNow(citizen);
    await expect(citizen.getByTestId('alerts-none')).toBeVisible();
    await expect(citizen.getByTestId('alerts-rejected')).toContainText('1 danh sách nơi có ca bệnh không có chữ ký hợp lệ');
    await checkNow(citizen);
    expect(served).toBeGreaterThanOrEqual(2); // the forged list and the altered one (opening /alerts runs a check too)
    await expect(citizen.getByTestId('alerts-none')).toBeVisible();
    await expect(citizen.getByTestId('alerts-rejected')).toContainText('1 danh sách nơi có ca bệnh không có chữ ký hợp lệ');
    await citizen.unroute('**/api/exposures/42/snapshot/v2*');

    // The team publishes an event at the market around the visit, and another at the market days
    // before: only the first matches.
    await publishEvent(team, market.name, visitTime - HOUR, visitTime + 5 * MINUTE);
    // The second one is written in a village without signal: kept on the device, published on return.
    await teamContext.setOffline(true);
    await publishEvent(team, market.name, at(dayKey(visitTime - 72 * HOUR), '08:00'), at(dayKey(visitTime - 72 * HOUR), '09:00'));
    await expect(team.getByTestId('sync-bar')).toHaveAttribute('data-state', 'offline');
    await expect(team.getByTestId('exposure-card')).toHaveCount(3);
    await teamContext.setOffline(false);
    await synced(team);
    await published(team, (events) => events.filter((e) => e.event.venueId === market.venueId && !e.event.withdrawn).length === 2);

    // The service worker's periodic background sync runs the check with no app page open (fired
    // through DevTools: Chromium grants the real schedule to installed apps only; the tab shows one of
    // the app's icons, a document of the origin where no app code runs). Every request the phone makes
    // meanwhile, page and worker, is recorded: nothing about the diary goes out.
    const requests: Request[] = [];
    citizenContext.on('request', (r) => requests.push(r));
    await citizen.goto('/icons/icon.svg');
    expect(await notifications(citizen)).toHaveLength(0);
    await dispatchPeriodicSync(citizenContext, citizen, baseURL!);
    await expect.poll(() => notifications(citizen), { timeout: 30_000 }).toHaveLength(1);
    await citizen.goto('/alerts');
    await expect(citizen.getByTestId('alert-card')).toHaveCount(1);
    const card = citizen.getByTestId('alert-card');
    await expect(card).toContainText(market.name);
    await expect(card).toContainText('Nguy cơ cao: cách ly và xét nghiệm');
    await expect(card.getByRole('link', { name: 'Gọi 0239 3821 115' })).toHaveAttribute('href', 'tel:02393821115');
    expect((await notifications(citizen))[0]).toMatchObject({ title: 'Lưu Vết: bạn có thể đã tiếp xúc ca bệnh' });
    expect((await notifications(citizen))[0]!.body).toContain(market.name);

    // The page's own check finds the same alert, and does not notify twice.
    await checkNow(citizen);
    await expect(citizen.getByTestId('alert-card')).toHaveCount(1);
    const visit = (await diaryVisits(citizen))[0] as unknown as { checkin: number };
    const secrets = [market.venueId, String(visit.checkin), String(Math.floor(visit.checkin / 1000)), new Date(visit.checkin).toISOString().slice(0, 16), clockTime(visit.checkin)];
    const checkRequests = requests.filter((r) => !new URL(r.url()).pathname.startsWith('/_app/') && !['/alerts', '/icons/icon.svg'].includes(new URL(r.url()).pathname));
    expect(checkRequests.map((r) => new URL(r.url()).pathname)).toEqual(expect.arrayContaining(['/api/exposures/42/snapshot/v2', '/api/keys']));
    for (const r of checkRequests) {
      const sent = `${r.url()} ${r.postData() ?? ''} ${JSON.stringify(await r.allHeaders())}`;
      for (const secret of secrets) expect(sent, `${r.method()} ${r.url()} carries ${secret}`).not.toContain(secret);
      // Only what every phone asks for: the table, the keys, a province's snapshot, with the public
      // version of the list it holds (and the notification's icon).
      expect(new URL(r.url()).pathname).toMatch(/^\/(api\/(provinces|keys|exposures\/[0-9]{2}\/snapshot\/v2)|icons\/[a-z0-9-]+\.png)$/);
      expect(new URL(r.url()).search).toMatch(/^(\?since=[0-9]+)?$/);
      expect(r.method()).toBe('GET');
    }
    citizenContext.removeAllListeners('request');

    await checkNow(citizen);
    expect(await notifications(citizen)).toHaveLength(1);
    await citizen.goto('/');
    await expect(citizen.getByTestId('exposure-alert')).toContainText('Bạn có thể đã tiếp xúc');

    await shots(citizen, 'home-alert');
    await citizen.goto('/alerts');
    await shots(citizen, 'alerts-open');

    // Marked handled, it moves to the handled list, with its advice and dates, and neither headline
    // says "no exposure": handled means the person is doing what it says, not that nothing happened.
    await citizen.getByTestId('alert-handled').click();
    const handled = citizen.getByTestId('alerts-handled').getByTestId('alert-card');
    await expect(handled).toHaveCount(1);
    await expect(handled).toContainText('Việc cần làm ngay');
    await expect(handled).toContainText(/Đã xử lý lúc \d{2}:\d{2}/);
    await expect(citizen.getByTestId('alerts-handled-headline')).toContainText('Bạn đã tiếp xúc với ca bệnh (đã xử lý)');
    await expect(citizen.getByTestId('alerts-handled-headline')).toContainText(/lần tiếp xúc gần nhất ngày \d{2}\/\d{2}\/\d{4}/);
    await expect(citizen.getByTestId('alerts-none')).toHaveCount(0);
    await expect(citizen.getByText('Chưa phát hiện tiếp xúc')).toHaveCount(0);
    await shots(citizen, 'alerts-handled');
    await checkNow(citizen);
    await expect(handled).toHaveCount(1);
    await citizen.goto('/');
    await expect(citizen.getByTestId('exposure-status')).toHaveAttribute('data-state', 'handled');
    await expect(citizen.getByTestId('exposure-status')).toContainText('Bạn đã tiếp xúc với ca bệnh (đã xử lý)');
    await expect(citizen.getByTestId('exposure-status')).not.toContainText('Chưa phát hiện tiếp xúc');
    await shots(citizen, 'home-handled');

    // The team withdraws the event: the alert is gone at the next check.
    await team.getByTestId('exposure-card').filter({ hasText: market.name }).first().getByTestId('exposure-edit').click();
    await team.getByTestId('exposure-withdraw').click();
    await confirmInApp(team);
    await expect(team.getByTestId('exposure-card').filter({ hasText: market.name }).first().getByTestId('exposure-state')).toHaveText('Đã rút lại');
    await synced(team);
    await published(team, (events) => events.some((e) => e.event.venueId === market.venueId && e.event.withdrawn));
    await citizen.goto('/alerts');
    await checkNow(citizen);
    await expect(citizen.getByTestId('alert-card')).toHaveCount(0);
    await expect(citizen.getByTestId('alerts-none')).toBeVisible();
  } finally {
    await teamContext.close();
    await camera.close();
  }
});

test('offline, the list keeps its download time, "check now" says the server could not be reached, and the check runs again when the connection returns', async ({ browser, baseURL, request }) => {
  const venue = (await demoVenues(request))[0]!;
  const context = await browser.newContext({ baseURL, viewport: { width: 390, height: 844 } });
  try {
    const page = await context.newPage();
    await page.goto(venue.url);
    await expect(page.getByTestId('checkin-confirmation')).toBeVisible();
    await waitForOfflineReady(page);
    await page.goto('/alerts');
    // The check after the check-in downloads the province of the visit.
    await expect(page.getByTestId('fetched-at')).toContainText(/Danh sách nơi có ca bệnh tải về lúc \d{2}:\d{2}/, { timeout: 30_000 });
    await expect(page.getByTestId('check-failed')).toHaveCount(0);
    const downloaded = (await checkMeta(page, 'lastFetchedAt')) as number;
    expect(downloaded).toBeGreaterThan(0);

    await context.setOffline(true);
    await page.getByTestId('check-now').click();
    await expect(page.getByTestId('check-failed')).toContainText(/Không kết nối được máy chủ lúc \d{2}:\d{2}; sẽ thử lại khi có mạng/);
    await expect(page.getByTestId('check-now')).toBeEnabled();
    // Nothing was downloaded: the time shown is still the last download's.
    expect(await checkMeta(page, 'lastFetchedAt')).toBe(downloaded);
    await expect(page.getByTestId('fetched-at')).toContainText(clockTime(downloaded));
    await shots(page, 'alerts-offline');
    await page.goto('/');
    await expect(page.getByTestId('exposure-status').getByTestId('check-failed')).toBeVisible();
    await shots(page, 'home-offline');

    // Back online, the check runs by itself (the `online` event): a new download, and the failure goes.
    await context.setOffline(false);
    await expect(page.getByTestId('exposure-status').getByTestId('check-failed')).toHaveCount(0, { timeout: 30_000 });
    await expect.poll(() => checkMeta(page, 'lastFetchedAt'), { timeout: 30_000 }).not.toBe(downloaded);
  } finally {
    await context.close();
  }
});
