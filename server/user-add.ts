/**
 * `npm run user:add -- --phone 0912345678 --role team --communes 18070,18073 [--name "…"] [--password …]`
 * Creates a commune team or admin account (venue owners register themselves in the app).
 * Without --password a random one is made and printed once.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { normalizePhone } from '../src/lib/core/station-scan';
import { PASSWORD_MIN_LENGTH, type Role } from './auth';
import { readConfig } from './config';
import { communeDbName } from './store/couch';
import { openStore } from './store/open';
import { createUser, PhoneTakenError } from './users';
import { passwordTooShort } from '../src/lib/core/password';

const USAGE = 'usage: npm run user:add -- --phone 09xxxxxxxx --role team|admin|owner [--communes 18070,18073] [--unit 42] [--name "Họ tên"] [--password …]';

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { phone: { type: 'string' }, role: { type: 'string' }, communes: { type: 'string' }, unit: { type: 'string' }, name: { type: 'string' }, password: { type: 'string' } }
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const phone = normalizePhone(values.phone ?? '');
  const role = values.role as Role | undefined;
  const communes = (values.communes ?? '').split(',').map((c) => c.trim()).filter(Boolean);
  if (!phone || !role || !['team', 'admin', 'owner'].includes(role)) {
    console.error(`a Vietnamese mobile number and a role are required\n${USAGE}`);
    return 2;
  }
  if (role === 'team' && communes.length === 0) {
    console.error(`a team account needs --communes (5-digit commune codes)\n${USAGE}`);
    return 2;
  }
  const bad = communes.filter((c) => !/^[0-9]{5}$/.test(c));
  if (bad.length) {
    console.error(`not commune codes: ${bad.join(', ')}`);
    return 2;
  }
  const password = values.password ?? randomBytes(9).toString('base64url');
  if (passwordTooShort(password)) {
    console.error(`the password needs at least ${PASSWORD_MIN_LENGTH} characters`);
    return 2;
  }
  const { store, close } = await openStore(readConfig());
  try {
    for (const code of communes) await store.ensureCommuneDb(code);
    const user = await createUser(store, { phone, password, role, communes, unit: values.unit, name: values.name });
    console.log(`created ${role} ${user.userId} for ${phone}${communes.length ? ` (communes ${communes.map(communeDbName).join(', ')})` : ''}`);
    if (!values.password) console.log(`password: ${password}   (shown once: pass it on safely)`);
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
