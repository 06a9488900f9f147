import { chromium, expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import QRCode from 'qrcode';
import { CHROMIUM_ARGS, E2E_PORT } from '../../playwright.config';
import { browserWithCamera, cameraFile, demoVenues, diaryVisits, forgedVenueUrl, waitForOfflineReady, shots } from './helpers';

test.describe('cold link open', () => {
  test('records a verified visit once, however often the link is opened', async ({ page, request }) => {
    const [venue] = await demoVenues(request);
    await page.goto(venue!.url);
    const confirmation = page.getByTestId('checkin-confirmation');
    await expect(confirmation.getByTestId('venue-name')).toHaveText(venue!.name);
    await expect(confirmation.getByTestId('verification')).toHaveAttribute('data-verification', 'verified');
    await expect(page.getByText('Đã xác thực')).toBeVisible();
    // The code leaves the address bar, so a restored tab does not check in again.
    expect(new URL(page.url()).hash).toBe('');

    await page.goto(venue!.url);
    await expect(page.getByText(/Bạn đã ghi nhận ở đây lúc/)).toBeVisible();
    expect(await diaryVisits(page)).toHaveLength(1);

    await page.getByTestId('checkout').click();
    await expect(page.getByTestId('checked-out')).toBeVisible();
    expect((await diaryVisits(page))[0]!.checkout).not.toBeNull();
  });

  test('one place at a time: a check-in closes the visit left open, says so, and undo reopens it', async ({ page, request }) => {
    const [first, second] = await demoVenues(request);
    await page.goto(first!.url);
    await expect(page.getByTestId('checkin-confirmation').getByTestId('venue-name')).toHaveText(first!.name);
    await expect(page.getByTestId('closed-previous')).toHaveCount(0);

    await page.goto(second!.url);
    await expect(page.getByTestId('checkin-confirmation').getByTestId('venue-name')).toHaveText(second!.name);
    const closed = page.getByTestId('closed-previous');
    await expect(closed).toContainText(new RegExp(`Đã ghi giờ ra ở ${first!.name} lúc \\d{2}:\\d{2}`));
    const byName = async () => Object.fromEntries((await diaryVisits(page)).map((v) => [v.venueName, v.checkout]));
    expect((await byName())[first!.name]).not.toBeNull();
    expect((await byName())[second!.name]).toBeNull();
    await shots(page, 'checkin-closed-previous');

    await closed.getByTestId('closed-undo').click();
    await expect(closed).toHaveCount(0);
    expect((await byName())[first!.name]).toBeNull();

    // Even with both open again, the diary calls only the latest one "here now".
    await page.goto('/diary');
    await expect(page.getByTestId('diary-visit')).toHaveCount(2);
    await expect(page.getByText('Đang ở đây')).toHaveCount(1);
    await expect(page.getByTestId('diary-visit').filter({ hasText: second!.name })).toContainText('Đang ở đây');

    // The same venue again within minutes stays one visit, and closes nothing.
    await page.goto(second!.url);
    await expect(page.getByText(/Bạn đã ghi nhận ở đây lúc/)).toBeVisible();
    await expect(page.getByTestId('closed-previous')).toHaveCount(0);
    expect(await diaryVisits(page)).toHaveLength(2);

    // A visit deleted meanwhile: the page says so after a reload, instead of a blank screen.
    await page.evaluate(
      () =>
        new Promise<void>((resolve, reject) => {
          const open = indexedDB.open('luu-vet-diary');
          open.onsuccess = () => {
            const clear = open.result.transaction('visits', 'readwrite').objectStore('visits').clear();
            clear.onsuccess = () => (open.result.close(), resolve());
            clear.onerror = () => reject(clear.error);
          };
          open.onerror = () => reject(open.error);
        })
    );
    await page.reload();
    await expect(page.getByTestId('checkin-gone')).toHaveText('Lượt ghi này không còn trong nhật ký (đã bị xóa).');
  });

  test('flags a forged venue code and never shows it as verified', async ({ page, request, baseURL }) => {
    await page.goto(await forgedVenueUrl(request, baseURL!));
    const verification = page.getByTestId('checkin-confirmation').getByTestId('verification');
    await expect(verification).toHaveAttribute('data-verification', 'unverified');
    await expect(page.getByText('Chưa xác thực')).toBeVisible();
    const [visit] = await diaryVisits(page);
    expect(visit!.verification).toBe('unverified');
  });

  test("a poster's typed short link checks in with the venue's signed code", async ({ page, request }) => {
    const venue = (await demoVenues(request))[3]!;
    await page.goto(`/v#18070-${venue.venueId}`);
    await expect(page.getByTestId('checkin-confirmation').getByTestId('venue-name')).toHaveText(venue.name);
    await expect(page.getByTestId('checkin-confirmation').getByTestId('verification')).toHaveAttribute('data-verification', 'verified');
    await page.goto('/v#18070-zzzzzzzzzzzz');
    await expect(page.getByTestId('shortlink-error')).toBeVisible();
  });

  test('explains a damaged link instead of recording it', async ({ page }) => {
    await page.goto('/c#1234');
    await expect(page.getByTestId('checkin-error')).toContainText('không chứa mã địa điểm hợp lệ');
    expect(await diaryVisits(page)).toHaveLength(0);
  });
});

test.describe('in-app scanner with the camera', () => {
  test('scanning a venue poster puts the visit in the diary', async ({ request, baseURL }) => {
    const venues = await demoVenues(request);
    const venue = venues[1]!;
    const browser = await browserWithCamera(cameraFile('venue', venue.url));
    try {
      const context = await browser.newContext({ baseURL, permissions: ['camera'], viewport: { width: 390, height: 844 } });
      const page = await context.newPage();
      await page.goto('/');
      await page.getByTestId('scan-button').click();
      await expect(page.getByTestId('checkin-confirmation').getByTestId('venue-name')).toHaveText(venue.name, { timeout: 30_000 });
      await expect(page.getByTestId('checkin-confirmation').getByTestId('verification')).toHaveAttribute('data-verification', 'verified');
      const visits = await diaryVisits(page);
      expect(visits).toHaveLength(1);
      expect(visits[0]).toMatchObject({ venueName: venue.name, source: 'scan', verification: 'verified' });
      await page.getByRole('link', { name: 'Mở nhật ký' }).click();
      await expect(page.getByTestId('diary-visit')).toHaveCount(1);
    } finally {
      await browser.close();
    }
  });

  test('a forged code scanned with the camera is flagged', async ({ request, baseURL }) => {
    const browser = await browserWithCamera(cameraFile('forged', await forgedVenueUrl(request, baseURL!)));
    try {
      const page = await (await browser.newContext({ baseURL, permissions: ['camera'] })).newPage();
      await page.goto('/scan');
      await expect(page.getByTestId('checkin-confirmation').getByTestId('verification')).toHaveAttribute('data-verification', 'unverified', {
        timeout: 30_000
      });
    } finally {
      await browser.close();
    }
  });

  test('an ID card code gets a plain explanation, not a check-in', async ({ baseURL }) => {
    const cccd = '001099000001|000000001|Nguyễn Văn A|01011990|Nam|Số 1 Đường Thử Nghiệm, Phường Mẫu, Quận 1, TP. Hồ Chí Minh|15042021';
    const browser = await browserWithCamera(cameraFile('cccd', cccd));
    try {
      const page = await (await browser.newContext({ baseURL, permissions: ['camera'] })).newPage();
      await page.goto('/scan');
      await expect(page.getByTestId('scan-result')).toContainText('Căn cước công dân', { timeout: 30_000 });
      expect(await diaryVisits(page)).toHaveLength(0);
    } finally {
      await browser.close();
    }
  });

  test('explains a missing camera and offers a photo instead', async ({ page }) => {
    // This browser has no camera device at all.
    await page.goto('/scan');
    const problem = page.getByTestId('camera-problem');
    await expect(problem).toHaveAttribute('data-problem', 'no-camera');
    await expect(problem).toContainText('Không tìm thấy máy ảnh');
    await expect(page.getByText('Chọn ảnh có mã QR', { exact: true })).toBeVisible();
  });

  test('explains a refused camera in words, and retries', async () => {
    // A camera exists but the permission is refused (no --use-fake-ui-for-media-stream, no grant).
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: [...CHROMIUM_ARGS, '--use-fake-device-for-media-stream'] });
    try {
      const page = await browser.newPage({ baseURL: `http://localhost:${E2E_PORT}`, viewport: { width: 390, height: 844 } });
      await page.goto('/scan');
      const problem = page.getByTestId('camera-problem');
      await expect(problem).toHaveAttribute('data-problem', 'denied');
      // In the app's words with what to do, never the browser's "NotAllowedError: Permission denied".
      await expect(problem).toContainText('chưa cho phép trang này dùng máy ảnh');
      await expect(problem).not.toContainText('NotAllowedError');
      await problem.getByTestId('camera-retry').click();
      await expect(page.getByTestId('camera-problem')).toHaveAttribute('data-problem', 'denied');
    } finally {
      await browser.close();
    }
  });
});

