import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { classifyScan } from '../../src/lib/core/citizen/scan';
import { encodePersonalQr } from '../../src/lib/core/citizen/personal-qr';
import { dayKey, dmy } from '../../src/lib/core/time';
import { CHROMIUM_ARGS, E2E_PORT } from '../../playwright.config';
import { qrCodesOfPages, textOfPdf } from '../pdf-reading';
import { chromium, expect, test, type Page } from '@playwright/test';
import { browserWithCamera, cameraFile, confirmInApp, waitForOfflineReady } from './helpers';

const CCCD = '001099000001|000000001|Nguyễn Văn A|01011990|Nam|Số 1 Đường Thử Nghiệm, Phường Mẫu, Quận 1, TP. Hồ Chí Minh|15042021';

/** With SHOTS=<dir>, the screens of these walk-throughs are saved there to be looked at; otherwise nothing. */
async function shot(page: Page, name: string) {
  if (process.env.SHOTS) await page.screenshot({ path: `${process.env.SHOTS}/${name}.png`, fullPage: true });
}

async function registerOwner(page: Page, phone: string) {
  await page.goto('/venue');
  await page.getByRole('tab', { name: 'Đăng ký' }).click();
  await page.getByLabel('Họ tên').fill('Chủ quán Thử');
  await page.getByLabel('Số điện thoại').fill(phone);
  await page.getByLabel('Mật khẩu').fill('mat-khau-dai');
  await page.getByRole('button', { name: 'Tạo tài khoản' }).click();
  await expect(page.getByText(`Đã đăng nhập: ${phone}`)).toBeVisible();
}

async function createVenue(page: Page, name: string) {
  await page.getByTestId('new-venue').click();
  await page.getByLabel('Tên địa điểm').fill(name);
  await page.getByLabel('Loại địa điểm').selectOption('food');
  // Searching without diacritics finds the commune.
  await page.getByTestId('unit-picker').fill('tung chau');
  await page.getByRole('listbox').getByRole('button').first().click();
  await expect(page.getByTestId('unit-picker')).toHaveValue(/Xã Tùng Châu/);
  await page.getByLabel('Địa chỉ').fill('Thôn 1');
  await page.getByRole('button', { name: 'Lưu' }).click();
  await expect(page.getByTestId('venue-card').filter({ hasText: name })).toBeVisible();
}

test('an owner registers, creates a venue and gets its signed code after sync', async ({ page }) => {
  await registerOwner(page, '0901000001');
  await createVenue(page, 'Quán cơm Bà Tư');
  await expect(page.getByTestId('venue-card').getByTestId('venue-signed')).toBeVisible({ timeout: 20_000 });
  await expect(page.getByTestId('sync-bar')).toHaveAttribute('data-state', 'done');

  // The poster, printed from the browser and as a PDF: both carry a QR that checks in at this venue.
  await page.getByRole('link', { name: 'In mã QR' }).click();
  await expect(page.getByTestId('poster').locator('svg').first()).toBeVisible();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lv-e2e-poster-'));
  await page.emulateMedia({ media: 'print' });
  const printed = path.join(dir, 'printed.pdf');
  writeFileSync(printed, new Uint8Array(await page.pdf({ preferCSSPageSize: true, printBackground: true })));
  await page.emulateMedia({ media: 'screen' });
  const download = page.waitForEvent('download');
  await page.getByTestId('poster-pdf').click();
  const downloaded = path.join(dir, 'downloaded.pdf');
  await (await download).saveAs(downloaded);
  for (const file of [printed, downloaded]) {
    const pages = await qrCodesOfPages(file, dir);
    expect(pages).toHaveLength(1);
    const scan = classifyScan(pages[0]![0]!.text);
    expect(scan.kind === 'venue' && scan.parsed.claims.name).toBe('Quán cơm Bà Tư');
    expect(textOfPdf(file)).toContain('Quán cơm Bà Tư');
  }
  // The QR opens the check-in page on this deployment and verifies.
  await page.goto((await qrCodesOfPages(downloaded, dir))[0]![0]!.text);
  await expect(page.getByTestId('checkin-confirmation').getByTestId('verification')).toHaveAttribute('data-verification', 'verified');

  // Suspending is asked in the app's dialog: "no" keeps the venue open, "yes" suspends it.
  await page.goto('/venue');
  await page.getByTestId('venue-card').getByRole('link', { name: 'Sửa' }).click();
  const suspend = page.getByRole('button', { name: 'Tạm dừng địa điểm' });
  await suspend.click();
  await confirmInApp(page, false);
  await expect(page).toHaveURL(/\/venue\/edit/);
  await suspend.click();
  await confirmInApp(page);
  await expect(page.getByTestId('venue-card')).toContainText('Tạm dừng');

  // A wrong password and a taken number get clear answers.
  const other = await page.context().browser()!.newContext({ baseURL: test.info().project.use.baseURL });
  const p2 = await other.newPage();
  await p2.goto('/venue');
  await p2.getByLabel('Số điện thoại').fill('0901000001');
  await p2.getByLabel('Mật khẩu').fill('sai-mat-khau');
  await p2.getByRole('button', { name: 'Đăng nhập' }).last().click();
  await expect(p2.getByTestId('auth-error')).toHaveText('Sai số điện thoại hoặc mật khẩu.');
  await other.close();
});

