/**
 * Who may replicate what (DESIGN §5). One table, read by the gateway for every request:
 *
 * | db             | anonymous | venue owner                  | commune team       | admin |
 * | lv_directory   | pull      | pull                         | pull               | pull  |
 * | lv_exposures   | pull      | pull                         | pull               | pull  |
 * | lv_c_<commune> | —         | pull + push, own venues only | pull + push, scope | —     |
 *
 * A staff phone paired to one venue's station (role 'station', server/staff) pulls that venue and
 * its entries, and pushes that venue's entries only: never the venue itself, nor another venue's.
 * | anything else  | —         | —                            | —                  | —     |
 *
 * Admins (of a district or province) never pull a commune database, not even one in their unit:
 * they read the aggregates and accounts of their unit through /api (server/admin, server/reports).
 *
 * The rules are pure: what they need of the store (which venues an owner has, in
 * server/shared/owned-venues.ts; the session and its account, in server/accounts.ts) is read so that
 * a change made through any instance holds on every other at once.
 */
import type { Session } from '../auth';
import { DB } from '../store/couch';

export type Access = 'none' | 'all' | 'own-venues' | 'one-venue';

export type DbKind = { kind: 'public'; name: string } | { kind: 'commune'; name: string; communeCode: string } | { kind: 'closed' };

export function classifyDb(name: string): DbKind {
  if (name === DB.directory || name === DB.exposures) return { kind: 'public', name };
  const commune = /^lv_c_([0-9]{5})$/.exec(name);
  if (commune) return { kind: 'commune', name, communeCode: commune[1]! };
  return { kind: 'closed' };
}

export function pullAccess(session: Session | null, db: DbKind): Access {
  if (db.kind === 'public') return 'all';
  if (db.kind !== 'commune' || !session) return 'none';
  if (session.role === 'team') return session.communes.includes(db.communeCode) ? 'all' : 'none';
  if (session.role === 'owner') return 'own-venues';
  if (session.role === 'station') return session.venueId && session.communes[0] === db.communeCode ? 'one-venue' : 'none';
  return 'none';
}

export function pushAccess(session: Session | null, db: DbKind): Access {
  // Public databases are written by the server only (signed exposures, the directory through /api).
  if (db.kind !== 'commune') return 'none';
  return pullAccess(session, db);
}
