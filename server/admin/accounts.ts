/**
 * `/api/admin/accounts*` and `/api/admin/audit`: an admin lists, creates, disables, enables and
 * resets the accounts of its unit (teams whose communes lie inside, admins of units strictly below,
 * venue owners whose venues lie inside); a commune team resets the password of an owner whose
 * venues all lie in its communes (there is no SMS). Every change goes into the audit trail.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as v from 'valibot';
import type { AccountRow } from '../../src/lib/core/admin';
import { normalizePhone } from '../../src/lib/core/venue/station-scan';
import { cleanLine, foldVietnamese } from '../../src/lib/core/text';
import { unitWithin } from '../../src/lib/core/units';
import { endEverywhere, changeUser, type SessionOf } from '../accounts';
import { hashPassword } from '../auth';
import type { Store } from '../store/couch';
import { createUser, eachUser, getUser, oneTimePassword, PhoneTakenError, type UserDoc } from '../users';
import { readAudit, writeAudit } from './audit';
import { accountUnit, inAdminUnit, loadUnitTree, signedIn, signedInAdmin } from './scope';

export interface AdminDeps {
  store: Store;
  sessionOf: SessionOf;
}

/** Rows an account list answers at most; `truncated` says there were more (narrow the search). */
export const ACCOUNTS_MAX = 500;
export const TEAM_COMMUNES_MAX = 20;
const NAME_MAX = 100;
const POSITION_MAX = 100;

export function accountRow(user: UserDoc): AccountRow {
  return {
    userId: user.userId,
    phone: user.phone,
    name: user.name,
    position: user.position ?? '',
    role: user.role,
    communes: user.role === 'team' ? user.communes : user.role === 'owner' ? (user.venueCommunes ?? []) : [],
    unit: user.role === 'admin' ? (user.unit ?? null) : null,
    disabled: !!user.disabled,
    mustChangePassword: !!user.mustChangePassword,
    lastSignInAt: user.lastSignInAt ?? null,
    createdAt: user.createdAt
  };
}

const ListQuery = v.object({
  q: v.optional(v.pipe(v.string(), v.maxLength(100))),
  role: v.optional(v.picklist(['team', 'admin', 'owner'])),
  status: v.optional(v.picklist(['active', 'disabled']))
});

const NewAccount = v.object({
  name: v.pipe(v.string(), v.maxLength(NAME_MAX * 2)),
  position: v.optional(v.pipe(v.string(), v.maxLength(POSITION_MAX * 2)), ''),
  phone: v.pipe(v.string(), v.maxLength(30)),
  role: v.picklist(['team', 'admin']),
  communes: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(10))), v.maxLength(100))),
  unit: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(10))))
});

const USER_ID = /^[a-z0-9]{1,40}$/;

/** A short account description for the audit trail: role and places, never a phone number. */
function accountFacts(user: Pick<UserDoc, 'role' | 'communes' | 'unit' | 'venueCommunes'>) {
  return { role: user.role, communes: user.role === 'owner' ? (user.venueCommunes ?? []) : user.communes, unit: user.unit ?? null };
}

function describeAccount(user: Pick<UserDoc, 'role' | 'communes' | 'unit' | 'venueCommunes'>): string {
  if (user.role === 'admin') return `admin of ${user.unit ?? '?'}`;
  if (user.role === 'team') return `team of ${user.communes.join(', ')}`;
  return `venue owner${user.venueCommunes?.length ? ` in ${user.venueCommunes.join(', ')}` : ''}`;
}

