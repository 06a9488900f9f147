/**
 * The `/admin` screens' calls to the server (`/api/admin/*`, `/api/reports/stats`). Every answer is
 * either the data or a failure in words the screen can show: offline, not signed in, not allowed,
 * or the server's own reason. Nothing here is kept on the device: officials work online.
 */
import type { AccountRole, AccountRow, AuditEvent, UnitsPreview, ZoneHistoryRow, ZoneRow } from '$lib/core/admin';
import type { StatsAnswer } from '$lib/core/reports/figures';
import type { ZoneLevel } from '$lib/core/units';
import { reportSessionExpired } from './session-expiry';

export type Failure = { ok: false; status: number; error: string; reason: string };
export type Answer<T> = { ok: true; data: T } | Failure;

async function call<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<Answer<T>> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
  } catch {
    return { ok: false, status: 0, error: 'offline', reason: '' };
  }
  const json = (await res.json().catch(() => null)) as (T & { error?: string; reason?: string }) | null;
  if (res.status === 401) reportSessionExpired();
  if (!res.ok || json === null) return { ok: false, status: res.status, error: json?.error ?? 'server', reason: json?.reason ?? '' };
  return { ok: true, data: json };
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface AccountFilter {
  q?: string;
  role?: AccountRole | '';
  status?: 'active' | 'disabled' | '';
}

export function listAccounts(filter: AccountFilter) {
  return call<{ accounts: AccountRow[]; truncated: boolean }>('GET', `/api/admin/accounts${query({ q: filter.q?.trim(), role: filter.role, status: filter.status })}`);
}

export interface NewAccount {
  name: string;
  position: string;
  phone: string;
  role: 'team' | 'admin';
  communes?: string[];
  unit?: string;
}

export function createAccount(account: NewAccount) {
  return call<{ account: AccountRow; password: string }>('POST', '/api/admin/accounts', account);
}

export function resetPassword(userId: string) {
  return call<{ password: string }>('POST', `/api/admin/accounts/${encodeURIComponent(userId)}/reset-password`);
}

export function setDisabled(userId: string, disabled: boolean) {
  return call<{ ok: true }>('POST', `/api/admin/accounts/${encodeURIComponent(userId)}/${disabled ? 'disable' : 'enable'}`);
}

export function auditPage(before?: string, limit = 50) {
  return call<{ events: AuditEvent[] }>('GET', `/api/admin/audit${query({ before, limit })}`);
}

export function zones() {
  return call<{ units: ZoneRow[]; history: ZoneHistoryRow[] }>('GET', '/api/admin/zones');
}

export function setZone(code: string, level: ZoneLevel | null, since: string, note: string) {
  return call<{ ok: true }>('POST', '/api/admin/zones', { code, level, since, note });
}

export function setSchedule(code: string, weekday: number, monthDay: number) {
  return call<{ ok: true }>('POST', '/api/admin/schedule', { code, weekday, monthDay });
}

export function previewUnits(csv: string) {
  return call<UnitsPreview>('POST', '/api/admin/units/preview', { csv });
}

export function importUnits(csv: string) {
  return call<UnitsPreview>('POST', '/api/admin/units/import', { csv });
}

export function stats(unit: string, from?: string, to?: string) {
  return call<StatsAnswer>('GET', `/api/reports/stats${query({ unit, from, to })}`);
}
