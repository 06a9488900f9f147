/**
 * Submitted reports (DESIGN §12). A commune team writes `report:<periodId>` offline in its commune
 * database and submits it; this job follows the commune databases' `_changes` and copies what is
 * submitted (figures and remarks: nothing personal is in a report) into lv_reports as
 * `submission:<commune>:<periodId>`, with the time it counts as submitted (the device's, never
 * later than the server first saw it, never before the period). `GET /api/reports/submissions`
 * answers from those copies: a district never reads a commune database.
 *
 * N server instances: a pass runs under a lease (`submissions`, server/shared/lease.ts), one
 * instance at a time. Copies are idempotent anyway (a change read twice is copied once, by the
 * source revision), and where it got to is saved with its revision (a conflict: read it again), so
 * a pass that outlived its lease only repeats work. An instance woken by a push while another
 * passes tries again a second later (the other's pass may have read before the push); each
 * instance looks every minute and passes unless another did in the last half minute; a pass whose
 * instance died is run by the next instance that looks once its lease has expired.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Session } from '../auth';
import { checkCommuneDoc, type ReportRecord } from '../../src/lib/core/documents';
import { currentWeek, periodFromId, scheduleFor } from '../../src/lib/core/reports/period';
import {
  cleanRemarks,
  countedSubmissionTime,
  mergeSubmission,
  submissionDocId,
  submissionsAnswer,
  type CommuneOfUnit,
  type SubmissionDoc
} from '../../src/lib/core/reports/report';
import { dayKey } from '../../src/lib/core/time';
import { unitPath, unitWithin, type UnitDoc } from '../../src/lib/core/units';
import { READ_REFUSAL_REASONS, unitReadRefusal } from '../../src/lib/core/reports/access';
import { directoryReader } from '../directory';
import { DB, type Store } from '../store/couch';
import { getUser } from '../users';
import { Lease, newHolderId, readLease, withLease } from '../shared/lease';

/** Where the job got to in each commune database, kept so that a restart does not read every change again. */
const STATE_ID = 'jobstate:submissions';
const CHANGES_PAGE = 1000;
export const SUBMISSIONS_LEASE = 'submissions';

interface StateDoc {
  _id: string;
  _rev?: string;
  type: 'jobstate';
  schema: 1;
  since: Record<string, string | number>;
}

/** SubmissionDoc plus the revision of the team's document it was copied from (a change read twice is copied once). */
type StoredSubmission = SubmissionDoc & { sourceRev?: string };

export class SubmissionsJob {
  #since: Record<string, string | number> | null = null;
  #stateRev: string | undefined;
  #running: Promise<number | null> | null = null;
  #again = false;
  readonly #lease: Lease;

  constructor(
    private readonly store: Store,
    private readonly log: (msg: string) => void = () => {},
    private readonly now: () => number = Date.now,
    opts: { holder?: string; leaseTtlMs?: number } = {}
  ) {
    this.#lease = new Lease(store, SUBMISSIONS_LEASE, { holder: opts.holder ?? newHolderId(), ttlMs: opts.leaseTtlMs });
  }

  /**
   * One pass over every commune database; passes never overlap, in this instance (a pass asked for
   * meanwhile runs after) nor across instances (null: another instance is passing).
   */
  pass(): Promise<number | null> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const run = (async () => {
      const out = await withLease(this.#lease, async (_lease, before) => {
        // Where it got to moved on another instance: read again.
        if (before?.lastHolder !== this.#lease.holder) this.#since = null;
        let copied = 0;
        do {
          this.#again = false;
          copied += await this.#pass();
        } while (this.#again);
        return copied;
      });
      return out.ran ? out.value : null;
    })();
    this.#running = run.finally(() => (this.#running = null));
    return this.#running;
  }

