/**
 * The typed line under a poster's QR: a code typed with look-alikes, capitals and spaces still
 * checks in; a wrong one leaves a field to type it again. And the poster page warns when its QR
 * would point at this machine (the test server's PUBLIC_ORIGIN is localhost).
 */
import { expect, test, type Page } from '@playwright/test';

async function shot(page: Page, name: string) {
  if (process.env.SHOTS) await page.screenshot({ path: `${process.env.SHOTS}/${name}.png`, fullPage: true });
}

test('a typed code with look-alikes checks in; a wrong one can be typed again', async ({ page }) => {
  // A code that leads nowhere: the error, and the field with what was typed.
  await page.goto('/v#18070-abcd-efgh-jk23');
  await expect(page.getByTestId('shortlink-error')).toContainText('Không tìm thấy địa điểm');
  const field = page.getByTestId('shortlink-input');
  await expect(field).toHaveValue('18070-abcd-efgh-jk23');
  await shot(page, 'codes-retype-vi');

  // A demo poster's old id, "demochoducth", typed as it reads to someone copying it: 0 for o, v for
  // u, capitals, spaces, and an I for the commune's 1.
  await field.fill('I8070 DEM0 CH0D VCTH');
  await page.getByTestId('shortlink-open').click();
  await expect(page.getByTestId('checkin-confirmation')).toContainText('Chợ Đức Thọ', { timeout: 20_000 });
  await expect(page.getByTestId('checkin-confirmation').getByTestId('verification')).toHaveAttribute('data-verification', 'verified');

  // Something that is no code at all says what a code looks like, in English too.
  await page.evaluate(() => localStorage.setItem('PARAGLIDE_LOCALE', 'en'));
  await page.goto('/v#hello');
  await expect(page.getByTestId('shortlink-error')).toContainText("commune's 5 digits");
  await expect(page.getByTestId('shortlink-input')).toBeVisible();
  await shot(page, 'codes-retype-en');
  await page.evaluate(() => localStorage.setItem('PARAGLIDE_LOCALE', 'vi'));
});

test('the poster page warns that a localhost QR opens on no phone, and leads back', async ({ page }) => {
  await page.goto('/posters');
  await expect(page.getByTestId('poster').first()).toBeVisible();
  await expect(page.getByTestId('poster-local-origin')).toContainText(/localhost:\d+/);
  // The typed line is printed in groups of four.
  await expect(page.getByTestId('poster').first()).toContainText(/\/v#18070-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}/);
  await shot(page, 'codes-posters-warning-vi');
  await page.emulateMedia({ media: 'print' });
  // Printed: the warning and the way back stay on the screen, not on paper.
  await expect(page.getByTestId('poster-local-origin')).toBeHidden();
  await expect(page.getByTestId('posters-back')).toBeHidden();
  await shot(page, 'codes-poster-printed-vi');
  await page.emulateMedia({ media: 'screen' });
  await page.evaluate(() => localStorage.setItem('PARAGLIDE_LOCALE', 'en'));
  await page.reload();
  await expect(page.getByTestId('poster-local-origin')).toContainText('phones that scan them cannot open it');
  await shot(page, 'codes-posters-warning-en');
  await page.evaluate(() => localStorage.setItem('PARAGLIDE_LOCALE', 'vi'));
  await page.reload();
  await page.getByTestId('posters-back').click();
  await expect(page).toHaveURL(/\/demo$/);
});
