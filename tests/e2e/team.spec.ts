/**
 * The commune team's offline workspace, in Chromium with the real server and its embedded store:
 * a case built from a citizen's diary (one day code scanned by a team device's fake camera, then
 * a day sent online with a one-time code) finds the market's station entries as contacts; two
 * members of the team work offline on the same contact and at the checkpoint; when they reconnect
 * both devices hold both members' work and show the conflict, which one of them merges.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { readBarcodes } from 'zxing-wasm/reader';
import { DEMO_TEAM_PASSWORD } from '../../playwright.config';
import { decodeDiaryDay } from '../../src/lib/core/citizen/diary-share';
import { browserWithCamera, cameraFile, confirmInApp, demoVenues } from './helpers';
import { preparePdfReading } from '../pdf-reading';

const MEMBER_A = '0912000070';
const MEMBER_B = '0912000071';
const COMMUNE = '18070';
const MARKET = 'demochoducth';

async function login(page: Page, phone: string) {
  await page.goto('/team');
  await page.getByLabel('Số điện thoại').fill(phone);
  await page.getByLabel('Mật khẩu').fill(DEMO_TEAM_PASSWORD);
  await page.getByRole('button', { name: 'Đăng nhập' }).last().click();
  await expect(page.getByTestId('go-cases')).toBeVisible();
}

/** With SHOTS=<dir>, the screens of this walk-through are saved there to be looked at; otherwise nothing. */
async function shot(page: Page, name: string) {
  if (process.env.SHOTS) await page.screenshot({ path: `${process.env.SHOTS}/${name}.png`, fullPage: true });
}

async function synced(page: Page) {
  await expect(page.getByTestId('sync-bar').first()).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
  await expect(page.getByTestId('sync-bar').first()).toHaveAttribute('data-pending', '0', { timeout: 30_000 });
}

/** A citizen's phone: checks in at the market, then opens the page that shares diary days. */
async function citizenSharing(page: Page, marketUrl: string) {
  await page.goto(marketUrl);
  await expect(page.getByTestId('checkin-confirmation')).toBeVisible();
  await page.goto('/diary/share');
  await page.getByTestId('share-day').first().check();
  await page.getByTestId('share-consent').check();
}