  async #pass(): Promise<number> {
    const since = await this.#loadState();
    const dbs = (await this.store.couch.db.list()).filter((name) => /^lv_c_[0-9]{5}$/.test(name));
    let copied = 0;
    let moved = false;
    for (const db of dbs) {
      const { ids, last } = await this.#reportChanges(db, since[db] ?? 0);
      if (ids.length) copied += await this.#copy(db.slice(5), ids);
      if (last !== (since[db] ?? 0)) {
        since[db] = last;
        moved = true;
      }
    }
    if (moved) await this.#saveState(since);
    return copied;
  }

  /** Ids of report documents changed since `since`, and the sequence read up to. */
  async #reportChanges(db: string, since: string | number): Promise<{ ids: string[]; last: string | number }> {
    const ids = new Set<string>();
    let last = since;
    for (;;) {
      const res = await this.store.request('GET', `${db}/_changes`, { query: new URLSearchParams({ since: String(last), limit: String(CHANGES_PAGE) }) });
      if (res.status === 404) return { ids: [], last };
      if (res.status !== 200) throw new Error(`changes of a commune database answered ${res.status}`);
      const body = res.body as { results: { id: string; deleted?: boolean }[]; last_seq: string | number };
      for (const row of body.results) if (row.id.startsWith('report:') && !row.deleted) ids.add(row.id);
      last = body.last_seq;
      if (body.results.length < CHANGES_PAGE) return { ids: [...ids], last };
    }
  }

  async #copy(communeCode: string, ids: string[]): Promise<number> {
    const res = await this.store.request('POST', `lv_c_${communeCode}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: ids } });
    if (res.status !== 200) throw new Error(`reading reports answered ${res.status}`);
    const now = this.now();
    const reports = ((res.body as { rows?: { doc?: ReportRecord | null }[] }).rows ?? [])
      .map((row) => row.doc)
      .filter((doc): doc is ReportRecord => !!doc && doc.type === 'report' && doc.state === 'submitted');
    let copied = 0;
    for (const raw of reports) {
      // Checked again: the gateway checked it, but the job copies only what the schema allows.
      const check = checkCommuneDoc(raw, communeCode, now);
      if (!check.ok || check.doc.type !== 'report') continue;
      const report = check.doc;
      const period = periodFromId(report.periodId);
      if (!period) continue;
      const id = submissionDocId(communeCode, report.periodId);
      const existing = (await this.#get(id)) as StoredSubmission | null;
      if (existing?.sourceRev === raw._rev) continue;
      const merged: StoredSubmission = {
        ...mergeSubmission(existing, {
          communeCode,
          periodId: report.periodId,
          submittedAt: countedSubmissionTime(report.submittedAt, now, period),
          seenAt: now,
          remarks: cleanRemarks(report),
          figures: report.figures ?? null,
          figuresAt: report.figuresAt ?? null
        }),
        ...(raw._rev ? { sourceRev: raw._rev } : {})
      };
      const put = await this.store.request('PUT', `${DB.reports}/${encodeURIComponent(id)}`, { body: merged });
      // A conflict: another server process copied it meanwhile; the next change brings the latest.
      if (put.status === 201 || put.status === 200) copied++;
      else if (put.status !== 409) this.log(`submissions: storing a submission answered ${put.status}`);
    }
    return copied;
  }

  async #get(id: string): Promise<unknown> {
    const res = await this.store.request('GET', `${DB.reports}/${encodeURIComponent(id)}`);
    return res.status === 200 ? res.body : null;
  }

  async #loadState(): Promise<Record<string, string | number>> {
    if (this.#since) return this.#since;
    const doc = (await this.#get(STATE_ID)) as StateDoc | null;
    this.#stateRev = doc?._rev;
    this.#since = { ...(doc?.since ?? {}) };
    return this.#since;
  }

  async #saveState(since: Record<string, string | number>): Promise<void> {
    const doc: StateDoc = { _id: STATE_ID, ...(this.#stateRev ? { _rev: this.#stateRev } : {}), type: 'jobstate', schema: 1, since };
    const res = await this.store.request('PUT', `${DB.reports}/${STATE_ID}`, { body: doc });
    if (res.status === 201 || res.status === 200) this.#stateRev = (res.body as { rev: string }).rev;
    else {
      // Another process moved it: read it again next pass (copies are idempotent by source revision).
      this.#since = null;
    }
  }
}

/**
 * How often the job sweeps every commune database for submissions it was not woken for (a push
 * to another server process, a write straight to the store). A push through this server's gateway
 * wakes it at once (`wake`).
 */
export const SUBMISSIONS_EVERY_MS = 60_000;
/** A burst of pushes (a replication in several batches) is one pass. */
const WAKE_DELAY_MS = 500;
const BUSY_RETRY_MS = 1_000;

/** Starts following submissions: a pass now, then on every wake and at least every `everyMs`. */
export function followSubmissions(store: Store, log: (msg: string) => void, everyMs = SUBMISSIONS_EVERY_MS): { stop(): void; wake(): void } {
  const job = new SubmissionsJob(store, log);
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wakeTimer: ReturnType<typeof setTimeout> | undefined;
  /** `woken`: a push came; otherwise a look, skipped when another instance passed a moment ago. */
  const tick = (woken: boolean) => {
    clearTimeout(timer);
    let next = everyMs;
    void (async () => {
      if (!woken) {
        const last = await readLease(store, SUBMISSIONS_LEASE);
        if (last && !last.pending && last.doneAt !== null && Date.now() - last.doneAt < everyMs / 2) return;
      }
      // Another instance is passing, maybe from before this push: again in a second.
      if ((await job.pass()) === null && woken) next = BUSY_RETRY_MS;
    })()
      .catch((err: Error) => log(`submissions: ${err.message.split('\n')[0]}`))
      .finally(() => {
        if (stopped) return;
        timer = setTimeout(() => tick(next === BUSY_RETRY_MS), next);
      });
  };
  tick(true);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(wakeTimer);
    },
    wake() {
      if (stopped || wakeTimer) return;
      wakeTimer = setTimeout(() => {
        wakeTimer = undefined;
        if (!stopped) tick(true);
      }, WAKE_DELAY_MS);
    }
  };
}

export interface SubmissionsDeps {
  store: Store;
  sessionOf: (req: FastifyRequest) => Promise<{ session: Session | null }>;
  now?: () => number;
}

export function registerSubmissions(api: FastifyInstance, { store, sessionOf, now = Date.now }: SubmissionsDeps): void {
  const readDirectory = directoryReader(store, now);

  api.get<{ Querystring: { unit?: unknown; period?: unknown } }>('/reports/submissions', async (req, reply) => {
    const bad = (reason: string) => reply.status(400).send({ error: 'bad_request', reason });
    const { session } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: 'unauthorized', reason: 'log in first' });
    if (session.role !== 'admin' && session.role !== 'team') return reply.status(403).send({ error: 'forbidden', reason: 'reports are for commune teams and officials' });
    const code = req.query.unit;
    if (typeof code !== 'string' || !/^(?:[0-9]{2}|[0-9]{3}|[0-9]{5})$/.test(code)) return bad('unit must be a unit code (2, 3 or 5 digits)');
    if (req.query.period !== undefined && typeof req.query.period !== 'string') return bad('period is given more than once');

    const dir = await readDirectory(code);
    const path = unitPath(dir.units, code);
    const unit = path.at(-1);
    if (!unit) return reply.status(404).send({ error: 'not_found', reason: 'no such unit in the directory' });
    const own = session.role === 'admin' ? ((await getUser(store, session.userId))?.unit ?? null) : null;
    const refusal = unitReadRefusal({ role: session.role, communes: session.communes, unit: own }, code, dir.tree.byCode);
    if (refusal) return reply.status(403).send({ error: 'forbidden', reason: READ_REFUSAL_REASONS[refusal] });

    const schedule = scheduleFor(path, dir.schedules);
    const t = now();
    const period = typeof req.query.period === 'string' ? periodFromId(req.query.period, schedule) : currentWeek(schedule, dayKey(t));
    if (!period) return bad('period must be w-YYYY-MM-DD (the due day of a week) or m-YYYY-MM');

    const communes = communesUnder(dir.units, dir.tree.byCode, unit);
    const keys = communes.map((c) => submissionDocId(c.code, period.id));
    const submissions = new Map<string, SubmissionDoc>();
    if (keys.length) {
      const res = await store.request('POST', `${DB.reports}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys } });
      if (res.status !== 200) return reply.status(502).send({ error: 'store_error', reason: 'the reports could not be read: try again later' });
      for (const row of (res.body as { rows?: { doc?: StoredSubmission | null }[] }).rows ?? []) {
        if (row.doc?.type !== 'submission') continue;
        const { sourceRev: _s, _rev: _r, ...doc } = row.doc;
        submissions.set(doc.communeCode, doc);
      }
    }
    reply.header('Cache-Control', 'private, no-store');
    return submissionsAnswer({ code: unit.code, name: unit.name, level: unit.level }, period, communes, submissions, t);
  });
}

/** The communes a unit reports for (itself for a commune), by district then code, with the district each lies in now. */
function communesUnder(all: readonly UnitDoc[], byCode: ReadonlyMap<string, UnitDoc>, unit: UnitDoc): CommuneOfUnit[] {
  const out: CommuneOfUnit[] = [];
  for (const u of all) {
    if (u.level !== 'commune' || !unitWithin(byCode, u.code, unit.code)) continue;
    const parent = u.parent ? byCode.get(u.parent) : undefined;
    out.push({ code: u.code, name: u.name, district: parent?.level === 'district' ? { code: parent.code, name: parent.name } : null });
  }
  return out.sort((a, b) => (a.district?.code ?? '').localeCompare(b.district?.code ?? '') || a.code.localeCompare(b.code));
}