test.describe('scanning from a photo', () => {
  test('a photo of a venue poster checks in, a photo without a code says so', async ({ page, request }) => {
    const venue = (await demoVenues(request))[4]!;
    await page.goto('/scan');
    await expect(page.getByTestId('camera-problem')).toBeVisible();
    await page.getByTestId('photo-input').setInputFiles({ name: 'blank.png', mimeType: 'image/png', buffer: Buffer.from(BLANK_PNG, 'base64') });
    await expect(page.getByTestId('photo-message')).toHaveText('Không tìm thấy mã QR trong ảnh này.');
    await page.getByTestId('photo-input').setInputFiles({ name: 'poster.png', mimeType: 'image/png', buffer: await QRCode.toBuffer(venue.url, { errorCorrectionLevel: 'M', scale: 6 }) });
    await expect(page.getByTestId('checkin-confirmation').getByTestId('venue-name')).toHaveText(venue.name);
  });
});

test.describe('retention', () => {
  test('visits older than the retention period are deleted on app start', async ({ page }) => {
    await page.goto('/diary');
    await expect(page.getByTestId('diary-empty')).toBeVisible();
    const day = 24 * 60 * 60 * 1000;
    await page.evaluate(
      (visits) =>
        new Promise<void>((resolve, reject) => {
          const open = indexedDB.open('luu-vet-diary');
          open.onsuccess = () => {
            const tx = open.result.transaction('visits', 'readwrite');
            for (const v of visits) tx.objectStore('visits').put(v);
            tx.oncomplete = () => resolve();
            tx.onerror = () => reject(tx.error);
          };
        }),
      [22, 20].map((ago) => ({
        id: `ago-${ago}`,
        venueId: null,
        venueName: `${ago} ngày trước`,
        communeCode: null,
        venueType: 'other',
        checkin: Date.now() - ago * day,
        checkout: null,
        source: 'manual',
        verification: 'manual',
        token: null,
        note: ''
      }))
    );
    await page.reload();
    await expect(page.getByTestId('diary-visit')).toHaveCount(1);
    await expect(page.getByTestId('diary-visit')).toContainText('20 ngày trước');
    expect((await diaryVisits(page)).map((v) => v.venueName)).toEqual(['20 ngày trước']);
  });
});

