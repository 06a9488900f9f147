/**
 * Who an admin is and what lies in its unit: the unit tree of lv_directory, loaded once per request
 * (about 11,000 units for the whole country: one read of a key range, then walks in memory).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { commonUnit, unitTree, unitWithin, type UnitDoc, type UnitTree } from '../../src/lib/core/units';
import type { SessionOf } from '../accounts';
import type { Store } from '../store/couch';
import { loadUnits } from '../units';
import { getUser, type UserDoc } from '../users';

export interface Units {
  tree: UnitTree;
  byCode: ReadonlyMap<string, UnitDoc>;
  list: UnitDoc[];
}

export async function loadUnitTree(store: Store): Promise<Units> {
  const list = await loadUnits(store);
  const byCode = new Map(list.map((u) => [u.code, u]));
  return { tree: unitTree(list), byCode, list };
}

/** The places an account works in: a team's communes, an owner's venue communes, an admin's unit. */
export function accountPlaces(user: Pick<UserDoc, 'role' | 'communes' | 'venueCommunes' | 'unit'>): string[] {
  if (user.role === 'admin') return user.unit ? [user.unit] : [];
  return user.role === 'team' ? user.communes : (user.venueCommunes ?? []);
}

/** The lowest unit that holds every place of the account (for the audit trail); null when it has none. */
export function accountUnit(tree: UnitTree, user: Pick<UserDoc, 'role' | 'communes' | 'venueCommunes' | 'unit'>): string | null {
  return commonUnit(tree, accountPlaces(user));
}

/**
 * Whether an admin of `unit` may act on this account: every commune it works in (a team's
 * communes, an owner's venue communes) lies within the admin's unit, or it is an admin of a unit
 * strictly below. Never an account at the admin's own level, above or beside; an account with no
 * place at all is in nobody's unit.
 */
export function inAdminUnit(tree: UnitTree, unit: string, target: Pick<UserDoc, 'role' | 'communes' | 'venueCommunes' | 'unit'>): boolean {
  if (target.role === 'admin') return !!target.unit && target.unit !== unit && unitWithin(tree, target.unit, unit);
  const places = accountPlaces(target);
  return places.length > 0 && places.every((code) => unitWithin(tree, code, unit));
}

export interface Caller {
  user: UserDoc;
}

/** The signed-in account behind a request, or null after answering 401. */
export async function signedIn(store: Store, sessionOf: SessionOf, req: FastifyRequest, reply: FastifyReply): Promise<UserDoc | null> {
  const { session, problem } = await sessionOf(req);
  if (!session) {
    reply.status(401).send({ error: 'not_logged_in', reason: problem === 'expired' ? 'session expired: log in again' : 'log in first' });
    return null;
  }
  const user = await getUser(store, session.userId);
  if (!user) {
    reply.status(401).send({ error: 'not_logged_in', reason: 'account gone' });
    return null;
  }
  return user;
}

/** The signed-in admin with its unit, or null after answering 401 / 403. */
export async function signedInAdmin(store: Store, sessionOf: SessionOf, req: FastifyRequest, reply: FastifyReply): Promise<(UserDoc & { unit: string }) | null> {
  const user = await signedIn(store, sessionOf, req, reply);
  if (!user) return null;
  if (user.role !== 'admin') {
    reply.status(403).send({ error: 'forbidden', reason: 'only an administrator of a district or province can do this' });
    return null;
  }
  if (!user.unit) {
    reply.status(403).send({ error: 'forbidden', reason: 'this administrator account has no unit to act in' });
    return null;
  }
  return user as UserDoc & { unit: string };
}
