/**
 * The district official's tool, in Chromium with the real server and its embedded store: the demo
 * admin of Huyện Đức Thọ creates a team account for a commune, whose member signs in with the
 * one-time password on another phone and must choose a password first; the admin sets a commune's
 * zone level, which the new team's checkpoint then flags in an arrival from there, and reads the
 * low-activity communes of the report week.
 */
import { expect, test, type Page } from '@playwright/test';
import { DEMO_TEAM_PASSWORD } from '../../playwright.config';
import { dayKey, dmy } from '../../src/lib/core/time';
import { confirmInApp } from './helpers';

const DISTRICT_ADMIN = '0912000440';
const COMMUNE = '18073';
const COMMUNE_NAME = 'Xã Quang Vĩnh';
/** The commune the admin raises to level 3 (cam); in the demo directory it takes Hà Tĩnh's level 2 until then. */
const ZONE_COMMUNE = '18094';
const ZONE_COMMUNE_NAME = 'Xã Đức Lạng';

/** With SHOTS=<dir>, the screens of this walk-through are saved there to be looked at; otherwise nothing. */
async function shot(page: Page, name: string) {
  if (process.env.SHOTS) await page.screenshot({ path: `${process.env.SHOTS}/${name}.png`, fullPage: true });
}

async function synced(page: Page) {
  await expect(page.getByTestId('sync-bar').first()).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
}

async function signIn(page: Page, path: string, phone: string, password: string) {
  await page.goto(path);
  await page.getByLabel('Số điện thoại').fill(phone);
  await page.getByLabel('Mật khẩu').fill(password);
  await page.getByRole('button', { name: 'Đăng nhập' }).last().click();
}

