/**
 * Sharing the diary online with a one-time code (server/diary-share.ts): the code a commune team
 * reads out or writes down for an F0 case, and what the citizen's phone sends with it. Shared by
 * the PWA (to read what the citizen types, and to check before sending) and the server.
 *
 * A code is 8 characters of Crockford's base32 (digits and letters without I, L, O, U: nothing to
 * confuse when read aloud over the phone or written by hand), 40 bits, shown as `XXXX-XXXX`.
 * Typed input is read case-insensitively, with or without the dash or spaces, and O is read as 0,
 * I and L as 1.
 */
import * as v from 'valibot';
import { CaseVisitSchema, type CaseVisitRecord } from '../documents';
import { DAY } from '../time';

export const SHARE_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const SHARE_CODE_LENGTH = 8;
/** A code is valid this long after it is issued, and for one submission. */
export const SHARE_CODE_TTL = DAY;
/** Visits in one submission: a 28-day diary of a busy person fits. */
export const DIARY_SHARE_MAX_VISITS = 500;
/** Bytes of one submission (500 visits of long place names are ~120 KB). */
export const DIARY_SHARE_BODY_LIMIT = 200 * 1024;
/** Visits older than this are not in any diary (retention is at most 28 days): refused as nonsense. */
export const SHARED_VISIT_MAX_AGE = 60 * DAY;
/** A phone's clock may run a little ahead of the server's. */
export const SHARED_VISIT_CLOCK_SKEW = DAY;

const CODE = /^[0-9A-HJKMNP-TV-Z]{8}$/;

/** The 8 characters of a typed code, or null when it cannot be one. */
export function normalizeShareCode(input: unknown): string | null {
  if (typeof input !== 'string' || input.length > 40) return null;
  const code = input
    .toUpperCase()
    .replace(/[\s\u00a0\-\u2010-\u2015]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  return CODE.test(code) ? code : null;
}

/** `XXXX-XXXX`, as shown and read out. */
export function formatShareCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** A fresh random code (8 characters, not formatted). Each character takes 5 bits of a random byte: uniform. */
export function newShareCode(random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  const bytes = random(new Uint8Array(SHARE_CODE_LENGTH));
  let out = '';
  for (const b of bytes) out += SHARE_CODE_ALPHABET[b & 31];
  return out;
}

const DiaryShareRequestSchema = v.object({
  code: v.string(),
  visits: v.pipe(
    v.array(CaseVisitSchema),
    v.minLength(1, 'choose at least one visit to send'),
    v.maxLength(DIARY_SHARE_MAX_VISITS, `at most ${DIARY_SHARE_MAX_VISITS} visits at a time`)
  )
});

/** What the citizen's phone sends to `POST /api/diary-share`. */
export interface DiaryShareRequest {
  code: string;
  visits: CaseVisitRecord[];
}

export type DiaryShareCheck =
  | { ok: true; code: string; visits: CaseVisitRecord[] }
  | { ok: false; error: 'bad_request' | 'bad_code' | 'bad_visits'; reason: string; field?: string };

/**
 * Checks a submission: a well-formed code, and 1–500 visits from the diary (each a `CaseVisitSchema`
 * with `source: 'diary'`, ending after it starts, not in the future, not older than any diary).
 * The visits returned carry the schema's fields only: anything else the phone sent is dropped.
 */
export function checkDiaryShareRequest(raw: unknown, now: number): DiaryShareCheck {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'bad_request', reason: 'a JSON object { code, visits } is expected' };
  const result = v.safeParse(DiaryShareRequestSchema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    const field = v.getDotPath(issue) ?? 'visits';
    return { ok: false, error: field === 'code' ? 'bad_code' : 'bad_visits', reason: `${field}: ${issue.message}`, field };
  }
  const code = normalizeShareCode(result.output.code);
  if (!code) return { ok: false, error: 'bad_code', reason: 'code: a code has 8 letters and digits, like 7K3M-Q9TX', field: 'code' };
  const visits = result.output.visits;
  for (const [i, visit] of visits.entries()) {
    const bad = (name: string, reason: string): DiaryShareCheck => ({ ok: false, error: 'bad_visits', reason: `visits.${i}.${name}: ${reason}`, field: `visits.${i}.${name}` });
    if (visit.source !== 'diary') return bad('source', 'only visits from the diary are sent with a code');
    if (visit.to < visit.from) return bad('to', 'a visit must end after it starts');
    if (visit.to > now + SHARED_VISIT_CLOCK_SKEW) return bad('to', 'a visit in the future: check the phone’s clock');
    if (visit.from < now - SHARED_VISIT_MAX_AGE) return bad('from', 'older than any diary keeps');
  }
  return { ok: true, code, visits };
}