test('a case from a shared diary finds its contacts; two members work offline and their conflict is shown, then merged', async ({ browser, request }) => {
  test.setTimeout(240_000);
  const market = (await demoVenues(request)).find((v) => v.venueId === MARKET)!;
  let cameraBrowser: Browser | null = null;
  const contexts: BrowserContext[] = [];
  const context = async (b: Browser) => {
    const c = await b.newContext({ viewport: { width: 390, height: 844 }, locale: 'vi-VN' });
    contexts.push(c);
    return c;
  };
  try {
    // Member A logs in, sets up a checkpoint, and logs a passer-by at the market's station by hand.
    const a = await (await context(browser)).newPage();
    await login(a, MEMBER_A);
    await a.getByTestId('go-checkpoint').click();
    await a.getByTestId('checkpoint-name').fill('Chốt cầu Linh Cảm');
    await a.getByTestId('checkpoint-add').click();
    await expect(a.getByTestId('checkpoint-current')).toHaveText('Chốt cầu Linh Cảm');
    await a.goto(`/venue/station?c=${COMMUNE}&id=${MARKET}`);
    // The station saves nothing until the market's record has reached this device's copy of the
    // commune (the first pull after login may still be running): wait for it before typing.
    await expect(a.getByTestId('station-venue')).toHaveText(market.name);
    await a.getByTestId('manual-button').click();
    await a.getByLabel('Họ tên').fill('Lê Thị Bình');
    await a.getByLabel('Số điện thoại').fill('0987654321');
    await a.getByTestId('manual-entry').getByRole('button').first().click();
    // The whole text, not a '1' anywhere in it: the count this entry makes.
    await expect(a.getByTestId('station-count')).toHaveText('Hôm nay: 1 lượt vào');
    await a.goto('/team');
    await synced(a);

    // The case's own phone: a visit to the market now, shared as a day code.
    const citizen = await (await context(browser)).newPage();
    await citizenSharing(citizen, market.url);
    await citizen.getByTestId('share-show').click();
    await preparePdfReading();
    const png = await citizen.getByTestId('share-code').locator('svg').screenshot();
    const [read] = await readBarcodes(new Uint8Array(png), { formats: ['QRCode'], tryHarder: true });
    expect(decodeDiaryDay(read!.text)?.visits[0]?.venueId).toBe(MARKET);

    // Member B's camera sees that code: B records the case and scans the day into it.
    cameraBrowser = await browserWithCamera(cameraFile('diary-day', read!.text));
    const b = await (await context(cameraBrowser)).newPage();
    await login(b, MEMBER_B);
    await synced(b);
    await b.getByTestId('go-cases').click();
    await b.getByTestId('case-new').click();
    await b.getByTestId('case-name').fill('Nguyễn Văn An');
    await b.getByTestId('case-phone').fill('0911222333');
    await b.getByTestId('case-create').click();
    await expect(b.getByTestId('case-name')).toHaveText('Nguyễn Văn An');
    await expect(b.getByTestId('contacts-none')).toBeVisible();
    await b.getByTestId('diary-scan').click();
    await expect(b.getByTestId('case-visit')).toHaveCount(1, { timeout: 30_000 });
    await expect(b.getByTestId('case-visit')).toContainText(market.name);
    // The station entry of the same venue and time is a contact, with name and phone.
    await expect(b.getByTestId('contact')).toHaveCount(1);
    await expect(b.getByTestId('contact-name')).toHaveText('Lê Thị Bình');
    await expect(b.getByTestId('contact-phone')).toHaveText('0987654321');
    await shot(b, 'case');
    await b.getByTestId('contact-follow').click();
    await expect(b.getByTestId('followup-name')).toHaveText('Lê Thị Bình');
    await b.goto('/team');
    await synced(b);

    // The same citizen sends the day online with a one-time code A issues (A has a signal).
    await a.getByTestId('go-cases').click();
    await a.getByTestId('case-card').filter({ hasText: 'Nguyễn Văn An' }).getByRole('link').click();
    await expect(a.getByTestId('contact')).toHaveCount(1);
    await a.getByTestId('share-code-issue').click();
    const code = (await a.getByTestId('team-share-code').textContent())!.trim();
    await shot(a, 'case-code');
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    await citizen.goto('/diary/share');
    await citizen.getByTestId('share-day').first().check();
    await citizen.getByTestId('share-consent').check();
    await citizen.getByTestId('share-online').click();
    await citizen.getByTestId('share-online-code').fill(code.toLowerCase().replace('-', ' '));
    await citizen.getByTestId('share-online-check').click();
    await shot(citizen, 'citizen-online-share');
    await citizen.getByTestId('share-online-send').click();
    await expect(citizen.getByTestId('share-online-sent')).toBeVisible();
    // A code works once.
    await citizen.goto('/diary/share');
    await citizen.getByTestId('share-day').first().check();
    await citizen.getByTestId('share-consent').check();
    await citizen.getByTestId('share-online').click();
    await citizen.getByTestId('share-online-code').fill(code);
    await citizen.getByTestId('share-online-check').click();
    await expect(citizen.getByTestId('share-online-error')).toBeVisible();
    // The shared day reaches A's device by sync; adding it changes nothing (the scan had it).
    await expect(a.getByTestId('share-received')).toHaveCount(1, { timeout: 30_000 });
    await a.getByTestId('share-accept').click();
    await expect(a.getByTestId('share-received')).toHaveCount(0);
    await expect(a.getByTestId('case-visit')).toHaveCount(1);
    await a.goto('/team');
    await synced(a);
    await synced(b);

    // Both members lose the signal. Each logs an arrival at the checkpoint and edits the contact.
    await a.context().setOffline(true);
    await b.context().setOffline(true);
    const arrival = async (page: Page, name: string, phone: string) => {
      await page.getByTestId('go-checkpoint').click();
      await page.getByTestId('checkpoint-type').click();
      await page.getByTestId('checkpoint-manual-name').fill(name);
      await page.getByTestId('checkpoint-manual-phone').fill(phone);
      await page.getByTestId('checkpoint-manual-next').click();
      await page.getByTestId('checkpoint-review').getByLabel('Sốt').check();
      await expect(page.getByTestId('checkpoint-monitor')).toBeVisible();
      await shot(page, `checkpoint-${phone}`);
      await page.getByTestId('checkpoint-record').click();
      await expect(page.getByTestId('checkpoint-result')).toContainText(name);
      await page.getByRole('link', { name: /Tổ COVID/ }).first().click();
    };
    const editContact = async (page: Page, edit: () => Promise<void>) => {
      await page.getByTestId('go-cases').click();
      await page.getByTestId('case-card').filter({ hasText: 'Nguyễn Văn An' }).getByRole('link').click();
      await page.getByTestId('contact-follow').click();
      await expect(page.getByTestId('followup-name')).toHaveText('Lê Thị Bình');
      await edit();
      await page.getByTestId('followup-save').click();
      await expect(page.getByTestId('followup-saved')).toBeVisible();
    };
    await arrival(a, 'Trần Văn Cường', '0977000111');
    await arrival(b, 'Phạm Thị Dung', '0977000222');
    await editContact(a, async () => {
      await a.getByTestId('followup-called-today').click();
      await a.getByTestId('followup-notes').fill('A: đã gọi, chị Bình ở nhà');
    });
    await editContact(b, async () => {
      await b.getByTestId('followup-test').selectOption('pending');
      await b.getByTestId('followup-notes').fill('B: đã lấy mẫu xét nghiệm');
    });

    // The signal comes back: both devices get both members' work, and the conflict is shown.
    await a.context().setOffline(false);
    await b.context().setOffline(false);
    for (const page of [a, b]) {
      await expect(page.getByTestId('conflict')).toBeVisible({ timeout: 45_000 });
      await expect(page.getByTestId('conflict-version')).toHaveCount(2);
      // Each version says when it was saved as the app writes moments: 24-hour time, dd/mm/yyyy.
      await expect(page.getByTestId('conflict-version').first()).toContainText(/Bản 1 · \d{2}:\d{2}, [^,]+, \d{2}\/\d{2}\/\d{4}/);
      await expect(page.getByTestId('conflict')).toContainText('A: đã gọi, chị Bình ở nhà');
      await expect(page.getByTestId('conflict')).toContainText('B: đã lấy mẫu xét nghiệm');
      await shot(page, `conflict-${page === a ? 'a' : 'b'}`);
    }
    for (const page of [a, b]) {
      // The follow-up list (arrivals and contacts together), on its first filter: due today.
      await page.goto(`/team/followup?c=${COMMUNE}`);
      const arrivals = page.locator('[data-testid="followup-row"][data-kind="arrival"]');
      await expect(arrivals).toHaveCount(2, { timeout: 30_000 });
      await expect(arrivals.filter({ hasText: 'Trần Văn Cường' })).toHaveCount(1);
      await expect(arrivals.filter({ hasText: 'Phạm Thị Dung' })).toHaveCount(1);
    }
    await shot(a, 'monitoring');
    await a.goto('/team');
    await expect(a.getByTestId('conflict-count')).toBeVisible();
    await shot(a, 'team-hub');

    // A merges: the call, the test and both notes are kept, and B's device sees the conflict end.
    await a.getByTestId('go-cases').click();
    await a.getByTestId('case-card').filter({ hasText: 'Nguyễn Văn An' }).getByRole('link').click();
    await a.getByTestId('contact-follow').click();
    await a.getByTestId('conflict-merge').click();
    await expect(a.getByTestId('conflict')).toHaveCount(0);
    await expect(a.getByTestId('followup-test')).toHaveValue('pending');
    await expect(a.getByTestId('followup-notes')).toHaveValue(/A: đã gọi[\s\S]*B: đã lấy mẫu|B: đã lấy mẫu[\s\S]*A: đã gọi/);
    await expect(a.getByTestId('followup-called')).not.toHaveValue('');
    await shot(a, 'followup-merged');
    await b.goto('/team');
    await expect(b.getByTestId('conflict-count')).toHaveCount(0, { timeout: 30_000 });

    // One step publishes the case's visit at the market as an exposure event (other tests may
    // have published some at the market before).
    await synced(b);
    const marketEvents = b.getByTestId('exposure-card').filter({ hasText: market.name });
    await expect(b.getByText('Đang tải…')).toHaveCount(0);
    const before = await marketEvents.count();
    await b.getByTestId('go-cases').click();
    await b.getByTestId('case-card').filter({ hasText: 'Nguyễn Văn An' }).getByRole('link').click();
    await b.getByTestId('publish-phone').fill('0239123456');
    await b.getByTestId('case-publish').click();
    await confirmInApp(b);
    await expect(b.getByTestId('case-info')).toContainText('1');
    await b.goto('/team');
    await expect(marketEvents).toHaveCount(before + 1);

    // The venue list tells the market (a station entry today) from venues nobody used.
    await b.getByTestId('go-venues').click();
    await expect(b.getByTestId('team-venue').filter({ hasText: market.name })).toHaveAttribute('data-use', 'active');
    await expect(b.getByTestId('team-venue').filter({ hasText: 'Chốt cầu Linh Cảm' })).toHaveAttribute('data-use', 'active');
    await b.getByTestId('venue-filter').selectOption('never');
    await expect(b.getByTestId('team-venue').filter({ hasText: market.name })).toHaveCount(0);
    await shot(b, 'venues');

    // The same screens in English, to be looked at (only with SHOTS).
    if (process.env.SHOTS) {
      await b.evaluate(() => localStorage.setItem('PARAGLIDE_LOCALE', 'en'));
      const caseUrl = await (async () => {
        await b.goto(`/team/cases?c=${COMMUNE}`);
        await b.getByTestId('case-card').filter({ hasText: 'Nguyễn Văn An' }).getByRole('link').click();
        await expect(b.getByTestId('contact')).toHaveCount(1);
        return b.url();
      })();
      await shot(b, 'en-case');
      await b.getByTestId('contact-follow').click();
      await expect(b.getByTestId('followup-form')).toBeVisible();
      await shot(b, 'en-followup');
      for (const [name, url] of [['hub', '/team'], ['cases', `/team/cases?c=${COMMUNE}`], ['checkpoint', `/team/checkpoint?c=${COMMUNE}`], ['monitoring', `/team/monitoring?c=${COMMUNE}`], ['venues', `/team/venues?c=${COMMUNE}`]]) {
        await b.goto(url!);
        // Not 'networkidle': the live sync keeps a long poll open.
        await expect(b.getByTestId('sync-bar').first()).toBeVisible();
        await b.waitForTimeout(1000);
        await shot(b, `en-${name}`);
      }
      expect(caseUrl).toContain('/team/case');
    }
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
    await cameraBrowser?.close();
  }
});
