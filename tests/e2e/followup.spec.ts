/**
 * The commune team's one follow-up list, in Chromium with the real server and its embedded store:
 * a case's contact whose follow-up started three days ago with no check is overdue; a daily check
 * takes them off the due list; a checkpoint arrival is on the same list; one is closed (in the
 * app's own dialog); the health centre's CSV and XLSX files are downloaded and read back.
 */
import { readFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { strFromU8, unzipSync } from 'fflate';
import { DEMO_TEAM_PASSWORD } from '../../playwright.config';
import { caseDocId, followupDocId } from '../../src/lib/core/documents';
import { DAY, dayKey, dmy } from '../../src/lib/core/time';
import { confirmInApp } from './helpers';

const MEMBER = '0912000070';
const COMMUNE = '18070';
const MARKET = 'demochoducth';

async function login(page: Page) {
  await page.goto('/team');
  await page.getByLabel('Số điện thoại').fill(MEMBER);
  await page.getByLabel('Mật khẩu').fill(DEMO_TEAM_PASSWORD);
  await page.getByRole('button', { name: 'Đăng nhập' }).last().click();
  await expect(page.getByTestId('go-cases')).toBeVisible();
}

/** With SHOTS=<dir>, the screens are saved there to be looked at; otherwise nothing. */
async function shot(page: Page, name: string) {
  if (process.env.SHOTS) await page.screenshot({ path: `${process.env.SHOTS}/${name}.png`, fullPage: true });
}

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF), with the BOM toCsv writes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  const s = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\n') row.push(cell), rows.push(row), (row = []), (cell = '');
    else if (ch !== '\r') cell += ch;
  }
  if (cell || row.length) row.push(cell), rows.push(row);
  return rows;
}

/** A CSV as objects by header. */
function csvRecords(text: string): { header: string[]; records: Record<string, string>[] } {
  const [header = [], ...rows] = parseCsv(text);
  return { header, records: rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? '']))) };
}

async function downloaded(page: Page, testid: string): Promise<{ name: string; bytes: Buffer }> {
  const download = page.waitForEvent('download');
  await page.getByTestId(testid).click();
  const file = await download;
  return { name: file.suggestedFilename(), bytes: await readFile((await file.path())!) };
}

/**
 * The commune's checkpoints this test opened are suspended at its end, as a team member would once
 * a checkpoint closes: the team's own walk-through starts by opening the commune's first checkpoint.
 */
async function retireCheckpoints(page: Page) {
  // The gateway's changes feed gives ids only; each venue is read on its own.
  const res = await page.request.get(`/sync/lv_c_${COMMUNE}/_changes`);
  expect(res.ok(), await res.text()).toBe(true);
  const { results } = (await res.json()) as { results: { id: string }[] };
  const venues = await Promise.all(
    results.filter((r) => r.id.startsWith('venue:')).map(async (r) => (await (await page.request.get(`/sync/lv_c_${COMMUNE}/${r.id}`)).json()) as Record<string, unknown>)
  );
  const docs = venues
    .filter((d) => d.type === 'venue' && d.venueType === 'checkpoint' && d.status === 'active')
    .map((d) => ({ ...d, status: 'suspended', suspendedBy: 'team', updatedAt: new Date().toISOString() }));
  expect(docs.length).toBeGreaterThan(0);
  const push = await page.request.post(`/sync/lv_c_${COMMUNE}/_bulk_docs`, { data: { docs } });
  expect(push.ok(), await push.text()).toBe(true);
  expect(((await push.json()) as { error?: string }[]).filter((r) => r.error)).toEqual([]);
}

