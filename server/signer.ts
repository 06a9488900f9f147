/**
 * The signer: gives every active venue a signed token (the code on its poster), re-signs a
 * venue whose name, type or commune changed or whose key left the keyring, and keeps the public
 * list of suspended venues, whose codes phones must stop accepting. Venues reach the commune
 * databases through the gateway, often created offline; the signer's edit replicates back to the
 * device that created them, which then prints the poster. It also publishes the commune's exposure
 * events (publisher.ts), signed with the same key.
 *
 * N server instances: a pass over a commune runs under a lease per commune (`signer:<code>`,
 * server/shared/lease.ts), so one instance at a time signs and publishes a commune. Not
 * deterministic content alone: a signature is the same from every instance, but `signedAt`, a
 * revoked venue's `since` and an event's `publishedAt` are times of writing (the snapshot deltas
 * count in `publishedAt`, so it must be the server's time of publication), so two instances
 * writing at once make two different revisions, and on a cluster both can survive as a conflict.
 * Under the lease, the writes still carry the revision read, read again by key at the read quorum
 * just before writing, and a 409 means someone else wrote first: counted as not signed here, never
 * retried blindly. An instance that wakes for a commune another holds tries again a second later
 * (the holder's pass may have read before its push); a pass that fails on the store is retried with
 * backoff; a pass whose instance died leaves its lease pending, and every instance looks each
 * minute for such leases and runs the pass again once the lease expired. Every pass computes what
 * should be from what is (unsigned venues, the revoked list, the published events), so a pass cut
 * off halfway leaves nothing the next pass does not finish.
 */
import { parseVenueToken } from '../src/lib/core/venue/venue-token';
import { signVenueToken } from '../src/lib/core/venue/venue-signing';
import type { VenueRecord } from '../src/lib/core/documents';
import type { Keyring } from './keys';
import { DB, type Store } from './store/couch';
import { Publisher } from './publisher';
import { clearWanted, Lease, LEASE_SKEW_MS, markWanted, newHolderId, unfinishedLeases, wantedWork, withLease } from './shared/lease';

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

/** How long a signer may hold a commune before another instance counts it as dead. */
export const SIGNER_LEASE_MS = 30_000;
/** A commune another instance is signing is tried again this soon: its pass may have read before our push. */
const BUSY_RETRY_MS = 1_000;
/** Retries after a failed pass: 1 s, 2 s, 4 s… up to a minute, until a pass succeeds. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;
/** How often each instance looks for a commune pass that another instance started and never finished. */
export const SIGNER_RECOVER_MS = 60_000;
/**
 * A want (venues pushed) older than this that no pass has cleared is woken by any instance's
 * recovery: the instance that took the push signs within a second unless it died.
 */
const WANT_GRACE_MS = 30_000;

export interface SignerOptions {
  ttlMs?: number;
  skewMs?: number;
  recoverEveryMs?: number;
  /** How old a want must be before recovery takes it up (default WANT_GRACE_MS; tests lower it). */
  wantGraceMs?: number;
  holder?: string;
}

export class Signer {
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #running = new Map<string, Promise<void>>();
  #failures = new Map<string, number>();
  #recoverTimer: ReturnType<typeof setInterval> | null = null;
  #stopped = false;
  readonly #holder: string;
  readonly #opts: SignerOptions;

  readonly #publisher: Publisher;

  constructor(
    private readonly store: Store,
    private readonly keyring: Keyring,
    private readonly log: (msg: string) => void = () => {},
    opts: SignerOptions = {}
  ) {
    this.#publisher = new Publisher(store, keyring);
    this.#holder = opts.holder ?? newHolderId();
    this.#opts = opts;
  }

