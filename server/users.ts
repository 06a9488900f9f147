/**
 * Accounts in `lv_users` (server only). `user:<userId>` holds the account; `phone:<phone>` makes a
 * phone number unique (CouchDB refuses a second document with the same id, on every node).
 */
import { randomBytes } from 'node:crypto';
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
  passwordHash: string;
  sessionVersion: number;
  disabled?: boolean;
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
  input: { phone: string; password: string; name?: string; role: Role; communes?: string[]; unit?: string }
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
    unit: user.unit ?? null
  };
}
export type PublicAccount = ReturnType<typeof publicAccount>;