test.describe('offline after the first visit', () => {
  test('link check-in, scanner and diary work with the network off', async ({ request, baseURL }) => {
    const venues = await demoVenues(request);
    const browser = await browserWithCamera(cameraFile('offline', venues[2]!.url));
    try {
      const context = await browser.newContext({ baseURL, permissions: ['camera'] });
      const page = await context.newPage();
      await page.goto('/');
      await waitForOfflineReady(page);
      await page.waitForFunction(() => !!localStorage.getItem('lv.keys.v1'));
      await context.setOffline(true);

      // A cold link open of another venue, offline: saved and verified with the cached keys.
      await page.goto(venues[3]!.url);
      await expect(page.getByTestId('checkin-confirmation').getByTestId('venue-name')).toHaveText(venues[3]!.name);
      await expect(page.getByTestId('checkin-confirmation').getByTestId('verification')).toHaveAttribute('data-verification', 'verified');

      // The scanner (with its WebAssembly decoder) from the precache.
      await page.goto('/scan');
      await expect(page.getByTestId('checkin-confirmation').getByTestId('venue-name')).toHaveText(venues[2]!.name, { timeout: 30_000 });

      await page.goto('/diary');
      await expect(page.getByTestId('diary-visit')).toHaveCount(2);
      await page.reload();
      await expect(page.getByTestId('diary-visit')).toHaveCount(2);
    } finally {
      await browser.close();
    }
  });
});

