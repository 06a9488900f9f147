import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { classifyScan } from '../../src/lib/core/scan';
import { qrCodesOfPages, textOfPdf } from '../pdf-reading';
import { expect, test, type Page } from '@playwright/test';
import { browserWithCamera, cameraFile, waitForOfflineReady } from './helpers';

const CCCD = '001099000001|000000001|Nguyễn Văn A|01011990|Nam|Số 1 Đường Thử Nghiệm, Phường Mẫu, Quận 1, TP. Hồ Chí Minh|15042021';

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
