/**
 * A commune team's exposure events on this device: written into the commune replica, offline if
 * need be, and published by the server (signed into lv_exposures) when the replica syncs.
 */
import type { Readable } from 'svelte/store';
import { liveQuery } from './replicas.svelte';
import type { ExposureDraftRecord } from '$lib/core/documents';
import { exposureDraftDoc, newEventId, type ExposureInput, type ExposureState } from '$lib/core/exposure/exposure-draft';
import { communeReplica, saveCommuneDoc } from './venues';

async function exposuresIn(communeCode: string): Promise<ExposureDraftRecord[]> {
  const res = await communeReplica(communeCode).db.allDocs({ startkey: 'exposure:', endkey: 'exposure:\ufff0', include_docs: true });
  return res.rows.map((r) => r.doc as unknown as ExposureDraftRecord).filter((d) => d?.type === 'exposure');
}

/** The commune's events, newest window first; live as the replica changes. */
export function exposuresLive(communeCode: string): Readable<ExposureDraftRecord[] | undefined> {
  return liveQuery([communeReplica(communeCode).db], async () => (await exposuresIn(communeCode)).sort((a, b) => b.from - a.from), (id) => id.startsWith('exposure:'));
}

export async function exposureOf(communeCode: string, docId: string): Promise<ExposureDraftRecord | null> {
  try {
    return (await communeReplica(communeCode).db.get(docId)) as unknown as ExposureDraftRecord;
  } catch {
    return null;
  }
}

/** Saves a new event or a new revision of one; `state` says whether it is a draft, published or withdrawn. */
export async function saveExposure(input: ExposureInput, state: ExposureState, previous?: ExposureDraftRecord): Promise<ExposureDraftRecord> {
  const eventId = previous ? undefined : newEventId((n) => crypto.getRandomValues(new Uint8Array(n)));
  const doc = exposureDraftDoc(input, state, Date.now(), previous, eventId);
  return (await saveCommuneDoc(doc.communeCode, doc)) as ExposureDraftRecord;
}

/** Withdraws a published event: phones clear their alerts for it at their next check. */
export async function withdrawExposure(doc: ExposureDraftRecord): Promise<ExposureDraftRecord> {
  const { state: _s, updatedAt: _u, ...rest } = doc;
  return (await saveCommuneDoc(doc.communeCode, { ...rest, state: 'withdrawn', updatedAt: new Date().toISOString() })) as ExposureDraftRecord;
}

const CONTACT_KEY = 'lv.team.contactPhone';

/** The contact number the team used last on this device: the form starts with it. */
export function lastContactPhone(): string {
  return typeof localStorage === 'undefined' ? '' : (localStorage.getItem(CONTACT_KEY) ?? '');
}

export function rememberContactPhone(phone: string): void {
  localStorage.setItem(CONTACT_KEY, phone.trim());
}