export function registerAdminAccounts(app: FastifyInstance, { store, sessionOf }: AdminDeps): void {
  app.get('/api/admin/accounts', async (req, reply) => {
    const admin = await signedInAdmin(store, sessionOf, req, reply);
    if (!admin) return reply;
    const parsed = v.safeParse(ListQuery, req.query);
    if (!parsed.success) return reply.status(400).send({ error: 'bad_request', reason: 'q is text, role is team, admin or owner, status is active or disabled' });
    const { q, role, status } = parsed.output;
    const words = foldVietnamese(q ?? '').replace(/[^a-z0-9]+/g, ' ').split(' ').filter(Boolean);
    const digits = (q ?? '').replace(/[^0-9]/g, '');
    const { tree } = await loadUnitTree(store);
    const accounts: AccountRow[] = [];
    let truncated = false;
    await eachUser(store, (user) => {
      if (role && user.role !== role) return;
      if (status && (status === 'disabled') !== !!user.disabled) return;
      if (!inAdminUnit(tree, admin.unit, user)) return;
      if (words.length) {
        // Each word starts a word of the name or position, in any order, without diacritics ("hoa tran" finds Trần Thị Hoa).
        const text = ' ' + foldVietnamese(`${user.name} ${user.position ?? ''}`).replace(/[^a-z0-9]+/g, ' ');
        const byPhone = digits.length >= 3 && user.phone.includes(digits.replace(/^84/, '0'));
        if (!byPhone && !words.every((w) => text.includes(' ' + w))) return;
      }
      if (accounts.length >= ACCOUNTS_MAX) {
        truncated = true;
        return false;
      }
      accounts.push(accountRow(user));
    });
    // Admins first, then teams, then owners; by name within each.
    const rank = { admin: 0, team: 1, owner: 2 } as const;
    accounts.sort((a, b) => rank[a.role] - rank[b.role] || a.name.localeCompare(b.name, 'vi') || a.userId.localeCompare(b.userId));
    return { accounts, truncated };
  });

  app.post('/api/admin/accounts', async (req, reply) => {
    const admin = await signedInAdmin(store, sessionOf, req, reply);
    if (!admin) return reply;
    const parsed = v.safeParse(NewAccount, req.body);
    if (!parsed.success) {
      return reply.status(400).send({ error: 'bad_request', reason: 'expected {name, position, phone, role: team|admin, communes (team) or unit (admin)}' });
    }
    const input = parsed.output;
    const name = cleanLine(input.name);
    const position = cleanLine(input.position);
    if (!name) return reply.status(400).send({ error: 'bad_name', reason: "the official's name is required" });
    if (name.length > NAME_MAX) return reply.status(400).send({ error: 'bad_name', reason: `the name has more than ${NAME_MAX} characters` });
    if (position.length > POSITION_MAX) return reply.status(400).send({ error: 'bad_position', reason: `the position has more than ${POSITION_MAX} characters` });
    const phone = normalizePhone(input.phone);
    if (!phone) return reply.status(400).send({ error: 'bad_phone', reason: 'not a Vietnamese mobile number' });
    const { tree, byCode } = await loadUnitTree(store);
    let communes: string[] = [];
    let unit: string | undefined;
    if (input.role === 'team') {
      communes = [...new Set((input.communes ?? []).map((c) => c.trim()))].sort();
      if (communes.length === 0 || communes.length > TEAM_COMMUNES_MAX) {
        return reply.status(400).send({ error: 'bad_communes', reason: `a team account works in 1 to ${TEAM_COMMUNES_MAX} communes` });
      }
      const unknown = communes.filter((c) => byCode.get(c)?.level !== 'commune');
      if (unknown.length) return reply.status(400).send({ error: 'bad_communes', reason: `not communes of the directory: ${unknown.join(', ')}` });
      const outside = communes.filter((c) => !unitWithin(tree, c, admin.unit));
      if (outside.length) return reply.status(403).send({ error: 'outside_unit', reason: `communes outside your unit ${admin.unit}: ${outside.join(', ')}` });
    } else {
      unit = input.unit?.trim() ?? '';
      const target = byCode.get(unit);
      if (!target || target.level === 'commune') {
        return reply.status(400).send({ error: 'bad_unit', reason: 'an administrator needs an existing province or district of the directory' });
      }
      if (unit === admin.unit || !unitWithin(tree, unit, admin.unit)) {
        return reply.status(403).send({ error: 'outside_unit', reason: `you can make administrators only for units below your unit ${admin.unit}` });
      }
    }
    const password = oneTimePassword();
    let user: UserDoc;
    try {
      for (const code of communes) await store.ensureCommuneDb(code);
      user = await createUser(store, { phone, password, name, position, role: input.role, communes, unit, mustChangePassword: true, createdBy: admin.userId });
    } catch (err) {
      if (err instanceof PhoneTakenError) return reply.status(409).send({ error: 'phone_taken', reason: 'this number already has an account' });
      throw err;
    }
    await writeAudit(store, {
      actor: { userId: admin.userId, name: admin.name },
      unit: accountUnit(tree, user) ?? admin.unit,
      action: 'account.create',
      target: { kind: 'account', id: user.userId, label: user.name },
      detail: describeAccount(user),
      facts: accountFacts(user)
    });
    reply.status(201);
    return { account: accountRow(user), password };
  });

  /** The account named in the path, or null after answering 400 / 404. */
  async function targetOf(req: FastifyRequest<{ Params: { userId: string } }>, reply: FastifyReply): Promise<UserDoc | null> {
    const target = USER_ID.test(req.params.userId) ? await getUser(store, req.params.userId) : null;
    if (!target) reply.status(404).send({ error: 'not_found', reason: 'no such account' });
    return target;
  }

  async function setDisabled(req: FastifyRequest<{ Params: { userId: string } }>, reply: FastifyReply, disabled: boolean) {
    const { session, problem } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: 'not_logged_in', reason: problem === 'expired' ? 'session expired: log in again' : 'log in first' });
    if (session.role !== 'admin') return reply.status(403).send({ error: 'forbidden', reason: 'only an administrator can disable or enable accounts' });
    const admin = await signedInAdmin(store, sessionOf, req, reply);
    if (!admin) return reply;
    const target = await targetOf(req, reply);
    if (!target) return reply;
    if (target.userId === admin.userId) return reply.status(400).send({ error: 'own_account', reason: 'an administrator cannot disable or enable their own account' });
    const { tree } = await loadUnitTree(store);
    if (!inAdminUnit(tree, admin.unit, target)) {
      return reply.status(403).send({ error: 'forbidden', reason: 'this account works outside your unit (or above it): an administrator of a unit that holds it can act' });
    }
    const changed = disabled
      ? await endEverywhere(store, sessionOf, target.userId, (u) => ({ ...u, disabled: true }))
      : await changeUser(store, target.userId, ({ disabled: _was, ...u }) => u);
    if (!changed) return reply.status(404).send({ error: 'not_found', reason: 'no such account' });
    if (!disabled) sessionOf.forgetUser(target.userId);
    await writeAudit(store, {
      actor: { userId: admin.userId, name: admin.name },
      unit: accountUnit(tree, changed) ?? admin.unit,
      action: disabled ? 'account.disable' : 'account.enable',
      target: { kind: 'account', id: changed.userId, label: changed.name },
      detail: describeAccount(changed),
      facts: accountFacts(changed)
    });
    return { ok: true, userId: changed.userId, disabled: !!changed.disabled };
  }

  for (const prefix of ['/api/accounts', '/api/admin/accounts']) {
    app.post<{ Params: { userId: string } }>(`${prefix}/:userId/disable`, (req, reply) => setDisabled(req, reply, true));
    app.post<{ Params: { userId: string } }>(`${prefix}/:userId/enable`, (req, reply) => setDisabled(req, reply, false));
  }

  app.post<{ Params: { userId: string } }>('/api/admin/accounts/:userId/reset-password', async (req, reply) => {
    const actor = await signedIn(store, sessionOf, req, reply);
    if (!actor) return reply;
    if (actor.role !== 'admin' && actor.role !== 'team') {
      return reply.status(403).send({ error: 'forbidden', reason: 'only an administrator or a commune team can reset a password' });
    }
    if (actor.role === 'admin' && !actor.unit) return reply.status(403).send({ error: 'forbidden', reason: 'this administrator account has no unit to act in' });
    const target = await targetOf(req, reply);
    if (!target) return reply;
    if (target.userId === actor.userId) return reply.status(400).send({ error: 'own_account', reason: 'change your own password in your account, with your current one' });
    const { tree } = await loadUnitTree(store);
    const venues = target.venueCommunes ?? [];
    const allowed =
      actor.role === 'admin'
        ? inAdminUnit(tree, actor.unit!, target)
        : target.role === 'owner' && venues.length > 0 && venues.every((c) => actor.communes.includes(c));
    if (!allowed) {
      return reply.status(403).send({
        error: 'forbidden',
        reason: actor.role === 'admin' ? 'this account works outside your unit (or above it)' : "a commune team resets only the passwords of venue owners whose venues are all in the team's communes"
      });
    }
    const password = oneTimePassword();
    const passwordHash = await hashPassword(password);
    const changed = await endEverywhere(store, sessionOf, target.userId, (u) => ({ ...u, passwordHash, mustChangePassword: true }));
    if (!changed) return reply.status(404).send({ error: 'not_found', reason: 'no such account' });
    await writeAudit(store, {
      actor: { userId: actor.userId, name: actor.name },
      unit: accountUnit(tree, changed) ?? actor.unit ?? actor.communes[0] ?? '',
      action: 'account.reset-password',
      target: { kind: 'account', id: changed.userId, label: changed.name },
      detail: describeAccount(changed),
      facts: accountFacts(changed)
    });
    return { password };
  });

  app.get('/api/admin/audit', async (req, reply) => {
    const admin = await signedInAdmin(store, sessionOf, req, reply);
    if (!admin) return reply;
    const parsed = v.safeParse(
      v.object({
        before: v.optional(v.pipe(v.string(), v.isoTimestamp())),
        limit: v.optional(v.pipe(v.string(), v.regex(/^[0-9]{1,3}$/), v.transform(Number), v.minValue(1), v.maxValue(200)), '50')
      }),
      req.query
    );
    if (!parsed.success) return reply.status(400).send({ error: 'bad_request', reason: 'before is an ISO time, limit a number from 1 to 200' });
    const { tree } = await loadUnitTree(store);
    const before = parsed.output.before ? new Date(parsed.output.before).toISOString() : undefined;
    return { events: await readAudit(store, tree, admin.unit, { before, limit: parsed.output.limit as number }) };
  });
}
