/**
 * The weekly report, in Chromium with the real server: a commune team member loses the signal,
 * writes a remark and submits the week's report on the phone; back online it syncs; the district
 * admin sees the commune on time, prints the district's report to PDF (read back with pdftotext,
 * rendered with pdftoppm), and downloads the PDF made on the device.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { DEMO_TEAM_PASSWORD } from '../../playwright.config';
import { confirmInApp, waitForOfflineReady } from './helpers';

const MEMBER = '0912000070';
const DISTRICT_ADMIN = '0912000440';
const COMMUNE = '18070';
const REMARK = 'Thôn Yên Lạc mất sóng ba ngày, đã in thêm 40 mã QR cho chợ';

/** With SHOTS=<dir>, the screens are saved there to be looked at; otherwise nothing. */
async function shot(page: Page, name: string, fullPage = true) {
  if (process.env.SHOTS) await page.screenshot({ path: `${process.env.SHOTS}/${name}.png`, fullPage });
}

async function login(page: Page, where: string, phone: string) {
  await page.goto(where);
  await page.getByLabel('Số điện thoại').fill(phone);
  await page.getByLabel('Mật khẩu').fill(DEMO_TEAM_PASSWORD);
  await page.getByRole('button', { name: 'Đăng nhập' }).last().click();
}

const pdfText = (file: string) => execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).normalize('NFC').replace(/\s+/g, ' ');

