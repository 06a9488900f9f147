/**
 * Accounts in `lv_users` (server only). `user:<userId>` holds the account; `phone:<phone>` makes a
 * phone number unique (CouchDB refuses a second document with the same id, on every node).
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Role } from './auth';
import { hashPassword } from './auth';
import { DB, getOrNull, type Store } from './store/couch';

export interface UserDoc {
  _id: string;
  _rev?: string;
  type: 'user';
  schema: 1;
  userId: string;
  phone: string;
  name: string;
  role: Role;
  /** commune codes a team member works in */
  communes: string[];
  /** for admins: the unit (province or district code) they administer */
  unit?: string;
  /** for venue owners: communes where they have venues, so a new device knows what to replicate */
  venueCommunes?: string[];
  /** the official's job title ("Phó Chủ tịch UBND xã") */
  position?: string;
  passwordHash: string;
  sessionVersion: number;
  disabled?: boolean;
  /** set by a one-time password: the account may only change its password until it does */
  mustChangePassword?: boolean;
  /** ISO time of the last login */
  lastSignInAt?: string;
  /** userId of the admin who made the account (none for self-registered owners and the command) */
  createdBy?: string;
  createdAt: string;
}

interface PhoneDoc {
  _id: string;
  _rev?: string;
  type: 'phone';
  userId: string;
}

export class PhoneTakenError extends Error {
  constructor() {
    super('phone number already registered');
  }
}

function newUserId(): string {
  return 'u' + randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, 'x');
}

export async function createUser(
  store: Store,
  input: {
    phone: string;
    password: string;
    name?: string;
    role: Role;
    communes?: string[];
    unit?: string;
    position?: string;
    mustChangePassword?: boolean;
    createdBy?: string;
  }
): Promise<UserDoc> {
  const users = store.db<UserDoc | PhoneDoc>(DB.users);
  const userId = newUserId();
  const user: UserDoc = {
    _id: `user:${userId}`,
    type: 'user',
    schema: 1,
    userId,
    phone: input.phone,
    name: input.name?.trim() ?? '',
    role: input.role,
    communes: input.communes ?? [],
    ...(input.unit ? { unit: input.unit } : {}),
    ...(input.position?.trim() ? { position: input.position.trim() } : {}),
    ...(input.mustChangePassword ? { mustChangePassword: true } : {}),
    ...(input.createdBy ? { createdBy: input.createdBy } : {}),
    passwordHash: await hashPassword(input.password),
    sessionVersion: 1,
    createdAt: new Date().toISOString()
  };
  try {
    await users.insert({ _id: `phone:${input.phone}`, type: 'phone', userId });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 409) throw new PhoneTakenError();
    throw err;
  }
  const res = await users.insert(user);
  return { ...user, _rev: res.rev };
}

export async function findUserByPhone(store: Store, phone: string): Promise<UserDoc | null> {
  const users = store.db<UserDoc | PhoneDoc>(DB.users);
  const link = (await getOrNull(users, `phone:${phone}`)) as PhoneDoc | null;
  return link ? getUser(store, link.userId) : null;
}

export async function getUser(store: Store, userId: string): Promise<UserDoc | null> {
  const doc = (await getOrNull(store.db<UserDoc>(DB.users), `user:${userId}`)) as UserDoc | null;
  return doc?.type === 'user' ? doc : null;
}

export async function updateUser(store: Store, user: UserDoc): Promise<UserDoc> {
  const res = await store.db<UserDoc>(DB.users).insert(user);
  return { ...user, _rev: res.rev };
}

export async function addVenueCommune(store: Store, userId: string, communeCode: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const user = await getUser(store, userId);
    if (!user || user.venueCommunes?.includes(communeCode)) return;
    try {
      await updateUser(store, { ...user, venueCommunes: [...(user.venueCommunes ?? []), communeCode].sort() });
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 409) throw err;
    }
  }
}

/** What a client may know of its own account (and keep for offline use). */
export function publicAccount(user: UserDoc) {
  return {
    userId: user.userId,
    phone: user.phone,
    name: user.name,
    role: user.role,
    communes: user.communes,
    venueCommunes: user.venueCommunes ?? [],
    unit: user.unit ?? null,
    position: user.position ?? '',
    mustChangePassword: !!user.mustChangePassword
  };
}

/**
 * Letters and digits that cannot be taken for one another when read aloud or copied from paper
 * (no i, l, o, 0, 1), lower case so a phone keyboard types them without shifting.
 */
const ONE_TIME_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
export const ONE_TIME_PASSWORD_LENGTH = 10;

/** A password an admin hands over once (31^10, about 2^49: login limits make guessing hopeless). */
export function oneTimePassword(): string {
  let out = '';
  for (let i = 0; i < ONE_TIME_PASSWORD_LENGTH; i++) out += ONE_TIME_ALPHABET[randomInt(ONE_TIME_ALPHABET.length)];
  return out;
}

/**
 * Every account in lv_users, page by page (the ids `user:` sort together), for an admin's list.
 * `visit` returns false to stop early.
 */
export async function eachUser(store: Store, visit: (user: UserDoc) => boolean | void): Promise<void> {
  const db = store.db<UserDoc>(DB.users);
  const page = 1000;
  let startkey = 'user:';
  for (;;) {
    const res = await db.list({ startkey, endkey: 'user:\ufff0', include_docs: true, limit: page + 1 });
    for (const row of res.rows.slice(0, page)) {
      const doc = row.doc as UserDoc | undefined;
      if (doc?.type === 'user' && visit(doc) === false) return;
    }
    if (res.rows.length <= page) return;
    startkey = res.rows[page]!.id;
  }
}
export type PublicAccount = ReturnType<typeof publicAccount>;
