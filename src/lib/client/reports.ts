/**
 * Reports on this device: the commune team's `report:<periodId>` in its commune replica (written
 * and submitted offline, synced like every team document), and the officials' figures and
 * submissions read from `/api/reports/*` when online.
 */
import type { Readable } from 'svelte/store';
import { reportDocId, type CommuneDoc, type ReportRecord } from '$lib/core/documents';
import type { Figures, StatsAnswer } from '$lib/core/reports/figures';
import type { Period } from '$lib/core/reports/period';
import { cleanRemarks, type Remarks, type SubmissionsAnswer } from '$lib/core/reports/report';
import { liveQuery } from './replicas.svelte';
import { communeReplica, saveCommuneDoc } from './venues';

const db = (commune: string) => communeReplica(commune).db as unknown as PouchDB.Database<CommuneDoc>;

export async function reportOf(commune: string, periodId: string): Promise<ReportRecord | null> {
  try {
    return (await db(commune).get(reportDocId(periodId))) as unknown as ReportRecord;
  } catch {
    return null;
  }
}

export function reportLive(commune: string, periodId: string): Readable<ReportRecord | null | undefined> {
  return liveQuery([db(commune)], () => reportOf(commune, periodId), (id) => id === reportDocId(periodId));
}

/**
 * Saves the team's report: a draft, or submitted. Submitting again keeps the first submission's
 * time (timeliness is the first submission's); editing a submitted report makes it a draft again
 * until it is submitted again, still with that time.
 */
export async function saveReport(
  commune: string,
  period: Period,
  input: { remarks: Remarks; figures: Figures | null; figuresAt: string | null; submit: boolean },
  now = new Date()
): Promise<ReportRecord> {
  const existing = await reportOf(commune, period.id);
  const at = now.toISOString();
  const submittedAt = existing?.submittedAt ?? (input.submit ? at : undefined);
  const doc: ReportRecord = {
    _id: reportDocId(period.id),
    ...(existing?._rev ? { _rev: existing._rev } : {}),
    type: 'report',
    schema: 1,
    communeCode: commune,
    periodId: period.id,
    ...cleanRemarks(input.remarks),
    state: input.submit ? 'submitted' : 'draft',
    ...(submittedAt ? { submittedAt } : {}),
    updatedAt: at,
    ...(input.figures ? { figures: input.figures } : {}),
    ...(input.figuresAt ? { figuresAt: input.figuresAt } : {})
  };
  return (await saveCommuneDoc(commune, doc)) as ReportRecord;
}

/**
 * Whether this version of the report has reached the server: the replica notes its local sequence
 * each time both directions are caught up (replicas.svelte.ts); a report changed after that point
 * is still waiting to go up.
 */
export async function reportSynced(commune: string, periodId: string): Promise<boolean> {
  const caughtUp = Number(localStorage.getItem(`lv.pushedSeq.lv_c_${commune}`) ?? 0);
  if (!caughtUp) return false;
  try {
    const changed = await db(commune).changes({ since: caughtUp, doc_ids: [reportDocId(periodId)], limit: 1 });
    return changed.results.length === 0;
  } catch {
    return false;
  }
}

export type Fetched<T> = { ok: true; value: T } | { ok: false; status: number | 'offline'; reason: string };

async function getJson<T>(url: string): Promise<Fetched<T>> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' } });
  } catch {
    return { ok: false, status: 'offline', reason: 'offline' };
  }
  const body = (await res.json().catch(() => null)) as (T & { reason?: string }) | null;
  if (!res.ok || body === null) return { ok: false, status: res.status, reason: body?.reason ?? `HTTP ${res.status}` };
  return { ok: true, value: body };
}

/** A unit's statistics for a period (`/api/reports/stats`). */
export function fetchStats(unit: string, period: Pick<Period, 'from' | 'to'>): Promise<Fetched<StatsAnswer>> {
  return getJson<StatsAnswer>(`/api/reports/stats?${new URLSearchParams({ unit, from: period.from, to: period.to })}`);
}

/** Who submitted the period's report, below a unit (`/api/reports/submissions`). */
export function fetchSubmissions(unit: string, periodId: string): Promise<Fetched<SubmissionsAnswer>> {
  return getJson<SubmissionsAnswer>(`/api/reports/submissions?${new URLSearchParams({ unit, period: periodId })}`);
}
