/**
 * Publishing exposure events: a team's `exposure:` documents in a commune database become signed
 * events in the public `lv_exposures` database, `exp:<province>:<eventId>`, one per event, at their
 * latest version. Phones fetch them per province (`/api/exposures/<province>`) and check every
 * signature; a withdrawal is published like a correction, so it reaches phones the same way.
 *
 * It runs inside the signer's pass of the commune, under the signer's lease per commune (see
 * signer.ts): one instance publishes a commune at a time. What is published is read by key (the
 * read quorum on a cluster), each write carries the revision read, and a conflict means another
 * instance published that version first: left as it is, not published again.
 */
import type { ExposureEvent, SignedExposure } from '../src/lib/core/exposure/exposure';
import { signExposure } from '../src/lib/core/exposure/exposure-sign';
import { checkCommuneDoc, type ExposureDraftRecord } from '../src/lib/core/documents';
import { MAX_EXPOSURE_AGE } from '../src/lib/core/exposure/exposure-draft';
import { provinceOfCommune } from '../src/lib/core/province-table';
import type { Keyring } from './keys';
import { DB, type Store } from './store/couch';
import { provinceTable } from './provinces';

export interface PublishedExposureDoc {
  _id: string;
  _rev?: string;
  type: 'exposure';
  schema: 1;
  provinceCode: string;
  signed: SignedExposure;
  /**
   * When this version was written (ms, the publishing server's clock): the compact snapshot's
   * versions and deltas are counted in it (server/snapshot.ts). Missing on documents written before
   * it existed: those count as published at 0, so they are in every full snapshot and no delta.
   */
  publishedAt?: number;
}

export function exposureDocId(provinceCode: string, eventId: string): string {
  return `exp:${provinceCode}:${eventId}`;
}

/** The event a draft asks to publish, without its version. */
function eventOf(draft: ExposureDraftRecord): Omit<ExposureEvent, 'version'> {
  return {
    eventId: draft.eventId,
    venueId: draft.venueId,
    venueName: draft.venueName,
    communeCode: draft.communeCode,
    from: draft.from,
    to: draft.to,
    widenMinutes: draft.widenMinutes,
    level: draft.level,
    message: draft.message,
    advice: draft.advice,
    contactPhone: draft.contactPhone,
    withdrawn: draft.state === 'withdrawn'
  };
}

export class Publisher {
  constructor(
    private readonly store: Store,
    private readonly keyring: Keyring
  ) {}

  async #provinceOf(communeCode: string): Promise<string | null> {
    return provinceOfCommune((await provinceTable(this.store)).table, communeCode);
  }

  /**
   * Publishes the commune's published and withdrawn drafts that changed; returns how many.
   * `liveVenues`: the venue ids of the commune's database; an event names one of them or is not signed.
   */
  async publishCommune(communeCode: string, liveVenues: ReadonlySet<string>): Promise<number> {
    // An event over 28 days old matches no diary; retention deleted it from lv_exposures, and it must not come back.
    const oldest = Date.now() - MAX_EXPOSURE_AGE;
    // The gateway checks every pushed event; checked again here because what is signed is served to
    // every phone, and documents stored before a rule existed must not be signed under it.
    const drafts = ((await this.store.docsByPrefix<ExposureDraftRecord>(`lv_c_${communeCode}`, 'exposure:')) ?? []).filter(
      (d) => d.type === 'exposure' && d.state !== 'draft' && d.to >= oldest && liveVenues.has(d.venueId) && checkCommuneDoc(d, communeCode).ok
    );
    if (!drafts.length) return 0;
    const province = await this.#provinceOf(communeCode);
    if (!province) return 0; // a commune outside the directory publishes nothing
    const ids = drafts.map((d) => exposureDocId(province, d.eventId));
    const existing = await this.store.request('POST', `${DB.exposures}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: ids } });
    if (existing.status !== 200) throw new Error(`reading published events answered ${existing.status}`);
    const current = new Map<string, PublishedExposureDoc>();
    for (const row of (existing.body as { rows?: { key: string; doc?: PublishedExposureDoc | null }[] }).rows ?? []) if (row.doc) current.set(row.key, row.doc);

    const changes: PublishedExposureDoc[] = [];
    for (const draft of drafts) {
      const id = exposureDocId(province, draft.eventId);
      const before = current.get(id);
      const wanted = eventOf(draft);
      if (before) {
        const { version: _v, ...published } = before.signed.event;
        if (JSON.stringify(published) === JSON.stringify(wanted)) continue;
      }
      const event: ExposureEvent = { ...wanted, version: (before?.signed.event.version ?? 0) + 1 };
      changes.push({
        _id: id,
        ...(before?._rev ? { _rev: before._rev } : {}),
        type: 'exposure',
        schema: 1,
        provinceCode: province,
        signed: signExposure(event, this.keyring.active),
        publishedAt: Date.now()
      });
    }
    if (!changes.length) return 0;
    const res = await this.store.request('POST', `${DB.exposures}/_bulk_docs`, { body: { docs: changes } });
    if (res.status !== 201 && res.status !== 200) throw new Error(`publishing exposure events answered ${res.status}`);
    return (res.body as { ok?: boolean }[]).filter((r) => r.ok).length;
  }
}

/** All published events of a province (withdrawn ones included), as stored: what the snapshots are made of. */
export async function provinceExposureDocs(store: Store, provinceCode: string): Promise<PublishedExposureDoc[]> {
  const docs = (await store.docsByPrefix<PublishedExposureDoc>(DB.exposures, `exp:${provinceCode}:`)) ?? [];
  return docs.filter((d) => !!d.signed);
}

/** All current events of a province, as signed: the per-event list of `/api/exposures/<province>`. */
export async function provinceSnapshot(store: Store, provinceCode: string): Promise<SignedExposure[]> {
  return (await provinceExposureDocs(store, provinceCode)).map((d) => d.signed);
}
