/**
 * The entry screens are prerendered with their HTML, so that a cheap phone on a slow link paints
 * text and the main button before the JavaScript has arrived. These tests hold every JavaScript file
 * back (a phone still waiting for them) and look at what the page shows from HTML and CSS alone:
 * the real first screen, and never something false about this phone (a sign-in text to someone
 * signed in, a page half in Vietnamese on a phone set to English).
 */
import { expect, test, type Page } from '@playwright/test';

/** The app's modules never arrive: what is on screen is the prerendered page. */
async function withoutJavaScript(page: Page): Promise<void> {
  await page.route(/\/_app\/immutable\/.*\.js$/, (route) => route.abort());
}

test.use({ viewport: { width: 390, height: 844 } });

test('citizen pages and role entry screens paint their first screen before any JavaScript runs', async ({ page }) => {
  await withoutJavaScript(page);
  const screens: [string, string | null, RegExp][] = [
    ['/', null, /Quét mã dán ở cửa ra vào/],
    ['/scan', 'Quét mã QR', /ghi lượt ghé vào nhật ký trên điện thoại này/],
    ['/diary', 'Nhật ký đi lại', /Nhật ký đi lại/],
    ['/me', 'Mã QR cá nhân', /Đưa mã này cho trạm quét/],
    ['/alerts', 'Cảnh báo tiếp xúc', /Lưu Vết tải danh sách nơi có ca bệnh/],
    ['/settings', 'Cài đặt', /Cài đặt/],
    ['/venue', 'Địa điểm của tôi', /Dành cho chủ cửa hàng/],
    ['/team', 'Tổ COVID cộng đồng', /Đăng nhập bằng tài khoản tổ/],
    ['/admin', 'Quản trị huyện, tỉnh', /Dành cho cán bộ quản trị/]
  ];
  for (const [path, heading, text] of screens) {
    await page.goto(path);
    if (heading) await expect(page.getByRole('heading', { level: 1 }), path).toHaveText(heading);
    await expect(page.getByText(text).first(), path).toBeVisible();
  }
  // The check-in page, before its visit is saved: what it is doing and that the diary stays on the phone.
  await page.goto('/c');
  await expect(page.getByRole('status')).toHaveText('Đang ghi nhận…');
  await expect(page.getByTestId('checkin-about')).toContainText('nhật ký trên chính điện thoại này');
  // The home screen's main button is there to tap (a link: it works before hydration).
  await page.goto('/');
  await expect(page.getByTestId('scan-button')).toHaveAttribute('href', '/scan');
});

test('a phone with an account sees "loading", not the sign-in introduction, until the app knows', async ({ page }) => {
  await page.addInitScript(() => {
    localStorage.setItem('lv.account', JSON.stringify({ userId: 'u1', phone: '0912345678', name: 'Tổ xã', role: 'team', communes: ['18070'] }));
  });
  await withoutJavaScript(page);
  for (const [path, intro] of [
    ['/team', /Đăng nhập bằng tài khoản tổ/],
    ['/venue', /Dành cho chủ cửa hàng/],
    ['/admin', /Dành cho cán bộ quản trị/]
  ] as const) {
    await page.goto(path);
    await expect(page.getByRole('status').first(), path).toHaveText(/Đang tải/);
    await expect(page.getByText(intro), path).toBeHidden();
  }
});

test('a phone set to English shows nothing in Vietnamese while it waits for the app', async ({ page }) => {
  await page.addInitScript(() => localStorage.setItem('PARAGLIDE_LOCALE', 'en'));
  await withoutJavaScript(page);
  await page.goto('/');
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByTestId('scan-button')).toBeHidden();
});

test('the language switch works when tapped before the app has run', async ({ page }) => {
  await withoutJavaScript(page);
  await page.goto('/');
  await page.getByTestId('lang-switch').click();
  // The page reloads with English chosen; it waits (hidden) for the app to render it in English.
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  expect(await page.evaluate(() => localStorage.getItem('PARAGLIDE_LOCALE'))).toBe('en');
});