  /**
   * Venues or events were stored in a commune by a push about to be answered: records that the
   * commune wants a pass (shared/lease.ts WantDoc), then wakes this instance's own. Should this
   * instance die before its pass, another's recovery finds the want. A store that fails here fails
   * nothing: the push is stored, and this instance's pass still comes.
   */
  async pushed(communeCode: string): Promise<void> {
    try {
      await markWanted(this.store, `signer:${communeCode}`, this.#holder);
    } catch (err) {
      this.log(`signer: commune ${communeCode}: recording the pass it wants failed: ${(err as Error).message.split('\n')[0]}`);
    }
    this.wake(communeCode);
  }

  /** Signs soon: pushes arrive in bursts, one pass serves the burst. */
  wake(communeCode: string, delayMs = 150): void {
    if (this.#stopped) return;
    clearTimeout(this.#timers.get(communeCode));
    const timer = setTimeout(() => {
      this.#timers.delete(communeCode);
      void this.#attempt(communeCode);
    }, delayMs);
    timer.unref();
    this.#timers.set(communeCode, timer);
  }

  /** A pass that cannot run now (another instance signs the commune, or the store failed) is tried again later. */
  async #attempt(communeCode: string): Promise<void> {
    try {
      const signed = await this.signCommune(communeCode);
      this.#failures.delete(communeCode);
      if (signed === null) this.wake(communeCode, BUSY_RETRY_MS);
    } catch (err) {
      const failures = (this.#failures.get(communeCode) ?? 0) + 1;
      this.#failures.set(communeCode, failures);
      const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1));
      // Words only: the commune code is a public administrative code, no person's.
      this.log(`signer: commune ${communeCode}: ${(err as Error).message.split('\n')[0]}; trying again in ${Math.round(delay / 1000)} s`);
      this.wake(communeCode, delay);
    }
  }

  /**
   * One pass over a commune's venues; passes of one commune never overlap, in this instance nor
   * across instances (a lease per commune, `signer:<code>`). Returns how many venues it signed, or
   * null when another instance holds the commune.
   */
  async signCommune(communeCode: string): Promise<number | null> {
    const previous = this.#running.get(communeCode) ?? Promise.resolve();
    let signed: number | null = 0;
    const run = previous.then(async () => {
      const lease = new Lease(this.store, `signer:${communeCode}`, { holder: this.#holder, ttlMs: this.#opts.ttlMs ?? SIGNER_LEASE_MS, skewMs: this.#opts.skewMs });
      const out = await withLease(lease, (l) => this.#pass(communeCode, l), { remove: true });
      signed = out.ran ? out.value : null;
    });
    this.#running.set(
      communeCode,
      run.catch(() => {})
    );
    await run;
    return signed;
  }

  async #pass(communeCode: string, lease: Lease): Promise<number> {
    const startedAt = Date.now();
    const dbName = `lv_c_${communeCode}`;
    const venues = ((await this.store.docsByPrefix<VenueRecord>(dbName, 'venue:')) ?? []).filter((d) => d.type === 'venue');
    const candidates = venues.filter((v) => needsSigning(v, this.keyring));
    let signed = 0;
    if (candidates.length) {
      // Read again by key, at the read quorum: a range read on a cluster may come from a copy that
      // has not yet seen another instance's signature, and signing a stale revision there would
      // leave a second signed revision as a conflict.
      const fresh = await this.#readVenues(dbName, candidates.map((v) => v._id));
      const updates = fresh
        .filter((v) => v.type === 'venue' && needsSigning(v, this.keyring))
        .map((v) => ({
          ...v,
          token: signVenueToken({ venueId: v.venueId, name: v.name, communeCode: v.communeCode, venueType: v.venueType }, this.keyring.active),
          keyId: this.keyring.active.id,
          signedAt: new Date().toISOString()
        }));
      if (updates.length) {
        // A pass that outlived its lease writes nothing: another instance has the commune now.
        if (!lease.held) throw new Error('the commune lease ran out during the pass');
        // A conflict means the owner edited meanwhile (their change wakes the signer again) or a
        // pass that outlived its lease signed it: either way the venue is not signed twice here.
        const res = await this.store.request('POST', `${dbName}/_bulk_docs`, { body: { docs: updates } });
        if (res.status !== 201 && res.status !== 200) throw new Error(`signing venues answered ${res.status}`);
        signed = (res.body as { ok?: boolean }[]).filter((r) => r.ok).length;
      }
    }
    await this.#syncRevocations(venues);
    if (!lease.held) throw new Error('the commune lease ran out during the pass');
    await this.#publisher.publishCommune(communeCode, new Set(venues.map((v) => v.venueId)));
    await clearWanted(this.store, `signer:${communeCode}`, { startedAt, holder: this.#holder, skewMs: this.#opts.skewMs ?? LEASE_SKEW_MS });
    return signed;
  }

  async #readVenues(dbName: string, ids: string[]): Promise<(VenueRecord & { _id: string; _rev: string })[]> {
    const res = await this.store.request('POST', `${dbName}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: ids } });
    if (res.status !== 200) throw new Error(`reading venues answered ${res.status}`);
    return ((res.body as { rows?: { doc?: (VenueRecord & { _id: string; _rev: string }) | null }[] }).rows ?? []).map((r) => r.doc).filter((d): d is VenueRecord & { _id: string; _rev: string } => !!d);
  }

  async #syncRevocations(venues: VenueRecord[]): Promise<void> {
    const ids = venues.map((v) => `revoked:${v.venueId}`);
    if (!ids.length) return;
    const res = await this.store.request('POST', `${DB.directory}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: ids } });
    if (res.status !== 200) throw new Error(`reading the revoked list answered ${res.status}`);
    const existing = new Map<string, RevokedDoc>();
    for (const row of (res.body as { rows: { key: string; doc?: RevokedDoc | null }[] }).rows ?? []) if (row.doc) existing.set(row.key, row.doc);
    const changes: RevokedDoc[] = [];
    for (const venue of venues) {
      const id = `revoked:${venue.venueId}`;
      const doc = existing.get(id);
      // A conflict on a new revoked document: another pass listed the venue first; its `since` stays.
      if (venue.status === 'suspended' && !doc) changes.push({ _id: id, type: 'revoked', schema: 1, venueId: venue.venueId, since: new Date().toISOString() });
      if (venue.status === 'active' && doc) changes.push({ ...doc, _deleted: true });
    }
    if (changes.length) {
      const out = await this.store.request('POST', `${DB.directory}/_bulk_docs`, { body: { docs: changes } });
      if (out.status !== 201 && out.status !== 200) throw new Error(`writing the revoked list answered ${out.status}`);
    }
  }

  /**
   * At start-up: every commune database, for venues pushed while no server was running. Then,
   * until stop(), a look every minute for commune passes that an instance started and never
   * finished (it died or lost the store): their leases are left pending, and are done again here.
   * The same look takes up pushes whose instance died before its pass started (their wants).
   */
  async sweep(): Promise<void> {
    const dbs = (await this.store.couch.db.list()).filter((name) => /^lv_c_[0-9]{5}$/.test(name));
    for (const name of dbs) {
      // A commune another instance is signing now is left to it: what was pushed while no server
      // ran is older than its pass. One that failed is tried again with backoff.
      await this.signCommune(name.slice(5)).catch((err: Error) => {
        this.log(`signer: start-up pass of a commune failed: ${err.message.split('\n')[0]}`);
        this.wake(name.slice(5), RETRY_FIRST_MS);
      });
    }
  }

  /** Looks for unfinished passes now and then every `recoverEveryMs` (a minute). */
  startRecovery(): void {
    if (this.#recoverTimer || this.#stopped) return;
    this.#recoverTimer = setInterval(() => void this.recover().catch(() => {}), this.#opts.recoverEveryMs ?? SIGNER_RECOVER_MS);
    this.#recoverTimer.unref();
  }

  /** Wakes the communes whose last pass was started and not finished, by whatever instance; returns their codes. */
  async recover(): Promise<string[]> {
    const leases = await unfinishedLeases(this.store, 'signer:', { skewMs: this.#opts.skewMs });
    // Pushes whose instance did not get to sign them (it died first): their wants stand.
    const now = Date.now();
    const wants = (await wantedWork(this.store, 'signer:')).filter((w) => w.at + (this.#opts.wantGraceMs ?? WANT_GRACE_MS) <= now);
    const names = new Set([...leases.map((l) => l.name), ...wants.map((w) => w.name)]);
    const codes = [...names].map((name) => name.slice('signer:'.length)).filter((code) => /^[0-9]{5}$/.test(code));
    for (const code of codes) this.wake(code, 0);
    return codes;
  }

  /** Stops waking and retrying (a pass under way finishes; its lease is released). */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    if (this.#recoverTimer) clearInterval(this.#recoverTimer);
  }
}

/** Venue ids whose codes phones must no longer accept. */
export async function revokedVenueIds(store: Store): Promise<string[]> {
  const res = await store.request('GET', `${DB.directory}/_all_docs`, {
    query: new URLSearchParams({ startkey: JSON.stringify('revoked:'), endkey: JSON.stringify('revoked:\ufff0') })
  });
  return ((res.body as { rows?: { id: string }[] }).rows ?? []).map((r) => r.id.slice('revoked:'.length));
}
