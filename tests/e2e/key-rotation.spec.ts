/**
 * Signing keys over years, as a phone sees them: the operator rotates and revokes with the commands
 * (npm run keys:rotate / keys:revoke, through the running server's store), and a phone that opens
 * a poster's link judges it with the key list it then fetches.
 *
 * The demo venues' posters stay under the first key (rotation re-signs nothing), so the specs that
 * run after this one still check in verified. The key revoked is a second one, which signed no
 * venue: the code under it is what whoever stole it would make after the revocation day.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type APIRequestContext } from '@playwright/test';
import { base64urlnopad } from '@scure/base';
import { demoVenues, diaryVisits, shots } from './helpers';
import { checkinUrl } from '../../src/lib/core/venue/venue-token';
import { signVenueToken } from '../../src/lib/core/venue/venue-signing';

/** The data directory of the test server (playwright.config.ts). */
const DATA_DIR = 'tmp/e2e-data';

function keysCommand(...args: string[]): string {
  const { COUCHDB_URL: _c, SIGNING_KEYS: _k, ...env } = process.env;
  return execFileSync('node', ['scripts/run-ts.mjs', 'server/keys-command.ts', ...args], { env: { ...env, DATA_DIR }, encoding: 'utf8' });
}

interface KeysDoc {
  active: string;
  keys: { id: string; state?: string; revokedFrom?: string }[];
}

async function keysDoc(request: APIRequestContext): Promise<KeysDoc> {
  return (await (await request.get('/api/keys')).json()) as KeysDoc;
}

test.describe.configure({ mode: 'serial' });

test.describe('signing keys over years', () => {
  let firstKey: string;

  test('a poster printed under the first key still checks in as verified after a rotation', async ({ page, request }) => {
    const [venue] = await demoVenues(request);
    firstKey = (await keysDoc(request)).active;
    expect(venue!.url).toContain(`#1${firstKey}`);

    const out = keysCommand('rotate');
    expect(out).toMatch(new RegExp(`key (\\d{4}) signs new codes and events from now on; key ${firstKey} is retired`));
    await expect.poll(async () => (await keysDoc(request)).active).not.toBe(firstKey);
    const after = await keysDoc(request);
    expect(after.keys.find((k) => k.id === firstKey)?.state).toBe('retired');

    // The poster on the wall has not changed: the same link, the key that signed it now retired.
    await page.goto(venue!.url);
    const verification = page.getByTestId('checkin-confirmation').getByTestId('verification');
    await expect(verification).toHaveAttribute('data-verification', 'verified');
    await expect(page.getByText('Đã xác thực')).toBeVisible();
    expect((await diaryVisits(page))[0]).toMatchObject({ venueName: venue!.name, verification: 'verified' });
  });

  test('a code signed by a revoked key after the revocation day shows "chưa xác thực"', async ({ page, request, baseURL }) => {
    const secondKey = (await keysDoc(request)).active;
    expect(secondKey).not.toBe(firstKey);
    // Someone copies the second key's secret, then the operator rotates away from it and revokes it.
    const ring = JSON.parse(readFileSync(path.join(DATA_DIR, 'signing-keys.json'), 'utf8')) as { keys: { id: string; secretKey?: string }[] };
    const stolen = { id: secondKey, secretKey: base64urlnopad.decode(ring.keys.find((k) => k.id === secondKey)!.secretKey!) };
    keysCommand('rotate');
    const revoked = keysCommand('revoke', '--key', secondKey);
    expect(revoked).toMatch(new RegExp(`key ${secondKey} is revoked: 0 codes signed before today stay genuine`));
    await expect.poll(async () => (await keysDoc(request)).keys.find((k) => k.id === secondKey)?.state).toBe('revoked');

    // What the thief makes afterwards: a well-signed code for a venue of the demo commune.
    const token = signVenueToken({ venueId: 'thiefvenue23', name: 'Quán Ăn Mới Mở', communeCode: '18070', venueType: 'food' }, stolen);
    await page.goto(checkinUrl(baseURL!, token));
    const verification = page.getByTestId('checkin-confirmation').getByTestId('verification');
    await expect(verification).toHaveAttribute('data-verification', 'unverified');
    await expect(page.getByText('Chưa xác thực')).toBeVisible();
    expect((await diaryVisits(page))[0]).toMatchObject({ venueName: 'Quán Ăn Mới Mở', verification: 'unverified' });
    await shots(page, 'checkin-revoked-key');

    // The first key's posters are untouched by the second key's revocation.
    const [venue] = await demoVenues(request);
    await page.goto(venue!.url);
    await expect(page.getByTestId('checkin-confirmation').getByTestId('verification')).toHaveAttribute('data-verification', 'verified');
  });
});
