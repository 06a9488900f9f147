/**
 * Demo data so that a newcomer can try the citizen's check-in before any venue owner exists:
 * one commune (thị trấn Đức Thọ, Hà Tĩnh, a locality of the 2021 directives) and a few venues of
 * different types, each signed with the active key. Idempotent: re-run on every start, it only
 * re-signs venues whose key is no longer the active one.
 */
import { checkinUrl, shortLinkText } from '../src/lib/core/venue/venue-token';
import { signVenueToken } from '../src/lib/core/venue/venue-signing';
import { venueDocId, type DemoVenue, type VenueType } from '../src/lib/core/venue/venue';
import type { VenueRecord as VenueDoc } from '../src/lib/core/documents';
import { getOrNull, type Store } from './store/couch';
import type { Keyring } from './keys';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hashPassword } from './auth';
import { createUser, findUserByPhone, updateUser } from './users';

export const DEMO_COMMUNE = { code: '18070', name: 'Thị trấn Đức Thọ', district: 'Huyện Đức Thọ', province: 'Tỉnh Hà Tĩnh' };

const DEMO_VENUES: { venueId: string; name: string; venueType: VenueType; address: string }[] = [
  { venueId: 'demochoducth', name: 'Chợ Đức Thọ', venueType: 'market', address: 'Khối 3, thị trấn Đức Thọ' },
  { venueId: 'demothcsduct', name: 'Trường THCS thị trấn Đức Thọ', venueType: 'school', address: 'Khối 5, thị trấn Đức Thọ' },
  { venueId: 'demotramyte2', name: 'Trạm Y tế thị trấn Đức Thọ', venueType: 'health', address: 'Khối 1, thị trấn Đức Thọ' },
  { venueId: 'democafesong', name: 'Quán cà phê Sông La', venueType: 'food', address: 'Đường Lê Duẩn, thị trấn Đức Thọ' },
  { venueId: 'demoubndttdt', name: 'UBND thị trấn Đức Thọ', venueType: 'office', address: 'Khối 2, thị trấn Đức Thọ' },
  { venueId: 'demoxekhach3', name: 'Xe khách Đức Thọ – Hà Tĩnh 38B-012.34', venueType: 'transport', address: 'Bến xe Đức Thọ' }
];

export type { DemoVenue };

export async function seedDemo(store: Store, keyring: Keyring, origin: string): Promise<DemoVenue[]> {
  const dbName = await store.ensureCommuneDb(DEMO_COMMUNE.code);
  const db = store.db<VenueDoc>(dbName);
  const out: DemoVenue[] = [];
  for (const venue of DEMO_VENUES) {
    const existing = await getOrNull(db, venueDocId(venue.venueId));
    let doc: VenueDoc = existing ?? {
      _id: venueDocId(venue.venueId),
      type: 'venue',
      schema: 1,
      communeCode: DEMO_COMMUNE.code,
      status: 'active',
      demo: true,
      ...venue
    };
    if (doc.keyId !== keyring.active.id || !doc.token) {
      const token = signVenueToken({ venueId: doc.venueId, name: doc.name, communeCode: doc.communeCode, venueType: doc.venueType }, keyring.active);
      doc = { ...doc, token, keyId: keyring.active.id, signedAt: new Date().toISOString() };
      await db.insert(doc);
    }
    out.push({
      venueId: doc.venueId,
      name: doc.name,
      venueType: doc.venueType,
      url: checkinUrl(origin, doc.token!),
      address: doc.address,
      communeLabel: `${DEMO_COMMUNE.name}, ${DEMO_COMMUNE.district}, ${DEMO_COMMUNE.province}`,
      fallbackUrl: shortLinkText(origin, doc.communeCode, doc.venueId)
    });
  }
  return out;
}

/**
 * A commune team account for the demo commune, so that a newcomer can publish an exposure event and
 * watch a phone raise the alert. Its password is DEMO_TEAM_PASSWORD when set (the browser tests), else
 * random, kept in DATA_DIR/demo-team.json and printed at start. Demo data only: DEMO=0 in production.
 */
export const DEMO_TEAM_PHONE = '0912000070';
/** A second member of the same demo team (same password). */
export const DEMO_TEAM_PHONE_2 = '0912000071';
/** The officials above the demo team (same password): Huyện Đức Thọ's and Tỉnh Hà Tĩnh's administrators. */
export const DEMO_DISTRICT_ADMIN_PHONE = '0912000440';
export const DEMO_PROVINCE_ADMIN_PHONE = '0912000042';

export async function seedDemoTeam(store: Store, dataDir: string, password: string | undefined): Promise<{ phone: string; password: string }> {
  const file = path.join(dataDir, 'demo-team.json');
  const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { phone: string; password: string }) : null;
  if (saved && (!password || saved.password === password) && (await findUserByPhone(store, DEMO_TEAM_PHONE_2)) && (await findUserByPhone(store, DEMO_PROVINCE_ADMIN_PHONE))) return saved;
  const account = { phone: DEMO_TEAM_PHONE, password: saved && !password ? saved.password : (password ?? randomBytes(9).toString('base64url')) };
  // Two members of one team, so that working together offline (and their conflicts) can be tried.
  // And the district and province officials who watch it (DESIGN §12).
  const members = [
    { phone: DEMO_TEAM_PHONE, name: 'Tổ COVID thị trấn Đức Thọ (demo)', role: 'team' as const, communes: [DEMO_COMMUNE.code] },
    { phone: DEMO_TEAM_PHONE_2, name: 'Tổ COVID thị trấn Đức Thọ, thành viên 2 (demo)', role: 'team' as const, communes: [DEMO_COMMUNE.code] },
    { phone: DEMO_DISTRICT_ADMIN_PHONE, name: 'Phòng Y tế huyện Đức Thọ (demo)', role: 'admin' as const, unit: '440' },
    { phone: DEMO_PROVINCE_ADMIN_PHONE, name: 'Sở Y tế tỉnh Hà Tĩnh (demo)', role: 'admin' as const, unit: '42' }
  ];
  for (const { phone, ...member } of members) {
    const existing = await findUserByPhone(store, phone);
    if (existing) await updateUser(store, { ...existing, passwordHash: await hashPassword(account.password), sessionVersion: existing.sessionVersion + 1 });
    else await createUser(store, { phone, password: account.password, ...member });
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(account), { mode: 0o600 });
  return account;
}