test('a station scans ID cards offline, then syncs without losing or duplicating', async ({ baseURL }) => {
  const browser = await browserWithCamera(cameraFile('station-cccd', CCCD));
  try {
    const context = await browser.newContext({ baseURL, permissions: ['camera'], viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await registerOwner(page, '0901000002');
    await createVenue(page, 'Tiệm tạp hóa Cô Ba');
    await expect(page.getByTestId('venue-signed')).toBeVisible({ timeout: 20_000 });

    await page.getByRole('link', { name: 'Trạm quét' }).click();
    await expect(page.getByTestId('station-venue')).toHaveText('Tiệm tạp hóa Cô Ba');
    // The signal goes once the app is installed for offline use (the first visit's background download).
    await waitForOfflineReady(page);
    await context.setOffline(true);
    await page.reload();
    // The camera keeps showing the same card: one entry, the rest are the same person within 2 minutes.
    await expect(page.getByTestId('station-result')).toContainText('Nguyễn Văn A', { timeout: 30_000 });
    await expect(page.getByTestId('station-count')).toHaveText('Hôm nay: 1 lượt vào');
    await expect(page.getByTestId('station-result')).toContainText('đã ghi trong 2 phút qua', { timeout: 15_000 });

    // Someone without a code, typed in.
    await page.getByTestId('manual-button').click();
    await page.getByLabel('Họ tên').fill('Lê Thị Cúc');
    await page.getByLabel('Năm sinh').fill('1950');
    await page.getByRole('button', { name: 'Lưu' }).click();
    await expect(page.getByTestId('station-count')).toHaveText('Hôm nay: 2 lượt vào');
    // The typed entry surely waits; the card may have been read (and sent) before the signal went,
    // while the page waited to be ready offline. Either way the other device must end with exactly 2.
    await expect(page.getByTestId('sync-bar')).toHaveAttribute('data-state', 'offline');
    await expect(page.getByTestId('sync-bar')).toHaveAttribute('data-pending', /^[12]$/);

    await context.setOffline(false);
    await page.evaluate(() => dispatchEvent(new Event('online')));
    await expect(page.getByTestId('sync-bar')).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
    await expect(page.getByTestId('sync-bar')).toHaveAttribute('data-pending', '0');

    // Another device of the same account sees exactly the two entries.
    const fresh = await browser.newContext({ baseURL });
    const other = await fresh.newPage();
    await other.goto('/venue');
    await other.getByLabel('Số điện thoại').fill('0901000002');
    await other.getByLabel('Mật khẩu').fill('mat-khau-dai');
    await other.getByRole('button', { name: 'Đăng nhập' }).last().click();
    await other.getByRole('link', { name: 'Thống kê' }).click({ timeout: 30_000 });
    await expect(other.getByTestId('count-today')).toHaveText('2', { timeout: 30_000 });
    const download = other.waitForEvent('download');
    await other.getByTestId('export-entries').click();
    const csv = readFileSync(await (await download).path(), 'utf8');
    expect(csv).toContain('Nguyễn Văn A');
    expect(csv).toContain('Lê Thị Cúc');
    expect(csv.trim().split('\r\n')).toHaveLength(3);
  } finally {
    await browser.close();
  }
});

test("the station shows a flagged declaration in amber, lists today's scans to correct them with undo, and counts as the dashboard does", async ({ baseURL }) => {
  // A visitor's personal QR declaring a cough and travel from Xã Tùng Châu (level 3 in the demo directory).
  const qr = encodePersonalQr({
    name: 'Phạm Thị Khai',
    phone: '0912345670',
    birthYear: 1985,
    declaration: { selfDeclared: true, date: dayKey(Date.now()), symptoms: ['cough'], contactWithCase: false, travelledUnits: ['18076'], vaccineDoses: 2 }
  });
  test.setTimeout(180_000);
  const browser = await browserWithCamera(cameraFile('station-declared', qr));
  try {
    const context = await browser.newContext({ baseURL, permissions: ['camera'], viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await registerOwner(page, '0901000003');
    await createVenue(page, 'Nhà sách Hồng Hà');
    await expect(page.getByTestId('venue-signed')).toBeVisible({ timeout: 20_000 });
    await page.getByRole('link', { name: 'Trạm quét' }).click();

    // Amber, not the green ✓: the flags in words, and the entry still recorded.
    const result = page.getByTestId('station-result');
    await expect(result).toHaveAttribute('data-attention', 'true', { timeout: 30_000 });
    await expect(result).toContainText('Kiểm tra thêm');
    // The entry is said to be logged once, then what to do.
    await expect(result).toContainText('đã ghi lượt vào · hỏi thêm trước khi cho vào');
    await expect(result).not.toContainText('✓');
    await expect(result.getByTestId('station-flags')).toContainText('Có triệu chứng: Ho');
    await expect(result.getByTestId('station-flags')).toContainText(/Đến từ Xã Tùng Châu.*\(cấp độ 3\)/);
    await expect(page.getByTestId('station-count')).toHaveText('Hôm nay: 1 lượt vào');
    await shot(page, 'station-amber-vi');
    await result.getByTestId('station-result-seen').click();

    // Two people typed in, and one mistaken scan.
    for (const name of ['Lê Thị Cúc', 'Trần Văn Bình', 'Quét Nhầm']) {
      await page.getByTestId('manual-button').click();
      await page.getByLabel('Họ tên').fill(name);
      await page.getByRole('button', { name: 'Lưu' }).click();
      await expect(page.getByTestId('station-entry').filter({ hasText: name })).toBeVisible();
    }
    await expect(page.getByTestId('station-count')).toHaveText('Hôm nay: 4 lượt vào');
    const row = (name: string) => page.getByTestId('station-entry').filter({ hasText: name });
    // Newest first, with the time.
    await expect(page.getByTestId('station-entry').first()).toContainText('Quét Nhầm');
    await expect(row('Lê Thị Cúc')).toContainText(/\d{2}:\d{2}/);

    // Cúc was leaving: the direction is fixed, the count follows.
    await row('Lê Thị Cúc').getByTestId('entry-flip').click();
    await expect(row('Lê Thị Cúc')).toHaveAttribute('data-state', 'out');
    await expect(page.getByTestId('station-count')).toHaveText('Hôm nay: 3 lượt vào');
    // Bình removed by mistake, and restored with the toast's undo.
    await row('Trần Văn Bình').getByTestId('entry-remove').click();
    await expect(row('Trần Văn Bình')).toHaveAttribute('data-state', 'removed');
    await expect(page.getByTestId('station-count')).toHaveText('Hôm nay: 2 lượt vào');
    await expect(page.getByTestId('station-undo-toast')).toContainText('Trần Văn Bình');
    await shot(page, 'station-today-vi');
    await page.getByTestId('station-undo').click();
    await expect(row('Trần Văn Bình')).toHaveAttribute('data-state', 'in');
    await expect(page.getByTestId('station-count')).toHaveText('Hôm nay: 3 lượt vào');
    // The mistaken scan removed for good.
    await row('Quét Nhầm').getByTestId('entry-remove').click();
    await expect(row('Quét Nhầm')).toHaveAttribute('data-state', 'removed');
    await expect(page.getByTestId('station-undo-toast')).toBeHidden({ timeout: 15_000 });
    await expect(page.getByTestId('station-count')).toHaveText('Hôm nay: 2 lượt vào');
    await expect(page.getByTestId('sync-bar')).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
    await expect(page.getByTestId('sync-bar')).toHaveAttribute('data-pending', '0');

    // Another device of the account: after sync its dashboard counts the same 2, and the export
    // reads in Vietnamese, dd/mm/yyyy, with Cúc going out and no mistaken scan.
    const fresh = await browser.newContext({ baseURL, viewport: { width: 390, height: 844 } });
    const other = await fresh.newPage();
    await other.goto('/venue');
    await other.getByLabel('Số điện thoại').fill('0901000003');
    await other.getByLabel('Mật khẩu').fill('mat-khau-dai');
    await other.getByRole('button', { name: 'Đăng nhập' }).last().click();
    await other.getByRole('link', { name: 'Thống kê' }).click({ timeout: 30_000 });
    await expect(other.getByTestId('count-today')).toHaveText('2', { timeout: 30_000 });
    await expect(other.getByTestId('count-checkins')).toHaveText('0');
    await expect(other.getByText('số của hôm nay có vào ngày mai')).toBeVisible();
    await expect(other.getByTestId('station-days')).toHaveAttribute('aria-label', new RegExp(`${dmy(dayKey(Date.now())).slice(0, 5)} 2 lượt`));
    await shot(other, 'dashboard-vi');
    let download = other.waitForEvent('download');
    await other.getByTestId('export-entries').click();
    let csv = readFileSync(await (await download).path(), 'utf8');
    let lines = csv.replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(lines[0]).toBe('Ngày,Giờ,Chiều,Họ tên,Số điện thoại,Số CCCD/CMND,Số thẻ BHYT,Năm sinh,Địa chỉ,Nguồn,Mã địa điểm');
    expect(lines).toHaveLength(4);
    expect(csv).not.toContain('Quét Nhầm');
    const cuc = lines.find((l) => l.includes('Lê Thị Cúc'))!;
    expect(cuc).toMatch(new RegExp(`^${dmy(dayKey(Date.now()))},\\d{2}:\\d{2},Ra,Lê Thị Cúc,.*,Nhập tay,`));
    expect(lines.find((l) => l.includes('Phạm Thị Khai'))).toContain(',Vào,');

    // In English: English words in the export, dates still dd/mm/yyyy; the way back goes to /venue.
    await other.getByTestId('lang-switch').click();
    await expect(other.getByTestId('count-today')).toHaveText('2');
    await shot(other, 'dashboard-en');
    download = other.waitForEvent('download');
    await other.getByTestId('export-entries').click();
    csv = readFileSync(await (await download).path(), 'utf8');
    lines = csv.replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(lines[0]).toBe('Date,Time,Direction,Name,Phone,ID number,Health insurance number,Birth year,Address,Source,Venue ID');
    expect(lines.find((l) => l.includes('Lê Thị Cúc'))).toMatch(new RegExp(`^${dmy(dayKey(Date.now()))},\\d{2}:\\d{2},Out,Lê Thị Cúc,.*,Typed in,`));
    await other.getByTestId('dash-back').click();
    await expect(other).toHaveURL(/\/venue$/);

    // The station in English too (full screen: no language button; the choice is the app's).
    await page.evaluate(() => localStorage.setItem('PARAGLIDE_LOCALE', 'en'));
    await page.reload();
    await expect(page.getByTestId('station-entry').filter({ hasText: 'Quét Nhầm' })).toContainText('Removed');
    await shot(page, 'station-today-en');
    await expect(page.getByTestId('station-result')).toHaveAttribute('data-attention', 'true', { timeout: 30_000 });
    await expect(page.getByTestId('station-result')).toContainText('Check further');
    await shot(page, 'station-amber-en');
  } finally {
    await browser.close();
  }
});

test('the station explains a refused camera in words, with a retry', async () => {
  // A camera exists but the permission is refused (no --use-fake-ui-for-media-stream, no grant).
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: [...CHROMIUM_ARGS, '--use-fake-device-for-media-stream'] });
  try {
    const page = await browser.newPage({ baseURL: `http://localhost:${E2E_PORT}`, viewport: { width: 390, height: 844 } });
    await registerOwner(page, '0901000004');
    await createVenue(page, 'Tiệm may Cô Năm');
    await page.getByRole('link', { name: 'Trạm quét' }).click();
    const problem = page.getByTestId('camera-problem');
    await expect(problem).toHaveAttribute('data-problem', 'denied');
    await expect(problem).toContainText('chưa cho phép trang này dùng máy ảnh');
    await expect(problem).not.toContainText('NotAllowedError');
    await shot(page, 'station-denied-vi');
    await problem.getByTestId('camera-retry').click();
    await expect(page.getByTestId('camera-problem')).toHaveAttribute('data-problem', 'denied');
    // The rest of the station still works: someone typed in is logged.
    await page.getByTestId('manual-button').click();
    await page.getByLabel('Họ tên').fill('Lê Văn Tám');
    await page.getByRole('button', { name: 'Lưu' }).click();
    await expect(page.getByTestId('station-count')).toHaveText('Hôm nay: 1 lượt vào');
    await page.evaluate(() => localStorage.setItem('PARAGLIDE_LOCALE', 'en'));
    await page.reload();
    await expect(page.getByTestId('camera-problem')).toHaveAttribute('data-problem', 'denied');
    await expect(page.getByTestId('camera-problem')).not.toContainText('NotAllowedError');
    await shot(page, 'station-denied-en');
  } finally {
    await browser.close();
  }
});