test('one follow-up list: an overdue contact, a daily check, a checkpoint arrival, closing, and the exports read back', async ({ browser }) => {
  test.setTimeout(180_000);
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'vi-VN', acceptDownloads: true });
  const page = await context.newPage();
  let createdCheckpoint = false;
  try {
    await login(page);
    const suffix = Date.now().toString(36).slice(-5);
    const contactName = `Trần Văn Kiểm ${suffix}`;
    const arrivalName = `Phạm Thị Về ${suffix}`;

    // Another member traced a case three days ago and put one of its contacts under follow-up:
    // their documents reach the server (through the same gateway, which checks them), then this device.
    const now = Date.now();
    const met = now - 3 * DAY;
    const caseId = `fu${suffix}`.padEnd(16, '0').slice(0, 16);
    const entryId = `entry:${MARKET}:${String(met).padStart(13, '0')}:fu${suffix}`;
    const iso = new Date(met).toISOString();
    const push = await page.request.post(`/sync/lv_c_${COMMUNE}/_bulk_docs`, {
      data: {
        docs: [
          { _id: caseDocId(caseId), type: 'case', schema: 1, caseId, communeCode: COMMUNE, person: { source: 'manual', name: `Ca bệnh ${suffix}` }, confirmedOn: dayKey(met), status: 'open', visits: [], createdAt: iso, updatedAt: iso },
          { _id: followupDocId(entryId, caseId), type: 'followup', schema: 1, communeCode: COMMUNE, kind: 'contact', caseId, entryId, person: { source: 'manual', name: contactName, phone: '0987000111' }, at: met, test: 'none', state: 'open', updatedAt: iso }
        ]
      }
    });
    expect(push.ok(), await push.text()).toBe(true);
    expect(((await push.json()) as { error?: string }[]).filter((r) => r.error)).toEqual([]);

    // An arrival at the checkpoint with a cough: put under follow-up there.
    await page.getByTestId('go-checkpoint').click();
    await expect(page.getByTestId('checkpoint-name').or(page.getByTestId('checkpoint-type'))).toBeVisible();
    if (await page.getByTestId('checkpoint-name').isVisible()) {
      createdCheckpoint = true;
      await page.getByTestId('checkpoint-name').fill('Chốt kiểm tra theo dõi');
      await page.getByTestId('checkpoint-add').click();
    }
    await page.getByTestId('checkpoint-type').click();
    await page.getByTestId('checkpoint-manual-name').fill(arrivalName);
    await page.getByTestId('checkpoint-manual-phone').fill('0987000222');
    await page.getByTestId('checkpoint-manual-next').click();
    await page.getByTestId('checkpoint-review').getByRole('checkbox', { name: 'Ho', exact: true }).check();
    await expect(page.getByTestId('checkpoint-monitor')).toBeVisible();
    await page.getByTestId('checkpoint-record').click();
    await expect(page.getByTestId('checkpoint-result')).toContainText(arrivalName);

    // The list, from the hub: the contact is overdue, the arrival (started today) due.
    await page.goto(`/team?c=${COMMUNE}`);
    await page.getByTestId('go-monitoring').click();
    await expect(page).toHaveURL(/\/team\/followup\?c=18070$/);
    const row = (name: string) => page.getByTestId('followup-row').filter({ hasText: name });
    await page.getByTestId('followup-filter-overdue').click();
    await expect(row(contactName)).toHaveAttribute('data-status', 'overdue', { timeout: 30_000 });
    await expect(row(contactName).getByTestId('followup-class')).toHaveText('F1');
    await expect(row(contactName).getByTestId('followup-end')).toHaveText(`Cách ly đến ${dmy(dayKey(met + 7 * DAY))}`);
    await expect(row(arrivalName)).toHaveCount(0);
    await page.getByTestId('followup-filter-due').click();
    await expect(row(contactName)).toBeVisible();
    await expect(row(arrivalName)).toHaveAttribute('data-status', 'due');
    await expect(row(arrivalName)).toHaveAttribute('data-kind', 'arrival');
    await expect(row(arrivalName).getByTestId('followup-class')).toHaveText('Người về');
    await shot(page, 'followup-list-vi');

    // The daily check: every error at once first, then saved, and listed.
    await row(contactName).getByTestId('followup-check-link').click();
    await expect(page.getByTestId('followup-name')).toHaveText(contactName);
    await expect(page.getByTestId('followup-status')).toHaveText('Quá hạn kiểm tra');
    await page.getByTestId('check-temperature').fill('45');
    await page.getByTestId('check-note').fill('x'.repeat(301));
    await page.getByTestId('check-save').click();
    await expect(page.getByTestId('check-errors').locator('li')).toHaveCount(2);
    await page.getByTestId('check-temperature').fill('37,2');
    await page.getByTestId('check-note').fill('Hơi mệt, đã dặn theo dõi thêm');
    await page.getByTestId('check-symptom-fatigue').check();
    await page.getByTestId('check-save').click();
    await expect(page.getByTestId('check-saved')).toHaveText('Đã lưu kết quả kiểm tra.');
    await expect(page.getByTestId('check-errors')).toHaveCount(0);
    await expect(page.getByTestId('check-item')).toHaveCount(1);
    await expect(page.getByTestId('check-item').first()).toContainText('37,2 °C');
    await expect(page.getByTestId('followup-status')).toHaveText('Đã kiểm tra hôm nay');
    // The form says it is saved, not that it waits for a signal: the sync bar tells that.
    await page.getByTestId('followup-class-f2').check();
    await page.getByTestId('followup-save').click();
    await expect(page.getByTestId('followup-saved')).toHaveText('Đã lưu.');
    await shot(page, 'followup-person-vi');
    // The check went up, and the gateway kept it (it checks a pushed follow-up against the same schema).
    await expect
      .poll(async () => {
        const res = await page.request.get(`/sync/lv_c_${COMMUNE}/${encodeURIComponent(followupDocId(entryId, caseId))}`);
        const doc = (await res.json()) as { checks?: { temperature?: number; symptoms: string[] }[]; classification?: string };
        return { checks: doc.checks?.map((c) => [c.temperature, c.symptoms]), classification: doc.classification };
      }, { timeout: 30_000 })
      .toEqual({ checks: [[37.2, ['fatigue']]], classification: 'F2' });

    await page.getByRole('link', { name: /Danh sách theo dõi/ }).click();
    await expect(page.getByTestId('followup-filter-due')).toHaveAttribute('aria-pressed', 'true');
    await expect(row(arrivalName)).toBeVisible();
    await expect(row(contactName)).toHaveCount(0);
    await page.getByTestId('followup-filter-open').click();
    await expect(row(contactName)).toHaveAttribute('data-status', 'checked');
    await expect(row(contactName).getByTestId('followup-class')).toHaveText('F2');

    // Closing the arrival: asked in the app's dialog (a "no" changes nothing), then undone, then closed.
    await row(arrivalName).getByTestId('followup-open').click();
    await page.getByTestId('close-reason-lost').check();
    await page.getByTestId('followup-close').click();
    await confirmInApp(page, false);
    await expect(page.getByTestId('followup-close')).toBeVisible();
    await page.getByTestId('followup-close').click();
    await confirmInApp(page);
    await expect(page.getByTestId('followup-closed-as')).toHaveText('Đã kết thúc: Mất liên lạc');
    await page.getByTestId('followup-reopen').click();
    await expect(page.getByTestId('followup-close')).toBeVisible();
    await page.getByTestId('close-reason-lost').check();
    await page.getByTestId('followup-close').click();
    await confirmInApp(page);
    await expect(page.getByTestId('followup-closed-as')).toHaveText('Đã kết thúc: Mất liên lạc');
    await page.getByRole('link', { name: /Danh sách theo dõi/ }).click();
    await expect(row(arrivalName)).toHaveCount(0);
    await page.getByTestId('followup-filter-closed').click();
    await expect(row(arrivalName).getByTestId('followup-status')).toHaveText('Đã kết thúc: Mất liên lạc');

    // The export, from the hub, read back.
    await page.goto(`/team?c=${COMMUNE}`);
    await page.getByTestId('go-export').click();
    await expect(page.getByTestId('export-counts')).toBeVisible();
    await shot(page, 'export-vi');
    const today = dmy(dayKey(Date.now()));

    const followups = await downloaded(page, 'export-csv-followups');
    expect(followups.name).toMatch(/^theo-doi-18070-\d{4}-\d{2}-\d{2}\.csv$/);
    const f = csvRecords(followups.bytes.toString('utf8'));
    expect(f.header).toEqual(expect.arrayContaining(['Xã/phường', 'Phân loại', 'Họ tên', 'Số điện thoại', 'Cách ly đến ngày', 'Tình trạng', 'Lý do kết thúc']));
    const contactRow = f.records.find((r) => r['Họ tên'] === contactName)!;
    expect(contactRow).toMatchObject({ 'Phân loại': 'F2', 'Số điện thoại': '0987000111', 'Cách ly đến ngày': dmy(dayKey(met + 7 * DAY)), 'Tình trạng': 'Đã kiểm tra hôm nay', 'Số lần kiểm tra': '1' });
    expect(contactRow['Kiểm tra gần nhất']).toMatch(new RegExp(`^${today.replaceAll('/', '\\/')} \\d{2}:\\d{2}$`));
    expect(f.records.find((r) => r['Họ tên'] === arrivalName)).toMatchObject({ 'Phân loại': 'Người về', 'Triệu chứng': 'Ho', 'Lý do kết thúc': 'Mất liên lạc' });
    expect(f.records.every((r) => r['Xã/phường'] === f.records[0]!['Xã/phường'])).toBe(true);

    const checks = csvRecords((await downloaded(page, 'export-csv-checks')).bytes.toString('utf8'));
    expect(checks.records.find((r) => r['Họ tên'] === contactName)).toMatchObject({ 'Ngày kiểm tra': today, 'Triệu chứng': 'Mệt mỏi', 'Nhiệt độ (°C)': '37.2', 'Ghi chú': 'Hơi mệt, đã dặn theo dõi thêm' });

    const arrivals = csvRecords((await downloaded(page, 'export-csv-arrivals')).bytes.toString('utf8'));
    expect(arrivals.records.find((r) => r['Họ tên'] === arrivalName)).toMatchObject({ 'Ngày qua chốt': today, 'Chốt': expect.any(String), 'Đang được theo dõi': 'Có' });
    expect(arrivals.records.find((r) => r['Họ tên'] === arrivalName)!['Giờ qua chốt']).toMatch(/^\d{2}:\d{2}$/);

    const cases = csvRecords((await downloaded(page, 'export-csv-cases')).bytes.toString('utf8'));
    expect(cases.records.find((r) => r['Mã ca bệnh'] === caseId)).toMatchObject({ 'Họ tên': `Ca bệnh ${suffix}`, 'Ngày xác định': dmy(dayKey(met)) });

    const xlsx = await downloaded(page, 'export-xlsx');
    expect(xlsx.name).toMatch(/\.xlsx$/);
    const files = unzipSync(new Uint8Array(xlsx.bytes));
    const workbook = strFromU8(files['xl/workbook.xml']!);
    for (const sheet of ['Ca bệnh', 'Theo dõi', 'Kiểm tra sức khỏe', 'Người qua chốt']) expect(workbook).toContain(`name="${sheet}"`);
    // Every text of every sheet, shared or inline.
    const texts = Object.entries(files)
      .filter(([name]) => name === 'xl/sharedStrings.xml' || name.startsWith('xl/worksheets/'))
      .map(([, bytes]) => strFromU8(bytes))
      .join('\n');
    for (const text of ['Họ tên', 'Cách ly đến ngày', 'Ngày kiểm tra', contactName, arrivalName, 'Mất liên lạc', dmy(dayKey(met + 7 * DAY)), today]) expect(texts).toContain(text);

    // In English: the export's headers and values in English, dates still dd/mm/yyyy; the screens to be looked at.
    await page.evaluate(() => localStorage.setItem('PARAGLIDE_LOCALE', 'en'));
    await page.goto(`/team/followup?c=${COMMUNE}`);
    await page.getByTestId('followup-filter-open').click();
    await expect(row(contactName).getByTestId('followup-status')).toHaveText('Checked today');
    await shot(page, 'followup-list-en');
    await row(contactName).getByTestId('followup-open').click();
    await expect(page.getByTestId('check-item')).toHaveCount(1);
    await shot(page, 'followup-person-en');
    await page.goto(`/team/export?c=${COMMUNE}`);
    await expect(page.getByTestId('export-counts')).toBeVisible();
    await shot(page, 'export-en');
    const en = csvRecords((await downloaded(page, 'export-csv-followups')).bytes.toString('utf8'));
    expect(en.header).toEqual(expect.arrayContaining(['Name', 'Classification', 'Isolation until', 'Closing reason']));
    expect(en.records.find((r) => r['Name'] === arrivalName)).toMatchObject({ Classification: 'Arrival', 'Closing reason': 'Lost to follow-up', 'Isolation until': dmy(dayKey(Date.now() + 7 * DAY)) });
  } finally {
    if (createdCheckpoint) await retireCheckpoints(page);
    await context.close();
  }
});
