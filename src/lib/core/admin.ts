/**
 * What `/api/admin` answers about accounts and the audit trail (DESIGN §12), shared by the server
 * and the `/admin` screens. Account passwords and session data never appear here.
 */
import type { ZoneLevel } from './units';

export type AccountRole = 'owner' | 'team' | 'admin';

export interface AccountRow {
  userId: string;
  phone: string;
  name: string;
  /** the official's job title ("Phó Chủ tịch UBND xã"); empty for venue owners */
  position: string;
  role: AccountRole;
  /** a team's communes, or a venue owner's venue communes */
  communes: string[];
  /** an admin's unit (province or district code); null for others */
  unit: string | null;
  disabled: boolean;
  /** signed in with a one-time password and has not chosen one yet */
  mustChangePassword: boolean;
  lastSignInAt: string | null;
  createdAt: string;
}

export type AuditTargetKind = 'account' | 'unit' | 'zone' | 'units-import' | 'schedule';

/**
 * What changed, as data, so that a screen says it in its own language (`detail` says it in
 * English, for the record): an account's role and places, a zone level, report days, import counts.
 */
export type AuditFacts =
  | { role: AccountRole; communes: string[]; unit: string | null }
  | { level: ZoneLevel | null; since: string; note: string }
  | { weekday: number; monthDay: number }
  | { added: number; renamed: number; moved: number; removed: number; unchanged: number };

export interface AuditEvent {
  at: string;
  actor: { userId: string; name: string };
  /** the unit the change happened in: admins of it and above read the event */
  unit: string;
  action: string;
  target: { kind: AuditTargetKind; id: string; label: string };
  detail: string;
  /** absent on events recorded before facts were kept */
  facts?: AuditFacts;
}

export interface ZoneRow {
  code: string;
  name: string;
  level: 'province' | 'district' | 'commune';
  parent: string | null;
  zone: { level: ZoneLevel; since: string; note: string } | null;
  effective: ZoneLevel | null;
}

export interface ZoneHistoryRow {
  code: string;
  level: ZoneLevel | null;
  since: string;
  note: string;
  at: string;
  by: string;
}

export interface UnitsPreview {
  errors: { line: number; message: string }[];
  added: { code: string; name: string; level: string; parent: string | null }[];
  renamed: { code: string; from: string; to: string }[];
  moved: { code: string; name: string; from: string | null; to: string | null }[];
  removed: { code: string; name: string; level: string; parent: string | null }[];
  unchanged: number;
}