test('a team submits its weekly report offline; the district sees it on time and prints the district report', async ({ browser }) => {
  test.setTimeout(180_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lv-e2e-report-'));

  // The team member's phone.
  const teamContext = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'vi-VN' });
  const team = await teamContext.newPage();
  await login(team, '/team', MEMBER);
  await expect(team.getByTestId('go-report')).toBeVisible();
  await team.getByTestId('go-report').click();
  await expect(team.getByTestId('report-period')).toBeVisible();
  await waitForOfflineReady(team);
  await expect(team.getByTestId('sync-bar').first()).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
  const periodId = await team.getByTestId('report-period').inputValue();
  expect(periodId).toMatch(/^w-\d{4}-\d{2}-\d{2}$/);

  // No signal: the remark is written and the report submitted on the phone.
  await teamContext.setOffline(true);
  await team.reload();
  await expect(team.getByTestId('report-form')).toBeVisible();
  await expect(team.getByTestId('report-period')).toHaveValue(periodId);
  await team.getByTestId('remark-done').fill(REMARK);
  await team.getByTestId('report-submit').click();
  await confirmInApp(team);
  await expect(team.getByTestId('report-submitted')).toContainText('chờ đồng bộ');
  await expect(team.getByTestId('report-submitted')).toContainText(/Đã gửi lúc \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/);
  await shot(team, 'team-report-offline');

  // The signal is back: the report goes up by itself.
  await teamContext.setOffline(false);
  await expect(team.getByTestId('report-submitted')).toContainText('đã đồng bộ', { timeout: 30_000 });
  await shot(team, 'team-report-synced');
  await team.goto(`/team?c=${COMMUNE}`);
  await expect(team.getByTestId('go-report')).toContainText('Đã gửi báo cáo tuần');
  // This week's figures of the commune, from the statistics, on the hub.
  await expect(team.getByTestId('hub-figures').getByTestId('figure-venues')).toHaveText(/^\d[\d.]*$/);
  await shot(team, 'team-hub');

  // The district admin, on a desktop.
  const adminContext = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: 'vi-VN' });
  const admin = await adminContext.newPage();
  await login(admin, '/admin/report', DISTRICT_ADMIN);
  await expect(admin.getByTestId('report-period')).toBeVisible();
  await expect(admin.getByTestId('report-period')).toHaveValue(periodId);
  // The server copies submissions every few seconds: reload until it is there.
  await expect(async () => {
    await admin.reload();
    const row = admin.getByTestId('report-document').locator('tr', { hasText: 'Thị trấn Đức Thọ' }).first();
    await expect(row).toContainText('Đúng hạn', { timeout: 2_000 });
  }).toPass({ timeout: 40_000 });
  await expect(admin.getByTestId('report-document')).toContainText(REMARK);
  await expect(admin.getByTestId('report-rates')).toContainText('Tỉ lệ báo cáo');
  await shot(admin, 'district-report');

  // The rolled-up figures as the page shows them (the statistics of the demo activity): the total
  // line of the figures table, a name and ten numbers.
  const totals = (await admin.getByTestId('report-document').locator('tr.total td').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
  expect(totals[0]).toBe('Tổng cộng');
  expect(totals.length).toBe(11);
  expect(totals.slice(1).every((t) => /^\d[\d.]*$/.test(t))).toBe(true);
  const rates = (await admin.getByTestId('report-rates').innerText()).replace(/\s+/g, ' ');
  const received = /Tỉ lệ báo cáo: (\S+) \((\d+)\/(\d+)\)/.exec(rates);
  expect(received).not.toBeNull();

  // Printed on A4 from the browser: read back with pdftotext, rendered with pdftoppm.
  await admin.emulateMedia({ media: 'print' });
  const printed = path.join(dir, 'district-print.pdf');
  writeFileSync(printed, new Uint8Array(await admin.pdf({ preferCSSPageSize: true, printBackground: true })));
  const text = pdfText(printed);
  expect(text).toContain('CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM');
  expect(text).toContain('HUYỆN ĐỨC THỌ');
  expect(text).toMatch(/tuần từ \d{2}\/\d{2}\/\d{4} đến \d{2}\/\d{2}\/\d{4}/);
  expect(text).toContain(REMARK);
  expect(text).toMatch(/Thị trấn Đức Thọ\s+Đúng hạn/);
  // The figures read back as the page shows them: the communes that reported, and the totals in order.
  expect(text).toContain(`${received![2]}/${received![3]} xã đã gửi báo cáo (${received![1]})`);
  expect(text).toContain(totals.join(' '));
  execFileSync('pdftoppm', ['-r', '60', '-png', printed, path.join(dir, 'print')]);
  expect(existsSync(path.join(dir, 'print-1.png'))).toBe(true);
  if (process.env.SHOTS) execFileSync('pdftoppm', ['-r', '70', '-png', printed, `${process.env.SHOTS}/district-print`]);
  await admin.emulateMedia({ media: 'screen' });

  // The PDF made on the device says the same.
  const [download] = await Promise.all([admin.waitForEvent('download'), admin.getByTestId('report-pdf').click()]);
  const made = path.join(dir, 'district-device.pdf');
  await download.saveAs(made);
  expect(readFileSync(made).subarray(0, 5).toString()).toBe('%PDF-');
  const madeText = pdfText(made);
  expect(madeText).toContain('BÁO CÁO');
  expect(madeText).toContain(REMARK);
  expect(madeText).toContain(`${received![2]}/${received![3]} xã đã gửi báo cáo (${received![1]})`);
  expect(madeText).toContain(totals.join(' '));
  if (process.env.SHOTS) execFileSync('pdftoppm', ['-r', '70', '-png', made, `${process.env.SHOTS}/district-device`]);

  // The tables as a spreadsheet.
  const [xlsx] = await Promise.all([admin.waitForEvent('download'), admin.getByTestId('report-xlsx').click()]);
  expect(xlsx.suggestedFilename()).toBe(`bao-cao-440-${periodId}.xlsx`);
  const [csv] = await Promise.all([admin.waitForEvent('download'), admin.getByTestId('report-csv-submissions').click()]);
  const csvFile = path.join(dir, 'submissions.csv');
  await csv.saveAs(csvFile);
  expect(readFileSync(csvFile, 'utf8')).toContain(REMARK);

  // The phone view of the district's report.
  await admin.setViewportSize({ width: 390, height: 844 });
  await shot(admin, 'district-report-390');
  await teamContext.close();
  await adminContext.close();
});