test.describe('diary', () => {
  test('manual entry, edit, delete and undo', async ({ page }) => {
    await page.goto('/diary');
    await expect(page.getByTestId('diary-empty')).toBeVisible();
    await page.getByTestId('add-manual').click();
    if (process.env.SHOTS) {
      // The form closes on the reload of a language switch: opened again in English.
      await page.screenshot({ path: `${process.env.SHOTS}/visit-form-vi.png`, fullPage: true });
      await page.getByTestId('lang-switch').click();
      await expect(page.locator('html')).toHaveAttribute('lang', 'en');
      await page.getByTestId('add-manual').click();
      await page.screenshot({ path: `${process.env.SHOTS}/visit-form-en.png`, fullPage: true });
      await page.getByTestId('lang-switch').click();
      await expect(page.locator('html')).toHaveAttribute('lang', 'vi');
      await page.getByTestId('add-manual').click();
    }
    await expect(page.getByTestId('vf-day')).toHaveValue(/^\d{2}\/\d{2}\/\d{4}$/);
    await page.getByLabel('Tên địa điểm').fill('Nhà bác Hòa, thôn Trung Tiến');
    await page.getByLabel('Loại địa điểm').selectOption('other');
    await page.getByLabel('Giờ đến').fill('00:10');
    await page.getByLabel('Giờ về (nếu biết)').fill('00:05');
    await page.getByRole('button', { name: 'Lưu' }).click();
    // Leaving before arriving is said as such (read as the next morning only once that morning has come).
    await expect(page.getByRole('alert')).toHaveText('Giờ về phải sau giờ đến.');
    await page.getByLabel('Giờ về (nếu biết)').fill('');
    await page.getByRole('button', { name: 'Lưu' }).click();
    await expect(page.getByTestId('diary-visit')).toHaveCount(1);
    await expect(page.getByTestId('diary-visit')).toContainText('Nhà bác Hòa');
    await expect(page.getByTestId('diary-visit').getByTestId('verification')).toHaveAttribute('data-verification', 'manual');

    await page.getByRole('button', { name: 'Sửa' }).click();
    await page.getByLabel('Giờ đến').fill('00:01');
    await page.getByLabel('Ghi chú').fill('Thăm người ốm');
    await page.getByRole('button', { name: 'Lưu' }).click();
    await expect(page.getByTestId('diary-visit')).toContainText('00:01');
    await expect(page.getByTestId('visit-note')).toHaveText(/Thăm người ốm/);
    await shots(page, 'diary-note');

    await page.getByRole('button', { name: 'Xóa' }).click();
    await expect(page.getByTestId('undo-bar')).toContainText('Nhà bác Hòa');
    expect(await diaryVisits(page)).toHaveLength(0);
    await page.getByTestId('undo').click();
    await expect(page.getByTestId('diary-visit')).toHaveCount(1);
    const [visit] = await diaryVisits(page);
    expect(visit).toMatchObject({ venueName: 'Nhà bác Hòa, thôn Trung Tiến' });

    const download = page.waitForEvent('download');
    await page.getByTestId('export-csv').click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/\.csv$/);
    // Days as dd/mm/yyyy, times 24-hour.
    const csv = readFileSync((await file.path())!, 'utf8');
    expect(csv).toMatch(/\n\d{2}\/\d{2}\/\d{4},00:01,/);
    // Headers and values in the screen's language: this one is Vietnamese.
    expect(csv.split('\r\n')[0]).toBe('\uFEFFNgày,Giờ đến,Giờ về,Địa điểm,Mã địa điểm,"Mã xã, phường",Loại địa điểm,Xác thực,Cách ghi,Ghi chú');
    expect(csv).toContain(',Tự nhập,Tự nhập,');
  });
});

test.describe('language', () => {
  test('switches to English and stays English after a reload', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByTestId('scan-button')).toContainText('Quét mã QR');
    await page.getByTestId('lang-switch').click();
    await expect(page.getByTestId('scan-button')).toContainText('Scan a QR code');
    await expect(page.locator('html')).toHaveAttribute('lang', 'en');
    await page.reload();
    await expect(page.getByTestId('scan-button')).toContainText('Scan a QR code');
    await page.goto('/diary');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Visit diary');
    await page.getByTestId('lang-switch').click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Nhật ký đi lại');
  });
});

/** A plain white 16x16 PNG: a photo with no code in it. */
const BLANK_PNG = 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFElEQVR4nGP4TyJgGNUwqmH4agAAr639H708R/EAAAAASUVORK5CYII=';
