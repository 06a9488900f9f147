/**
 * Demo data so that a newcomer can try the citizen's check-in before any venue owner exists:
 * one commune (thị trấn Đức Thọ, Hà Tĩnh, a locality of the 2021 directives) and a few venues of
 * different types, each signed with the active key. Idempotent: re-run on every start, it only
 * re-signs venues whose key is no longer the active one.
 */
import { checkinUrl, shortLinkText, signVenueToken } from '../src/lib/core/venue-token';
import { venueDocId, type DemoVenue, type VenueDoc, type VenueType } from '../src/lib/core/venue';
import { getOrNull, type Store } from './store/couch';
import type { Keyring } from './keys';

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
