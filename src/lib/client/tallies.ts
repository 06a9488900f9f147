/**
 * Anonymous check-in tallies from this phone (DESIGN §3): once a day, how many verified check-ins
 * the diary holds per venue per complete day, with no identifier; the citizen can turn it off.
 * The diary itself never leaves the phone: only the counts built by core/citizen/tally.ts do.
 *
 * Call `sendTalliesIfDue()` whenever convenient (app open, back online): it does nothing unless a
 * new complete day is waiting, and after a failure it waits before trying again.
 */
import { buildTallyReport, newTallyBatchId, TALLY_MAX_DAYS, completeDays, type TallyReport } from '$lib/core/citizen/tally';
import { DAY, HOUR, dayKey } from '$lib/core/time';
import { diaryDb } from './diary';

// Preferences and progress of this device, in localStorage (read synchronously, like the other settings).
const ENABLED_KEY = 'lv.tallies.enabled';
/** The last day already sent (or passed over because it had no check-in), 'YYYY-MM-DD'. */
const SENT_THROUGH_KEY = 'lv.tallies.sentThrough';
/**
 * A report built but not yet acknowledged, with its batch id: after a failure the same report is
 * sent again, so that the server can tell a retry from a new report and never count it twice.
 */
const PENDING_KEY = 'lv.tallies.pending';
/** After a failure: not before this instant (ms). */
const RETRY_AT_KEY = 'lv.tallies.retryAt';

/** After a failure (offline, server busy): the next try waits at least this long. */
const RETRY_AFTER = HOUR;
/** On 2G the report (a few hundred bytes) still goes through well within this. */
const FETCH_TIMEOUT_MS = 20_000;

export type TallySendStatus =
  | { status: 'disabled' }
  /** every complete day is sent: nothing to do until tomorrow */
  | { status: 'up-to-date'; through: string | null }
  /** the last try failed recently */
  | { status: 'waiting'; retryAt: number }
  /** the new days hold no verified check-in: nothing was sent */
  | { status: 'nothing-to-send'; through: string }
  | { status: 'sent'; through: string; days: number; accepted: number; ignored: number; duplicate: boolean }
  /** the server refused the report as invalid: it is dropped, sending it again cannot succeed */
  | { status: 'rejected'; through: string; reason: string }
  /** not sent (offline, busy, store down): kept, and tried again after `retryAt` */
  | { status: 'failed'; reason: string; retryAt: number };

interface Pending {
  report: TallyReport;
  through: string;
}

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** On unless the citizen turned it off. */
export function talliesEnabled(): boolean {
  return read(ENABLED_KEY) !== '0';
}

/**
 * Turning tallies off drops any report not yet sent. Turning them back on starts from today: the
 * check-ins made while they were off are never sent.
 */
export function setTalliesEnabled(on: boolean, now = Date.now()): void {
  const was = talliesEnabled();
  localStorage.setItem(ENABLED_KEY, on ? '1' : '0');
  if (!on) localStorage.removeItem(PENDING_KEY);
  else if (!was) {
    localStorage.setItem(SENT_THROUGH_KEY, dayKey(now));
    localStorage.removeItem(RETRY_AT_KEY);
  }
}

function pending(): Pending | null {
  try {
    const raw = JSON.parse(read(PENDING_KEY) ?? 'null') as Pending | null;
    return raw && typeof raw.through === 'string' && raw.report?.format ? raw : null;
  } catch {
    return null;
  }
}

function markSent(through: string) {
  const before = read(SENT_THROUGH_KEY);
  if (!before || through > before) localStorage.setItem(SENT_THROUGH_KEY, through);
  localStorage.removeItem(PENDING_KEY);
  localStorage.removeItem(RETRY_AT_KEY);
}

let inflight: Promise<TallySendStatus> | null = null;

/** Sends the complete days not yet sent, if tallies are on and a day is due; never throws. */
export function sendTalliesIfDue(now = Date.now()): Promise<TallySendStatus> {
  inflight ??= attempt(now).finally(() => (inflight = null));
  return inflight;
}

async function attempt(now: number): Promise<TallySendStatus> {
  if (!talliesEnabled()) return { status: 'disabled' };
  const sentThrough = read(SENT_THROUGH_KEY);
  let job = pending();
  if (!job && sentThrough && sentThrough >= completeDays(now).last) return { status: 'up-to-date', through: sentThrough };
  const retryAt = Number(read(RETRY_AT_KEY));
  // A date far ahead is a clock that was changed, not a server's wish: ignored.
  if (retryAt > now && retryAt - now <= DAY) return { status: 'waiting', retryAt };

  if (!job) {
    let visits;
    try {
      visits = await diaryDb.visits.where('checkin').aboveOrEqual(now - (TALLY_MAX_DAYS + 1) * DAY).toArray();
    } catch (err) {
      return failed(now, RETRY_AFTER, `the diary could not be read: ${(err as Error).message}`);
    }
    const built = buildTallyReport(visits, { now, sentThrough, batch: newTallyBatchId((n) => crypto.getRandomValues(new Uint8Array(n))) });
    if (!built.report) {
      markSent(built.through);
      return { status: 'nothing-to-send', through: built.through };
    }
    job = { report: built.report, through: built.through };
    // Saved before sending: if the page closes mid-request, the retry reuses this batch id.
    localStorage.setItem(PENDING_KEY, JSON.stringify(job));
  }

  let res: Response;
  try {
    res = await fetch('/api/tallies', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(job.report),
      // Anonymous: no cookie, no session, nothing that ties the report to an account.
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS)
    });
  } catch (err) {
    return failed(now, RETRY_AFTER, `offline or no answer: ${(err as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as { accepted?: number; ignored?: number; duplicate?: boolean; reason?: string };
  if (res.ok) {
    markSent(job.through);
    return { status: 'sent', through: job.through, days: job.report.days.length, accepted: body.accepted ?? 0, ignored: body.ignored ?? 0, duplicate: !!body.duplicate };
  }
  if (res.status === 400 || res.status === 413 || res.status === 415) {
    // The same bytes would be refused again; the days move on (a phone whose clock runs far ahead
    // loses its last day here, which is better than retrying it forever).
    markSent(job.through);
    return { status: 'rejected', through: job.through, reason: body.reason ?? `refused (${res.status})` };
  }
  // 429, 503: the server's Retry-After when it asks for longer than our own pause.
  const retryAfterSec = Number(res.headers.get('retry-after'));
  return failed(now, Math.max(RETRY_AFTER, Number.isFinite(retryAfterSec) ? retryAfterSec * 1000 : 0), body.reason ?? `the server answered ${res.status}`);
}

function failed(now: number, wait: number, reason: string): TallySendStatus {
  localStorage.setItem(RETRY_AT_KEY, String(now + wait));
  return { status: 'failed', reason, retryAt: now + wait };
}

/** Drops a report built but not yet sent: after "delete my whole diary", its counts must not leave the phone. */
export function forgetPendingTallies(): void {
  localStorage.removeItem(PENDING_KEY);
  localStorage.removeItem(RETRY_AT_KEY);
}
