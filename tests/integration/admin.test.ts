/**
 * The officials' tier on a real server over the embedded store (or CouchDB with
 * LV_TEST_COUCHDB_URL): accounts of an admin's unit, one-time passwords, the audit trail, zone
 * levels and the units import, against what a hostile or mistaken caller sends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { createUser } from '../../server/users';
import { loggedPath } from '../../server/http';
import type { AccountRow, AuditEvent, UnitsPreview, ZoneHistoryRow, ZoneRow } from '../../src/lib/core/admin';

const PASSWORD = 'mat-khau-dai';

let dataDir: string;
let server: RunningServer;
const cookies: Record<string, string> = {};
const ids: Record<string, string> = {};

interface Answer<T = Record<string, unknown>> {
  status: number;
  json: T & { error?: string; reason?: string };
  cookie: string;
}

async function call<T = Record<string, unknown>>(method: string, url: string, opts: { body?: unknown; raw?: string; cookie?: string } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${url}`, { method, headers, body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) });
  const text = await res.text();
  let json: T;
  try {
    json = (text ? JSON.parse(text) : {}) as T;
  } catch {
    json = { text } as T;
  }
  const cookie = (res.headers.getSetCookie().map((c) => /^lv_session=[^;]+/.exec(c)?.[0]).find((c) => c && c !== 'lv_session=') ?? '') as string;
  return { status: res.status, json: json as Answer<T>['json'], cookie };
}

const as = (who: string) => ({ cookie: cookies[who] });

async function login(phone: string, password: string): Promise<Answer> {
  return call('POST', '/api/auth/login', { body: { phone, password } });
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-admin-'));
  // Demo on: the demo units (Hà Tĩnh 42 › Đức Thọ 440 › 18070…, Quảng Nam 49) are seeded.
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none'), DEMO: '1' }));
  for (const [who, phone, role, communes, unit] of [
    ['p42', '0987600001', 'admin', [], '42'],
    ['p49', '0987600002', 'admin', [], '49'],
    ['team18070', '0987600003', 'team', ['18070'], undefined],
    ['team18073', '0987600004', 'team', ['18073'], undefined]
  ] as const) {
    const user = await createUser(server.store, { phone, password: PASSWORD, role, communes: [...communes], unit, name: `Cán bộ ${who}` });
    ids[who] = user.userId;
    cookies[who] = (await login(phone, PASSWORD)).cookie;
    expect(cookies[who]).not.toBe('');
  }
  // Venue owners: one with a venue in 18070, one in Quảng Nam (venue communes as the gateway records them).
  for (const [who, phone, commune] of [
    ['owner18070', '0987600005', '18070'],
    ['owner20335', '0987600006', '20335']
  ] as const) {
    const res = await call<{ userId: string }>('POST', '/api/auth/register', { body: { phone, password: PASSWORD, name: who } });
    ids[who] = res.json.userId;
    cookies[who] = res.cookie;
    const users = server.store.db<{ _id: string; _rev: string; venueCommunes?: string[] }>('lv_users');
    const doc = await users.get(`user:${res.json.userId}`);
    await users.insert({ ...doc, venueCommunes: [commune] });
  }
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('accounts of an admin unit', () => {
  let districtPassword = '';
  let teamPassword = '';

  it('a province admin creates a district admin and a team account, each with a one-time password', async () => {
    const district = await call<{ account: AccountRow; password: string }>('POST', '/api/admin/accounts', {
      ...as('p42'),
      body: { name: 'Nguyễn Văn Huyện', position: 'Phó Chủ tịch UBND huyện', phone: '0912 440 440', role: 'admin', unit: '440' }
    });
    expect(district.status).toBe(201);
    expect(district.json.account).toMatchObject({ role: 'admin', unit: '440', phone: '0912440440', position: 'Phó Chủ tịch UBND huyện', mustChangePassword: true, disabled: false, lastSignInAt: null });
    expect(district.json.password).toMatch(/^[a-hjkmnp-z2-9]{10}$/);
    districtPassword = district.json.password;
    ids.d440 = district.json.account.userId;

    const team = await call<{ account: AccountRow; password: string }>('POST', '/api/admin/accounts', {
      ...as('p42'),
      body: { name: 'Trần Thị Xã', position: 'Cán bộ y tế xã', phone: '0912018073', role: 'team', communes: ['18073'] }
    });
    expect(team.status).toBe(201);
    expect(team.json.account).toMatchObject({ role: 'team', communes: ['18073'], unit: null, mustChangePassword: true });
    teamPassword = team.json.password;
    ids.newTeam = team.json.account.userId;
    expect(teamPassword).not.toBe(districtPassword);
  });

  it('refuses bad input with reasons: no name, a bad phone, a taken phone, unknown communes, too many', async () => {
    const cases: [unknown, number, string][] = [
      [{ name: ' ', phone: '0912000001', role: 'team', communes: ['18073'] }, 400, 'bad_name'],
      [{ name: 'A', phone: '12345', role: 'team', communes: ['18073'] }, 400, 'bad_phone'],
      [{ name: 'A', phone: '0912018073', role: 'team', communes: ['18073'] }, 409, 'phone_taken'],
      [{ name: 'A', phone: '0912000001', role: 'team', communes: ['99999'] }, 400, 'bad_communes'],
      [{ name: 'A', phone: '0912000001', role: 'team', communes: [] }, 400, 'bad_communes'],
      [{ name: 'A', phone: '0912000001', role: 'team', communes: Array.from({ length: 21 }, (_, i) => String(18000 + i)) }, 400, 'bad_communes'],
      [{ name: 'A', phone: '0912000001', role: 'admin', unit: '18073' }, 400, 'bad_unit'],
      [{ name: 'A', phone: '0912000001', role: 'owner' }, 400, 'bad_request'],
      ['not an object', 400, 'bad_request']
    ];
    for (const [body, status, error] of cases) {
      const res = await call('POST', '/api/admin/accounts', { ...as('p42'), body });
      expect({ status: res.status, error: res.json.error }, JSON.stringify(body)).toEqual({ status, error });
      expect(res.json.reason).toBeTruthy();
    }
    // Not an admin at all.
    expect((await call('POST', '/api/admin/accounts', { ...as('team18070'), body: { name: 'A', phone: '0912000001', role: 'team', communes: ['18070'] } })).status).toBe(403);
    expect((await call('GET', '/api/admin/accounts')).status).toBe(401);
  });

  it('the district admin must change its one-time password before anything else', async () => {
    const first = await login('0912440440', districtPassword);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ role: 'admin', unit: '440', mustChangePassword: true });
    const blocked = await call('GET', '/api/admin/accounts', { cookie: first.cookie });
    expect(blocked.status).toBe(403);
    expect(blocked.json.error).toBe('password_change_required');
    expect((await call('GET', '/sync/lv_directory/_changes?since=0', { cookie: first.cookie })).json.error).toBe('password_change_required');
    expect((await call('GET', '/api/auth/me', { cookie: first.cookie })).json).toMatchObject({ mustChangePassword: true });
    // What anyone may read stays open: the public keys.
    expect((await call('GET', '/api/keys', { cookie: first.cookie })).status).toBe(200);
    // The one-time password itself is not a password of one's own.
    const same = await call('POST', '/api/auth/password', { cookie: first.cookie, body: { currentPassword: districtPassword, newPassword: districtPassword } });
    expect(same.json.error).toBe('same_password');
    const changed = await call('POST', '/api/auth/password', { cookie: first.cookie, body: { currentPassword: districtPassword, newPassword: PASSWORD } });
    expect(changed.status).toBe(200);
    expect(changed.json).toMatchObject({ mustChangePassword: false });
    cookies.d440 = changed.cookie;
    expect((await call('GET', '/api/admin/accounts', as('d440'))).status).toBe(200);
  });

  it('lists only the accounts of its unit, with last sign-in; never its own level, above or beside', async () => {
    const list = await call<{ accounts: AccountRow[]; truncated: boolean }>('GET', '/api/admin/accounts', as('d440'));
    const seen = new Set(list.json.accounts.map((a) => a.userId));
    expect(seen.has(ids.newTeam!)).toBe(true);
    expect(seen.has(ids.team18070!)).toBe(true);
    expect(seen.has(ids.owner18070!)).toBe(true);
    expect(seen.has(ids.d440!)).toBe(false);
    expect(seen.has(ids.p42!)).toBe(false);
    expect(seen.has(ids.p49!)).toBe(false);
    expect(seen.has(ids.owner20335!)).toBe(false);
    expect(list.json.truncated).toBe(false);
    const province = await call<{ accounts: AccountRow[] }>('GET', '/api/admin/accounts?role=admin', as('p42'));
    // (The demo data has a district admin of 440 too.)
    expect(province.json.accounts.map((a) => a.unit)).toEqual(province.json.accounts.map(() => '440'));
    expect(province.json.accounts.find((a) => a.userId === ids.d440)!.lastSignInAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const search = await call<{ accounts: AccountRow[] }>('GET', `/api/admin/accounts?q=${encodeURIComponent('tran thi xa')}`, as('p42'));
    expect(search.json.accounts.map((a) => a.userId)).toContain(ids.newTeam);
    expect(search.json.accounts.every((a) => /Trần Thị/.test(a.name))).toBe(true);
    const byPhone = await call<{ accounts: AccountRow[] }>('GET', '/api/admin/accounts?q=018073', as('p42'));
    expect(byPhone.json.accounts.map((a) => a.userId)).toEqual([ids.newTeam]);
    expect((await call('GET', '/api/admin/accounts?role=boss', as('p42'))).status).toBe(400);
    const beside = await call<{ accounts: AccountRow[] }>('GET', '/api/admin/accounts', as('p49'));
    expect(beside.json.accounts.map((a) => a.userId)).toEqual([ids.owner20335]);
  });

  it('creating an admin at its own level, above or beside is 403', async () => {
    for (const [who, unit] of [
      ['p42', '42'],
      ['p42', '49'],
      ['p42', '502'],
      ['d440', '440'],
      ['d440', '42']
    ] as const) {
      const res = await call('POST', '/api/admin/accounts', { ...as(who), body: { name: 'X', phone: '0912999999', role: 'admin', unit } });
      expect(res.status, `${who} → ${unit}`).toBe(403);
      expect(res.json.error).toBe('outside_unit');
    }
    const team = await call('POST', '/api/admin/accounts', { ...as('d440'), body: { name: 'X', phone: '0912999999', role: 'team', communes: ['18070', '20335'] } });
    expect(team.status).toBe(403);
  });

  it('disabling ends the team session at once; enabling lets it log in again', async () => {
    const teamLogin = await login('0912018073', teamPassword);
    expect(teamLogin.status).toBe(200);
    const teamCookie = teamLogin.cookie;
    expect((await call('GET', '/api/auth/me', { cookie: teamCookie })).status).toBe(200);
    const off = await call('POST', `/api/admin/accounts/${ids.newTeam}/disable`, as('d440'));
    expect(off.json).toMatchObject({ ok: true, disabled: true });
    expect((await call('GET', '/api/auth/me', { cookie: teamCookie })).status).toBe(401);
    expect((await login('0912018073', teamPassword)).status).toBe(401);
    const disabled = await call<{ accounts: AccountRow[] }>('GET', '/api/admin/accounts?status=disabled', as('d440'));
    expect(disabled.json.accounts.map((a) => a.userId)).toEqual([ids.newTeam]);
    expect((await call('POST', `/api/admin/accounts/${ids.newTeam}/enable`, as('d440'))).json).toMatchObject({ disabled: false });
    expect((await login('0912018073', teamPassword)).status).toBe(200);
    // Beside: an admin of 49 cannot touch it, nor can the district admin touch the province admin.
    expect((await call('POST', `/api/admin/accounts/${ids.newTeam}/disable`, as('p49'))).status).toBe(403);
    expect((await call('POST', `/api/admin/accounts/${ids.p42}/disable`, as('d440'))).status).toBe(403);
    expect((await call('POST', '/api/admin/accounts/nosuchuser/disable', as('d440'))).status).toBe(404);
  });

  it('a commune team resets the password of an owner of its commune, not of one elsewhere', async () => {
    const reset = await call<{ password: string }>('POST', `/api/admin/accounts/${ids.owner18070}/reset-password`, as('team18070'));
    expect(reset.status).toBe(200);
    expect(reset.json.password).toMatch(/^[a-hjkmnp-z2-9]{10}$/);
    // Every session of the owner ended; the old password is gone; the new one is one-time.
    expect((await call('GET', '/api/auth/me', as('owner18070'))).status).toBe(401);
    expect((await login('0987600005', PASSWORD)).status).toBe(401);
    const again = await login('0987600005', reset.json.password);
    expect(again.json).toMatchObject({ mustChangePassword: true });
    expect((await call('POST', `/api/admin/accounts/${ids.owner20335}/reset-password`, as('team18070'))).status).toBe(403);
    expect((await call('POST', `/api/admin/accounts/${ids.owner18070}/reset-password`, as('team18073'))).status).toBe(403);
    // A team never resets a team or an admin, even in its commune; an owner resets nothing.
    expect((await call('POST', `/api/admin/accounts/${ids.team18073}/reset-password`, as('team18070'))).status).toBe(403);
    expect((await call('POST', `/api/admin/accounts/${ids.owner18070}/reset-password`, as('owner20335'))).status).toBe(403);
    // An admin resets within its unit.
    expect((await call('POST', `/api/admin/accounts/${ids.team18073}/reset-password`, as('d440'))).status).toBe(200);
    expect((await call('POST', `/api/admin/accounts/${ids.team18073}/reset-password`, as('p49'))).status).toBe(403);
  });
});

describe('logs', () => {
  it('log admin paths without account ids or search words', () => {
    expect(loggedPath('/api/admin/accounts/u1234abcd/reset-password')).toBe('/api/admin/accounts/:user/reset-password');
    expect(loggedPath('/api/admin/accounts?q=0912018073')).toBe('/api/admin/accounts');
  });
});

describe('the audit trail', () => {
  it('is readable by the admins of the unit and above, newest first, never beside', async () => {
    const province = await call<{ events: AuditEvent[] }>('GET', '/api/admin/audit', as('p42'));
    expect(province.status).toBe(200);
    const actions = province.json.events.map((e) => e.action);
    expect(actions).toContain('account.create');
    expect(actions).toContain('account.disable');
    expect(actions).toContain('account.reset-password');
    const times = province.json.events.map((e) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
    const disable = province.json.events.find((e) => e.action === 'account.disable')!;
    expect(disable).toMatchObject({ unit: '18073', actor: { userId: ids.d440 }, target: { kind: 'account', id: ids.newTeam } });
    expect(JSON.stringify(province.json.events)).not.toContain('0912018073');
    const district = await call<{ events: AuditEvent[] }>('GET', '/api/admin/audit', as('d440'));
    expect(district.json.events.map((e) => e.action)).toContain('account.disable');
    expect(district.json.events.every((e) => e.unit.startsWith('440') || e.unit.startsWith('180'))).toBe(true);
    expect((await call<{ events: AuditEvent[] }>('GET', '/api/admin/audit', as('p49'))).json.events).toEqual([]);
    // Paged by `before`.
    const page = await call<{ events: AuditEvent[] }>('GET', `/api/admin/audit?limit=1&before=${encodeURIComponent(times[0]!)}`, as('p42'));
    expect(page.json.events).toHaveLength(1);
    expect(page.json.events[0]!.at < times[0]!).toBe(true);
    expect((await call('GET', '/api/admin/audit?limit=999', as('p42'))).status).toBe(400);
    expect((await call('GET', '/api/admin/audit', as('team18070'))).status).toBe(403);
  });
});

describe('zone levels', () => {
  it('a district admin sets a commune level with a note: in GET zones with history, and in lv_directory changes', async () => {
    const since = new Date().toISOString().slice(0, 10);
    const set = await call('POST', '/api/admin/zones', { ...as('d440'), body: { code: '18076', level: 4, since, note: '  Quyết định   số 12/QĐ-UBND ' } });
    expect(set.status).toBe(200);
    const zones = await call<{ units: ZoneRow[]; history: ZoneHistoryRow[] }>('GET', '/api/admin/zones', as('d440'));
    const row = zones.json.units.find((u) => u.code === '18076')!;
    expect(row).toMatchObject({ zone: { level: 4, since, note: 'Quyết định số 12/QĐ-UBND' }, effective: 4 });
    expect(zones.json.units.some((u) => u.code === '42' || u.code === '49')).toBe(false);
    // A commune without its own level takes its province's (42 is level 2 in the demo data).
    expect(zones.json.units.find((u) => u.code === '18079')).toMatchObject({ zone: null, effective: 2 });
    expect(zones.json.history[0]).toMatchObject({ code: '18076', level: 4, since, note: 'Quyết định số 12/QĐ-UBND', by: 'Nguyễn Văn Huyện' });
    const changes = await call<{ results: { id: string }[] }>('GET', '/sync/lv_directory/_changes?since=0&include_docs=true&limit=5000');
    expect(changes.json.results.some((r) => r.id === 'zone:18076')).toBe(true);
    const doc = await server.store.db('lv_directory').get('zone:18076');
    expect(doc).toMatchObject({ level: 4, since, note: 'Quyết định số 12/QĐ-UBND' });

    // Null removes the unit's own level: it takes its parent's again.
    expect((await call('POST', '/api/admin/zones', { ...as('d440'), body: { code: '18076', level: null } })).status).toBe(200);
    const after = await call<{ units: ZoneRow[]; history: ZoneHistoryRow[] }>('GET', '/api/admin/zones', as('d440'));
    expect(after.json.units.find((u) => u.code === '18076')).toMatchObject({ zone: null, effective: 2 });
    expect(after.json.history.map((h) => h.level).slice(0, 2)).toEqual([null, 4]);
    const audit = await call<{ events: AuditEvent[] }>('GET', '/api/admin/audit', as('p42'));
    expect(audit.json.events.filter((e) => e.target.kind === 'zone').map((e) => e.action)).toEqual(['zone.clear', 'zone.set']);
    // The facts let a screen say it in its own language.
    expect(audit.json.events.filter((e) => e.target.kind === 'zone').map((e) => e.facts)).toEqual([
      { level: null, since: '', note: '' },
      { level: 4, since, note: 'Quyết định số 12/QĐ-UBND' }
    ]);
  });

  it('a level announced for a later day leaves the level in force until then', async () => {
    const { dayKey } = await import('../../src/lib/core/time');
    const { addDays } = await import('../../src/lib/core/reports/period');
    const today = dayKey(Date.now());
    expect((await call('POST', '/api/admin/zones', { ...as('d440'), body: { code: '18082', level: 3, since: today, note: '' } })).status).toBe(200);
    const tomorrow = addDays(today, 1);
    expect((await call('POST', '/api/admin/zones', { ...as('d440'), body: { code: '18082', level: 4, since: tomorrow, note: 'Từ 0 giờ ngày mai' } })).status).toBe(200);
    const zones = await call<{ units: ZoneRow[] }>('GET', '/api/admin/zones', as('d440'));
    expect(zones.json.units.find((u) => u.code === '18082')).toMatchObject({ zone: { level: 4, since: tomorrow }, effective: 3 });
    // Phones and checkpoints read the same document, and the same rule.
    expect(await server.store.db('lv_directory').get('zone:18082')).toMatchObject({ level: 4, since: tomorrow, before: 3 });
    expect((await call('POST', '/api/admin/zones', { ...as('d440'), body: { code: '18082', level: null } })).status).toBe(200);
  });

  it('refuses units outside, bad levels, days and notes with reasons', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const cases: [string, unknown, number, string][] = [
      ['d440', { code: '20335', level: 3, since: today, note: '' }, 403, 'outside_unit'],
      ['d440', { code: '42', level: 3, since: today, note: '' }, 403, 'outside_unit'],
      ['d440', { code: '18076', level: 5, since: today, note: '' }, 400, 'bad_request'],
      ['d440', { code: '18076', level: 3, since: '2026-02-30', note: '' }, 400, 'bad_since'],
      ['d440', { code: '18076', level: 3, since: '1999-01-01', note: '' }, 400, 'bad_since'],
      ['d440', { code: '18076', level: 3, since: today, note: 'x'.repeat(301) }, 400, 'bad_note'],
      ['d440', { code: '77777', level: 3, since: today, note: '' }, 404, 'not_found'],
      ['team18070', { code: '18070', level: 3, since: today, note: '' }, 403, 'forbidden']
    ];
    for (const [who, body, status, error] of cases) {
      const res = await call('POST', '/api/admin/zones', { ...as(who), body });
      expect({ status: res.status, error: res.json.error }, JSON.stringify(body)).toEqual({ status, error });
    }
  });

  it('sets a report schedule in lv_directory, audited; refuses a bad weekday', async () => {
    // (The demo data has Thursday, before the 5th, for 440.)
    expect((await call('POST', '/api/admin/schedule', { ...as('d440'), body: { code: '440', weekday: 3, monthDay: 6 } })).status).toBe(200);
    expect(await server.store.db('lv_directory').get('schedule:440')).toMatchObject({ type: 'schedule', weekday: 3, monthDay: 6 });
    const audit = await call<{ events: AuditEvent[] }>('GET', '/api/admin/audit?limit=1', as('p42'));
    expect(audit.json.events[0]).toMatchObject({ action: 'schedule.set', unit: '440', target: { kind: 'schedule', id: '440' } });
    expect((await call('POST', '/api/admin/schedule', { ...as('d440'), body: { code: '440', weekday: 8, monthDay: 5 } })).status).toBe(400);
    expect((await call('POST', '/api/admin/schedule', { ...as('d440'), body: { code: '49', weekday: 5, monthDay: 5 } })).status).toBe(403);
  });
});

describe('units import from the browser', () => {
  const CSV = [
    'code,name,level,parent',
    '18073,Xã Quang Vĩnh Mới,commune,440', // renamed
    '18079,Xã Trường Sơn,commune,440',
    '18100,Xã Thêm Mới,commune,440', // added
    '18082,Xã Yên Hồ,commune,42', // moved (under the province directly)
    '18103,,commune,440', // bad line
    '20335,Phường Tân Thạnh,commune,502' // outside 42
  ].join('\n');

  it('previews errors by line, renames, moves and additions, and writes nothing', async () => {
    const res = await call<UnitsPreview>('POST', '/api/admin/units/preview', { ...as('p42'), body: { csv: CSV } });
    expect(res.status).toBe(200);
    expect(res.json.errors.map((e) => e.line)).toEqual([6, 7]);
    expect(res.json.errors[1]!.message).toMatch(/outside your unit 42/);
    expect(res.json.renamed).toEqual([{ code: '18073', from: 'Xã Quang Vĩnh', to: 'Xã Quang Vĩnh Mới' }]);
    expect(res.json.moved).toEqual([{ code: '18082', name: 'Xã Yên Hồ', from: '440', to: '42' }]);
    expect(res.json.added.map((u) => u.code)).toEqual(['18100']);
    expect(res.json.removed).toEqual([]);
    expect(res.json.unchanged).toBe(1);
    const refused = await call<UnitsPreview>('POST', '/api/admin/units/import', { ...as('p42'), body: { csv: CSV } });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe('csv_errors');
    expect((await server.store.db<{ name: string }>('lv_directory').get('unit:18073')).name).toBe('Xã Quang Vĩnh');
  });

  it('imports a file without errors, audits it, and the district admin cannot import beside', async () => {
    const good = CSV.split('\n').slice(0, 5).join('\n');
    const res = await call<UnitsPreview & { written: Record<string, number> }>('POST', '/api/admin/units/import', { ...as('p42'), body: { csv: good } });
    expect(res.status).toBe(200);
    expect(res.json.written).toMatchObject({ created: 1, updated: 2, unchanged: 1, removed: 0 });
    expect((await server.store.db<{ name: string }>('lv_directory').get('unit:18073')).name).toBe('Xã Quang Vĩnh Mới');
    const audit = await call<{ events: AuditEvent[] }>('GET', '/api/admin/audit', as('p42'));
    expect(audit.json.events[0]).toMatchObject({ action: 'units.import', unit: '42', target: { kind: 'units-import' } });
    const beside = await call<UnitsPreview>('POST', '/api/admin/units/preview', { ...as('d440'), body: { csv: 'code,name,level,parent\n18082,Xã Yên Hồ,commune,440\n' } });
    // 18082 now lies under 42 directly, outside 440: taking it in is not the district's to do.
    expect(beside.json.errors).toHaveLength(1);
  });

  it('answers malformed and oversized bodies with 400 / 413 and a reason, never a 500', async () => {
    const cases: [Answer, number][] = [
      [await call('POST', '/api/admin/units/preview', { ...as('p42'), raw: '{"csv": ' }), 400],
      [await call('POST', '/api/admin/units/preview', { ...as('p42'), body: { csv: 42 } }), 400],
      [await call('POST', '/api/admin/units/preview', { ...as('p42'), body: { csv: 'x'.repeat(5 * 1024 * 1024) } }), 413],
      [await call('POST', '/api/admin/units/preview', { ...as('p42'), body: { csv: '' } }), 200],
      [await call('POST', '/api/admin/accounts', { ...as('p42'), body: { csv: 'x'.repeat(300 * 1024) } }), 413],
      [await call('POST', '/api/admin/zones', { ...as('p42'), raw: '[[[[' }), 400]
    ];
    for (const [res, status] of cases) {
      expect(res.status).toBe(status);
      if (status !== 200) expect(res.json.reason).toBeTruthy();
    }
    // A file of the whole country's size passes the limit (about 11,000 rows).
    const big = ['code,name,level,parent', ...Array.from({ length: 11_000 }, (_, i) => `${String(30000 + i)},Xã Số ${i} Có Tên Khá Dài Để Đo,commune,440`)].join('\n');
    const many = await call<UnitsPreview>('POST', '/api/admin/units/preview', { ...as('p42'), body: { csv: big } });
    expect(many.status).toBe(200);
    expect(many.json.added).toHaveLength(11_000);
  });

  it("a file with the admin's own unit is its whole subtree: what it leaves out is removed", async () => {
    const directory = server.store.db<{ code: string; name: string; parent: string }>('lv_directory');
    const inside = (await directory.list({ startkey: 'unit:18', endkey: 'unit:18\ufff0', include_docs: true })).rows
      .map((r) => r.doc!)
      .filter((u) => u.parent === '440');
    expect(inside.map((u) => u.code)).toContain('18100');
    const csv = ['code,name,level,parent', '440,Huyện Đức Thọ,district,42', ...inside.filter((u) => u.code !== '18100').map((u) => `${u.code},${u.name},commune,440`)].join('\n');
    const res = await call<UnitsPreview & { written: Record<string, number> }>('POST', '/api/admin/units/import', { ...as('d440'), body: { csv } });
    expect(res.status).toBe(200);
    expect(res.json.removed.map((u) => u.code)).toEqual(['18100']);
    expect(res.json.written.removed).toBe(1);
    await expect(directory.get('unit:18100')).rejects.toMatchObject({ statusCode: 404 });
  });
});
