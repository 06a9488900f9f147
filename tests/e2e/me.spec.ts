/**
 * The citizen's personal QR: a profile and a health declaration kept on the phone, shown as a QR
 * and printed on paper for someone without a phone. The printed code is read back from the PDF.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { parsePersonalQr } from '../../src/lib/core/citizen/personal-qr';
import { dayKey, dmy } from '../../src/lib/core/time';
import { preparePdfReading, qrCodesOfPages } from '../pdf-reading';
import { readBarcodes } from 'zxing-wasm/reader';
import { decodeDiaryDay } from '../../src/lib/core/citizen/diary-share';
import { confirmInApp, demoVenues, shots } from './helpers';

test('a citizen fills in a profile and a declaration, and prints a personal QR a station can read', async ({ page }) => {
  await page.goto('/me');
  await page.getByTestId('me-create').click();
  await page.getByLabel('Họ và tên').fill('  Trần  Văn Bình ');
  await page.getByLabel('Số điện thoại').fill('0912 345 678');
  await page.getByLabel('Năm sinh').fill('1958');
  // A wrong field is named, and nothing typed is lost.
  await page.getByLabel('Số CCCD/CMND (không bắt buộc)').fill('1234');
  await page.getByRole('button', { name: 'Lưu' }).click();
  await expect(page.getByTestId('profile-error')).toContainText('CCCD');
  await expect(page.getByLabel('Họ và tên')).toHaveValue('  Trần  Văn Bình ');
  await page.getByLabel('Số CCCD/CMND (không bắt buộc)').fill('042058000123');
  await page.getByTestId('unit-picker').fill('tung chau');
  await page.getByRole('listbox').getByRole('button').first().click();
  await page.getByRole('button', { name: 'Lưu' }).click();
  await expect(page.getByTestId('me-name')).toHaveText('Trần Văn Bình');
  await expect(page.getByTestId('me-declaration')).toContainText('Chưa khai báo y tế');

  await page.getByTestId('me-declare').click();
  await page.getByLabel('Ho', { exact: true }).check();
  await page.getByTestId('contact-no').check();
  await page.getByTestId('unit-picker').fill('duc lang');
  await page.getByRole('listbox').getByRole('button').first().click();
  await page.getByTestId('travel-add').click();
  await expect(page.getByTestId('travelled')).toContainText('Đức Lạng');
  await page.getByLabel('Số mũi vắc-xin đã tiêm').selectOption('2');
  await page.getByTestId('declaration-submit').click();
  await expect(page.getByTestId('me-declaration')).toContainText('Tự khai báo y tế hôm nay');
  // What was declared is shown, not only that something was.
  await expect(page.getByTestId('me-symptoms')).toHaveText('Ho');
  await expect(page.getByTestId('me-contact')).toHaveText('Không');
  await expect(page.getByTestId('me-travelled')).toContainText('Đức Lạng');
  await shots(page, 'me-declared');

  // Printed: the card alone, and its QR reads back as the profile with today's declaration.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lv-e2e-me-'));
  await page.emulateMedia({ media: 'print' });
  // On paper the card outlives the day: it gives the date, never "today".
  await expect(page.getByText(`Khai báo ngày ${dmy(dayKey(Date.now()))}`)).toBeVisible();
  await expect(page.getByTestId('me-declaration')).toBeHidden();
  expect(await page.locator('body').innerText()).not.toMatch(/hôm nay/i);
  const pdf = path.join(dir, 'personal.pdf');
  writeFileSync(pdf, new Uint8Array(await page.pdf({ preferCSSPageSize: true, printBackground: true })));
  const pages = await qrCodesOfPages(pdf, dir);
  expect(pages).toHaveLength(1);
  const read = parsePersonalQr(pages[0]![0]!.text);
  expect(read).toMatchObject({
    name: 'Trần Văn Bình',
    phone: '0912345678',
    birthYear: 1958,
    idNumber: '042058000123',
    declaration: { selfDeclared: true, date: dayKey(Date.now()), symptoms: ['cough'], contactWithCase: false, vaccineDoses: 2 }
  });
  expect(read!.communeCode).toMatch(/^[0-9]{5}$/);
  expect(read!.declaration!.travelledUnits).toHaveLength(1);

  // The citizen can delete it all from the phone.
  await page.emulateMedia({ media: 'screen' });
  await page.goto('/me/edit');
  await page.getByTestId('profile-delete').click();
  await confirmInApp(page);
  await expect(page.getByTestId('me-create')).toBeVisible();
});

test('a citizen shares a chosen day of the diary as QR codes, after seeing what goes', async ({ page, request }) => {
  const venue = (await demoVenues(request))[0]!;
  await page.goto(venue.url);
  await expect(page.getByTestId('checkin-confirmation')).toBeVisible();
  await page.goto('/diary');
  await page.getByTestId('share-link').click();
  await expect(page.getByTestId('share-show')).toHaveCount(0);
  await page.getByTestId('share-day').first().check();
  await expect(page.getByTestId('share-preview')).toContainText(venue.name);
  // Nothing is shown until the citizen agrees.
  await expect(page.getByTestId('share-show')).toBeDisabled();
  await page.getByTestId('share-consent').check();
  await page.getByTestId('share-show').click();

  await preparePdfReading();
  const png = await page.getByTestId('share-code').locator('svg').screenshot();
  const [read] = await readBarcodes(new Uint8Array(png), { formats: ['QRCode'], tryHarder: true });
  const day = decodeDiaryDay(read!.text);
  expect(day).toMatchObject({ day: dayKey(Date.now()), part: 1, parts: 1 });
  expect(day!.visits).toEqual([expect.objectContaining({ venueId: venue.venueId, communeCode: '18070' })]);
});
