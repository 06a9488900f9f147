/**
 * `npm run user:add -- --phone 0912345678 --role team --communes 18070,18073 [--name "…"] [--position "…"] [--password …]`
 * `npm run user:add -- --phone 0912000042 --role admin --unit 42 --name "…" [--position "…"]`
 * Creates a commune team or admin account (venue owners register themselves in the app; later
 * accounts are made by an admin in /admin). Without --password a one-time password is made and
 * printed once; the account must choose its own at first login. Works while the server runs, on
 * either store (server/store/open.ts).
 */
import { parseArgs } from 'node:util';
import { normalizePhone } from '../src/lib/core/venue/station-scan';
import { cleanLine } from '../src/lib/core/text';
import { PASSWORD_MIN_LENGTH, type Role } from './auth';
import { readConfig } from './config';
import { communeDbName, DB, getOrNull } from './store/couch';
import { openStore } from './store/open';
import { createUser, oneTimePassword, PhoneTakenError } from './users';
import { passwordTooShort } from '../src/lib/core/password';
import { unitDocId, type UnitDoc } from '../src/lib/core/units';

const USAGE =
  'usage: npm run user:add -- --phone 09xxxxxxxx --role team|admin|owner [--communes 18070,18073] [--unit 42] [--name "Họ tên"] [--position "Chức vụ"] [--password …]';

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv.filter((a) => a !== '--'),
      options: {
        phone: { type: 'string' },
        role: { type: 'string' },
        communes: { type: 'string' },
        unit: { type: 'string' },
        name: { type: 'string' },
        position: { type: 'string' },
        password: { type: 'string' }
      }
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const phone = normalizePhone(values.phone ?? '');
  const role = values.role as Role | undefined;
  const communes = (values.communes ?? '').split(',').map((c) => c.trim()).filter(Boolean);
  const unit = values.unit?.trim() || undefined;
  const name = cleanLine(values.name ?? '');
  const position = cleanLine(values.position ?? '');
  if (!phone || !role || !['team', 'admin', 'owner'].includes(role)) {
    console.error(`a Vietnamese mobile number and a role are required\n${USAGE}`);
    return 2;
  }
  if (role === 'team' && communes.length === 0) {
    console.error(`a team account needs --communes (5-digit commune codes)\n${USAGE}`);
    return 2;
  }
  if (role === 'admin' && !unit) {
    console.error(`an admin account needs --unit (a province or district code of the directory)\n${USAGE}`);
    return 2;
  }
  if (role !== 'admin' && unit) {
    console.error('--unit is for admin accounts only');
    return 2;
  }
  const bad = communes.filter((c) => !/^[0-9]{5}$/.test(c));
  if (bad.length) {
    console.error(`not commune codes: ${bad.join(', ')}`);
    return 2;
  }
  if (name.length > 100 || position.length > 100) {
    console.error('--name and --position take at most 100 characters');
    return 2;
  }
  const password = values.password ?? oneTimePassword();
  if (passwordTooShort(password)) {
    console.error(`the password needs at least ${PASSWORD_MIN_LENGTH} characters`);
    return 2;
  }
  const { store, where, close } = await openStore(readConfig());
  try {
    const directory = store.db<UnitDoc>(DB.directory);
    if (unit) {
      const found = (await getOrNull(directory, unitDocId(unit))) as UnitDoc | null;
      if (found?.type !== 'unit' || found.level === 'commune') {
        console.error(`unit ${unit} is not a province or district of the directory (import the units first: npm run units:import)`);
        return 1;
      }
    }
    for (const code of communes) {
      const found = (await getOrNull(directory, unitDocId(code))) as UnitDoc | null;
      if (found?.type !== 'unit' || found.level !== 'commune') {
        console.error(`commune ${code} is not in the directory (import the units first: npm run units:import)`);
        return 1;
      }
    }
    for (const code of communes) await store.ensureCommuneDb(code);
    const user = await createUser(store, { phone, password, role, communes, unit, name, position, mustChangePassword: !values.password });
    const via = where === 'server' ? ' (through the running server’s store)' : '';
    console.log(`created ${role} ${user.userId} for ${phone}${communes.length ? ` (communes ${communes.map(communeDbName).join(', ')})` : ''}${unit ? ` (unit ${unit})` : ''}${via}`);
    if (!values.password) console.log(`one-time password: ${password}   (shown once: pass it on safely; it must be changed at first login)`);
    return 0;
  } catch (err) {
    if (err instanceof PhoneTakenError) {
      console.error(`${phone} already has an account`);
      return 1;
    }
    throw err;
  } finally {
    await close();
  }
}
