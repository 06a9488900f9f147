/**
 * The signer: gives every active venue a signed token (the code on its poster), re-signs a
 * venue whose name, type or commune changed or whose key left the keyring, and keeps the public
 * list of suspended venues, whose codes phones must stop accepting. Venues reach the commune
 * databases through the gateway, often created offline; the signer's edit replicates back to the
 * device that created them, which then prints the poster. It also publishes the commune's exposure
 * events (publisher.ts), signed with the same key.
 */
import { parseVenueToken } from '../src/lib/core/venue/venue-token';
import { signVenueToken } from '../src/lib/core/venue/venue-signing';
import type { VenueRecord } from '../src/lib/core/documents';
import type { Keyring } from './keys';
import { DB, type Store } from './store/couch';
import { Publisher } from './publisher';

interface RevokedDoc {
  _id: string;
  _rev?: string;
  _deleted?: boolean;
  type: 'revoked';
  schema: 1;
  venueId: string;
  since: string;
}

/**
 * A venue is signed again when its code is missing, damaged, says other claims, or is under a key
 * that left the lifecycle or was revoked. A code under a retired key is left as it is: it still
 * verifies, and its poster on the wall is the same code.
 */
export function needsSigning(venue: VenueRecord, keyring: Keyring): boolean {
  if (!venue.token) return true;
  const parsed = parseVenueToken(venue.token);
  if (!parsed.ok) return true;
  const key = keyring.publicKeys.find((k) => k.id === parsed.keyId);
  // (An instance left signing with a revoked key, for want of the new one, must not undo the others' work.)
  if ((!key || key.revokedFrom !== undefined) && parsed.keyId !== keyring.active.id) return true;
  const c = parsed.claims;
  return c.venueId !== venue.venueId || c.name !== venue.name.normalize('NFC') || c.communeCode !== venue.communeCode || c.venueType !== venue.venueType;
}

export class Signer {
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #running = new Map<string, Promise<void>>();

  readonly #publisher: Publisher;

  constructor(
    private readonly store: Store,
    private readonly keyring: Keyring,
    private readonly log: (msg: string) => void = () => {}
  ) {
    this.#publisher = new Publisher(store, keyring);
  }

  /** Signs soon: pushes arrive in bursts, one pass serves the burst. */
  wake(communeCode: string): void {
    clearTimeout(this.#timers.get(communeCode));
    this.#timers.set(
      communeCode,
      setTimeout(() => {
        this.#timers.delete(communeCode);
        void this.signCommune(communeCode).catch((err: Error) => this.log(`signer: commune ${communeCode}: ${err.message}`));
      }, 150)
    );
  }

  /** One pass over a commune's venues; passes of one commune never overlap. */
  async signCommune(communeCode: string): Promise<number> {
    const previous = this.#running.get(communeCode) ?? Promise.resolve();
    let signed = 0;
    const run = previous.then(async () => {
      signed = await this.#pass(communeCode);
    });
    this.#running.set(communeCode, run.catch(() => {}));
    await run;
    return signed;
  }

  async #pass(communeCode: string): Promise<number> {
    const dbName = `lv_c_${communeCode}`;
    const venues = ((await this.store.docsByPrefix<VenueRecord>(dbName, 'venue:')) ?? []).filter((d) => d.type === 'venue');
    const updates = venues
      .filter((v) => needsSigning(v, this.keyring))
      .map((v) => ({
        ...v,
        token: signVenueToken({ venueId: v.venueId, name: v.name, communeCode: v.communeCode, venueType: v.venueType }, this.keyring.active),
        keyId: this.keyring.active.id,
        signedAt: new Date().toISOString()
      }));
    if (updates.length) {
      // A conflict means the owner edited meanwhile: their change wakes the signer again.
      await this.store.request('POST', `${dbName}/_bulk_docs`, { body: { docs: updates } });
    }
    await this.#syncRevocations(venues);
    await this.#publisher.publishCommune(communeCode, new Set(venues.map((v) => v.venueId)));
    return updates.length;
  }

  async #syncRevocations(venues: VenueRecord[]): Promise<void> {
    const ids = venues.map((v) => `revoked:${v.venueId}`);
    if (!ids.length) return;
    const res = await this.store.request('POST', `${DB.directory}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: ids } });
    const existing = new Map<string, RevokedDoc>();
    for (const row of (res.body as { rows: { key: string; doc?: RevokedDoc | null }[] }).rows ?? []) if (row.doc) existing.set(row.key, row.doc);
    const changes: RevokedDoc[] = [];
    for (const venue of venues) {
      const id = `revoked:${venue.venueId}`;
      const doc = existing.get(id);
      if (venue.status === 'suspended' && !doc) changes.push({ _id: id, type: 'revoked', schema: 1, venueId: venue.venueId, since: new Date().toISOString() });
      if (venue.status === 'active' && doc) changes.push({ ...doc, _deleted: true });
    }
    if (changes.length) await this.store.request('POST', `${DB.directory}/_bulk_docs`, { body: { docs: changes } });
  }

  /** At start-up: every commune database, for venues pushed while no server was running. */
  async sweep(): Promise<void> {
    const dbs = (await this.store.couch.db.list()).filter((name) => /^lv_c_[0-9]{5}$/.test(name));
    for (const name of dbs) await this.signCommune(name.slice(5));
  }
}

/** Venue ids whose codes phones must no longer accept. */
export async function revokedVenueIds(store: Store): Promise<string[]> {
  const res = await store.request('GET', `${DB.directory}/_all_docs`, {
    query: new URLSearchParams({ startkey: JSON.stringify('revoked:'), endkey: JSON.stringify('revoked:\ufff0') })
  });
  return ((res.body as { rows?: { id: string }[] }).rows ?? []).map((r) => r.id.slice('revoked:'.length));
}
