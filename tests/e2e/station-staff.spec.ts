/**
 * Staff run a venue's station without the owner's password: the owner pairs a phone with a
 * one-time code, the phone records an entry, the owner sees it, unpairs the phone, and the phone
 * says it was disconnected.
 */
import { expect, test, type Page } from '@playwright/test';
import { confirmInApp } from './helpers';

/** With SHOTS=<dir>, the screens of this walk-through are saved there to be looked at; otherwise nothing. */
async function shot(page: Page, name: string) {
  if (process.env.SHOTS) await page.screenshot({ path: `${process.env.SHOTS}/${name}.png`, fullPage: true });
}

async function english(page: Page, run: () => Promise<void>) {
  if (!process.env.SHOTS) return;
  await page.evaluate(() => localStorage.setItem('PARAGLIDE_LOCALE', 'en'));
  await page.reload();
  await run();
  await page.evaluate(() => localStorage.setItem('PARAGLIDE_LOCALE', 'vi'));
  await page.reload();
}

test('an owner pairs a staff phone to a station, sees its entry, and unpairs it', async ({ page, browser, baseURL }) => {
  test.setTimeout(120_000);
  // The owner, with one venue synced to the server.
  await page.goto('/venue');
  await page.getByRole('tab', { name: 'Đăng ký' }).click();
  await page.getByLabel('Họ tên').fill('Chủ quán Thử');
  await page.getByLabel('Số điện thoại').fill('0901000301');
  await page.getByLabel('Mật khẩu').fill('mat-khau-dai');
  await page.getByRole('button', { name: 'Tạo tài khoản' }).click();
  await page.getByTestId('new-venue').click();
  await page.getByLabel('Tên địa điểm').fill('Quán phở Cô Hai');
  await page.getByLabel('Loại địa điểm').selectOption('food');
  await page.getByTestId('unit-picker').fill('tung chau');
  await page.getByRole('listbox').getByRole('button').first().click();
  await page.getByLabel('Địa chỉ').fill('Thôn 2');
  await page.getByRole('button', { name: 'Lưu' }).click();
  const card = page.getByTestId('venue-card').filter({ hasText: 'Quán phở Cô Hai' });
  await expect(card.getByTestId('venue-signed')).toBeVisible({ timeout: 30_000 });

  // A one-time code for this venue, shown large.
  await card.getByTestId('station-device-add').click();
  await card.getByTestId('pairing-label').fill('Cửa chính');
  await card.getByTestId('pairing-create').click();
  const code = (await card.getByTestId('pairing-code').textContent())!.replace(/\s/g, '');
  expect(code).toMatch(/^[a-hj-km-np-tv-z2-7]{8}$/);
  await shot(page, 'staff-owner-code-vi');

  // The staff phone: no account; from the login screen to the pairing page, the code in capitals.
  const staffContext = await browser.newContext({ baseURL });
  const staff = await staffContext.newPage();
  await staff.goto('/venue');
  await staff.getByTestId('staff-pair-link').click();
  await expect(staff).toHaveURL(/\/venue\/pair$/);
  // A wrong code first: said in words, the field stays.
  await staff.getByTestId('pair-code').fill('zzzz zzzz');
  await staff.getByTestId('pair-submit').click();
  await expect(staff.getByTestId('pair-error')).toContainText('Mã không đúng');
  await shot(staff, 'staff-pair-wrong-vi');
  await staff.getByTestId('pair-code').fill(`${code.slice(0, 4).toUpperCase()} ${code.slice(4).toUpperCase()}`);
  await staff.getByTestId('pair-submit').click();
  await expect(staff).toHaveURL(/\/venue\/station\?c=\d{5}&id=/);
  await expect(staff.getByTestId('station-venue')).toHaveText('Quán phở Cô Hai', { timeout: 30_000 });

  // An entry typed in at the door, sent to the server.
  await staff.getByTestId('manual-button').click();
  await staff.getByLabel('Họ tên').fill('Trần Văn Bình');
  await staff.getByLabel('Năm sinh').fill('1962');
  await staff.getByRole('button', { name: 'Lưu' }).click();
  await expect(staff.getByTestId('station-count')).toHaveText('Hôm nay: 1 lượt vào');
  await expect(staff.getByTestId('sync-bar')).toHaveAttribute('data-pending', '0', { timeout: 30_000 });
  await shot(staff, 'staff-station-vi');

  // The code is used up: a second phone cannot pair with it.
  const thirdContext = await browser.newContext({ baseURL });
  const third = await thirdContext.newPage();
  await third.goto('/venue/pair');
  await third.getByTestId('pair-code').fill(code);
  await third.getByTestId('pair-submit').click();
  await expect(third.getByTestId('pair-error')).toBeVisible();
  await thirdContext.close();

  // The owner sees the phone and the entry.
  await card.getByTestId('pairing-done').click();
  const device = card.getByTestId('station-device');
  await expect(device).toContainText('Cửa chính');
  await shot(page, 'staff-owner-devices-vi');
  await english(page, async () => {
    await expect(page.getByTestId('station-device')).toContainText('Cửa chính');
    await shot(page, 'staff-owner-devices-en');
  });
  await card.getByRole('link', { name: 'Thống kê' }).click();
  await expect(page.getByTestId('count-today')).toHaveText('1', { timeout: 30_000 });
  await page.goto('/venue');

  // Unpairing is confirmed in the app, and ends the phone's session at once.
  await page.getByTestId('venue-card').filter({ hasText: 'Quán phở Cô Hai' }).getByTestId('station-device-unpair').click();
  await confirmInApp(page);
  await expect(page.getByTestId('station-device')).toHaveCount(0);

  // The phone says so at its next scan.
  await staff.getByTestId('manual-button').click();
  await staff.getByLabel('Họ tên').fill('Phạm Thị Dung');
  await staff.getByLabel('Năm sinh').fill('1970');
  await staff.getByRole('button', { name: 'Lưu' }).click();
  await expect(staff.getByTestId('station-unpaired')).toBeVisible({ timeout: 20_000 });
  await shot(staff, 'staff-station-unpaired-vi');
  await english(staff, async () => {
    await expect(staff.getByTestId('station-unpaired')).toBeVisible({ timeout: 20_000 });
    await shot(staff, 'staff-station-unpaired-en');
    await staff.goto('/venue');
    await expect(staff.getByTestId('station-paired-card')).toBeVisible();
    await shot(staff, 'staff-venue-paired-en');
  });
  // Its /venue page tells it too, and offers the owner's login.
  await staff.goto('/venue');
  await expect(staff.getByTestId('station-unpaired')).toBeVisible();
  await shot(staff, 'staff-venue-unpaired-vi');

  // The unpaired phone still holds the scan it could not send: a new code warns before anything
  // goes, and "no" keeps the phone as it is.
  await card.getByTestId('station-device-add').click();
  await card.getByTestId('pairing-label').fill('Cửa sau');
  await card.getByTestId('pairing-create').click();
  const second = (await card.getByTestId('pairing-code').textContent())!.replace(/\s/g, '');
  await staff.goto('/venue/pair');
  await staff.getByTestId('pair-code').fill(second);
  await staff.getByTestId('pair-submit').click();
  await expect(staff.getByTestId('confirm-dialog')).toContainText('Máy này còn 1 bản ghi chưa gửi lên máy chủ');
  await confirmInApp(staff, false);
  await expect(staff).toHaveURL(/\/venue\/pair/);
  await staffContext.close();

  // Ten codes in ten minutes: two made above, eight more, then the owner is told how long to wait
  // (the server's Retry-After: a minute or more, up to ten, by where the window's edge falls).
  await card.getByTestId('pairing-done').click();
  const dashboard = new URL((await card.getByRole('link', { name: 'Thống kê' }).getAttribute('href'))!, 'http://x');
  const [communeCode, venueId] = [dashboard.searchParams.get('c')!, dashboard.searchParams.get('id')!];
  for (let i = 0; i < 8; i++) {
    const res = await page.request.post('/api/staff/pairings', { data: { communeCode, venueId } });
    expect(res.status()).toBe(201);
  }
  await card.getByTestId('station-device-add').click();
  await card.getByTestId('pairing-create').click();
  await expect(card.getByTestId('station-devices-error')).toContainText(/Hãy đợi \d+ phút rồi tạo mã mới/);
  // The screen as seen, the message scrolled to the middle: on a full-page shot the fixed tab bar
  // lands over it.
  const shotCentred = async (name: string) => {
    if (!process.env.SHOTS) return;
    await page.getByTestId('station-devices-error').evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await page.screenshot({ path: `${process.env.SHOTS}/${name}.png` });
  };
  await shotCentred('staff-owner-codes-wait-vi');
  await english(page, async () => {
    const cardEn = page.getByTestId('venue-card').filter({ hasText: 'Quán phở Cô Hai' });
    await cardEn.getByTestId('station-device-add').click();
    await cardEn.getByTestId('pairing-create').click();
    await expect(cardEn.getByTestId('station-devices-error')).toContainText(/Wait \d+ min, then make a new one/);
    await shotCentred('staff-owner-codes-wait-en');
  });
});