test('a district admin creates a team account that signs in, sets a zone level its checkpoint flags, and reads the low-activity list', async ({ browser }) => {
  test.setTimeout(180_000);
  const admin = await (await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'vi-VN' })).newPage();
  await signIn(admin, '/admin', DISTRICT_ADMIN, DEMO_TEAM_PASSWORD);
  await expect(admin.getByTestId('admin-unit')).toContainText('Huyện Đức Thọ');
  await shot(admin, 'admin-hub');

  // A team account for one commune of the district; the password is shown once, to hand over.
  const phone = `09130${String(Date.now()).slice(-5)}`;
  await admin.getByTestId('go-accounts').click();
  await expect(admin.getByTestId('account-list')).toBeVisible();
  await admin.getByTestId('account-new').click();
  await admin.getByLabel('Họ và tên').fill('Nguyễn Văn Hải');
  await admin.getByLabel('Chức vụ').fill('Trạm trưởng Trạm Y tế xã');
  await admin.getByTestId('account-form').getByLabel('Số điện thoại').fill(phone);
  await admin.getByTestId('admin-unit-picker').fill('quang vinh');
  await admin.getByRole('option').getByRole('button', { name: new RegExp(COMMUNE_NAME) }).click();
  await admin.getByTestId('account-create').click();
  const oneTime = (await admin.getByTestId('otp-value').textContent())!.trim();
  expect(oneTime.length).toBeGreaterThanOrEqual(8);
  await shot(admin, 'admin-one-time-password');
  await admin.getByTestId('otp-close').click();
  await confirmInApp(admin);
  await expect(admin.getByTestId('one-time-password')).toHaveCount(0);
  const row = admin.locator(`[data-testid="account-row"][data-phone="${phone}"]`);
  await expect(row.getByTestId('account-status')).toHaveText('Chưa đổi mật khẩu');

  // The member's phone: the one-time password opens only the form to choose a new one.
  const memberContext = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'vi-VN' });
  const member = await memberContext.newPage();
  await signIn(member, '/team', phone, oneTime);
  const forced = member.getByTestId('password-required');
  await expect(forced.or(member.getByTestId('account-panel'))).toBeVisible();
  if (!(await forced.isVisible())) await member.getByTestId('account-panel').locator('summary').click();
  const chosen = 'mat-khau-cua-hai-2021';
  await member.locator('#pw-current').fill(oneTime);
  await member.locator('#pw-new').fill(chosen);
  await member.locator('#pw-again').fill(chosen);
  await member.getByTestId('password-submit').click();
  await expect(member.getByTestId('go-cases')).toBeVisible();
  await expect(member.getByText(COMMUNE_NAME).first()).toBeVisible();
  await memberContext.close();
  // Another phone: the one-time password no longer works, the chosen one does.
  const again = await (await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'vi-VN' })).newPage();
  await signIn(again, '/team', phone, oneTime);
  await expect(again.getByTestId('auth-error')).toBeVisible();
  await again.getByLabel('Mật khẩu').fill(chosen);
  await again.getByRole('button', { name: 'Đăng nhập' }).last().click();
  await expect(again.getByTestId('go-cases')).toBeVisible();

  // The admin's list now shows the account active, with its last sign-in.
  await admin.reload();
  await admin.getByTestId('account-search').fill(phone);
  await expect(admin.getByTestId('account-row')).toHaveCount(1);
  await expect(row.getByTestId('account-status')).toHaveText('Đang hoạt động');
  await expect(row).not.toContainText('Chưa đăng nhập');

  // A zone level for a commune, from today: the commune shows it as its own and in force.
  await admin.goto('/admin/zones');
  const zoneRow = admin.locator(`[data-testid="zone-row"][data-code="${ZONE_COMMUNE}"]`);
  await zoneRow.getByTestId('zone-edit').click();
  await admin.getByTestId('zone-form').getByText('Cấp 3 – cam').click();
  // The day field is dd/mm/yyyy whatever the browser's locale, today by default; a day that does
  // not exist is refused in words.
  const since = admin.getByTestId('zone-since');
  await expect(since).toHaveValue(dmy(dayKey(Date.now())));
  await since.fill('31/02/2026');
  await since.blur();
  await expect(admin.getByTestId('zone-form')).toContainText('Ngày không hợp lệ');
  await since.fill(dmy(dayKey(Date.now())));
  await admin.getByTestId('zone-note').fill('Có ca F0 trong cộng đồng');
  await admin.getByTestId('zone-save').click();
  await expect(admin.getByTestId('zone-notice')).toContainText(ZONE_COMMUNE_NAME);
  await expect(zoneRow.getByTestId('zone-effective')).toContainText('Cấp 3');
  await expect(admin.getByTestId('zone-history')).toContainText('Có ca F0 trong cộng đồng');
  await shot(admin, 'admin-zones');

  // The new team's checkpoint: after a sync its directory has the new level, and a traveller from
  // that commune, with no symptoms, is flagged for follow-up; the page says from when its levels are.
  await again.goto('/team');
  await synced(again);
  await again.getByTestId('go-checkpoint').click();
  await again.getByTestId('checkpoint-name').fill('Chốt cầu Quang Vĩnh');
  await again.getByTestId('checkpoint-add').click();
  await again.getByTestId('checkpoint-type').click();
  await again.getByTestId('checkpoint-manual-name').fill('Trần Thị Lạng');
  await again.getByTestId('checkpoint-manual-phone').fill('0987000094');
  await again.getByTestId('checkpoint-manual-next').click();
  const review = again.getByTestId('checkpoint-review');
  await expect(review.getByTestId('checkpoint-monitor')).toHaveCount(0);
  await review.getByTestId('unit-picker').fill('duc lang');
  await review.getByRole('option').getByRole('button', { name: new RegExp(ZONE_COMMUNE_NAME) }).click();
  await review.getByTestId('travel-add').click();
  await expect(review.getByTestId('travelled')).toContainText('Cấp 3');
  await expect(review.getByTestId('checkpoint-monitor')).toBeVisible();
  await expect(review.getByTestId('checkpoint-zones-as-of')).toContainText(/Cấp độ dịch theo danh mục đồng bộ lúc \d{2}:\d{2}, .*\d{2}\/\d{2}\/\d{4}/);
  await shot(again, 'checkpoint-zone-flag');
  await review.getByTestId('checkpoint-record').click();
  await expect(again.getByTestId('checkpoint-result')).toContainText('Trần Thị Lạng');

  // The statistics of the last full report week (the current one is still running): the
  // low-activity units are listed, flagged, and first in the table, with the rule in words.
  await admin.goto('/admin/stats');
  await expect(admin.getByTestId('stats-table')).toBeVisible();
  await expect(admin.getByTestId('stats-rule')).toContainText('30 %');
  await admin.getByTestId('stats-period-select').selectOption({ index: 1 });
  await expect(admin).toHaveURL(/from=\d{4}-\d{2}-\d{2}&to=/);
  const low = admin.getByTestId('stats-low').locator('li');
  await expect(low.first()).toBeVisible();
  const lowNames = (await low.locator('strong').allTextContents()).map((t) => t.trim());
  const rows = admin.getByTestId('stats-row');
  const flags = await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.low));
  const names = (await rows.locator('th a').allTextContents()).map((t) => t.trim());
  expect(flags.slice(0, lowNames.length).every((f) => f === '1')).toBe(true);
  expect(flags.slice(lowNames.length).every((f) => f === '0')).toBe(true);
  expect(names.slice(0, lowNames.length)).toEqual(lowNames);
  await expect(rows.first().locator('.badge')).toHaveText('Thấp');
  await shot(admin, 'admin-stats');
});
