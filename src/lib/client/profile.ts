/**
 * The citizen's profile and health declarations, in IndexedDB on this phone. Like the diary,
 * nothing here talks to the network: the personal QR is shown, not sent.
 */
import Dexie, { liveQuery, type EntityTable } from 'dexie';
import { readable, type Readable } from 'svelte/store';
import type { HealthDeclaration } from '$lib/core/citizen/personal-qr';
import { declarationExpired, type Profile } from '$lib/core/citizen/profile';

interface ProfileRow extends Profile {
  key: 'me';
  updatedAt: number;
}

interface DeclarationRow extends HealthDeclaration {
  id?: number;
  /** when it was made, ms: several declarations on one day keep their order */
  madeAt: number;
}

class ProfileDb extends Dexie {
  profile!: EntityTable<ProfileRow, 'key'>;
  declarations!: EntityTable<DeclarationRow, 'id'>;

  constructor() {
    super('luu-vet-profile');
    this.version(1).stores({ profile: 'key', declarations: '++id, madeAt' });
  }
}

const db = new ProfileDb();

export interface ProfileState {
  profile: Profile | null;
  latest: HealthDeclaration | null;
}

async function read(): Promise<ProfileState> {
  const row = await db.profile.get('me');
  const last = await db.declarations.orderBy('madeAt').last();
  const profile = row ? (({ key: _k, updatedAt: _u, ...rest }) => rest)(row) : null;
  const latest = last ? (({ id: _i, madeAt: _m, ...rest }) => rest)(last) : null;
  return { profile, latest };
}

/** The profile and latest declaration, live; undefined while loading. */
export function profileLive(): Readable<ProfileState | undefined> {
  return readable<ProfileState | undefined>(undefined, (set) => {
    const sub = liveQuery(read).subscribe({ next: set, error: () => set({ profile: null, latest: null }) });
    return () => sub.unsubscribe();
  });
}

export async function saveProfile(profile: Profile, now = Date.now()): Promise<void> {
  await db.profile.put({ ...profile, key: 'me', updatedAt: now });
}

export async function addDeclaration(declaration: HealthDeclaration, now = Date.now()): Promise<void> {
  await db.transaction('rw', db.declarations, async () => {
    await db.declarations.add({ ...declaration, madeAt: now });
    // Kept for the 14 days a tracer asks about, no longer.
    const old = (await db.declarations.toArray()).filter((d) => declarationExpired(d, now)).map((d) => d.id!);
    await db.declarations.bulkDelete(old);
  });
}

/** "Delete my data": the profile and every declaration. */
export async function deleteProfile(): Promise<void> {
  await db.transaction('rw', db.profile, db.declarations, async () => {
    await db.profile.clear();
    await db.declarations.clear();
  });
}
