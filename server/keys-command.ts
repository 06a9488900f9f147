/**
 * The signing keys' commands (server/keys.ts says what each state means). They work while servers
 * run, on either store (server/store/open.ts); a change reaches every running instance within a
 * second (server/shared-config.ts).
 *
 *   npm run keys:list
 *   npm run keys:rotate                       a new key signs from now on; the one before is retired (still verifies)
 *   npm run keys:rotate -- --key 4821         with SIGNING_KEYS: make a key of the ring active, once every instance runs that ring
 *   npm run keys:new                          with SIGNING_KEYS: print the ring with a new key, to give every instance
 *   npm run keys:retire -- --key 4821         a key signs nothing more (a next key not wanted); with a ring file, its secret is dropped
 *   npm run keys:revoke -- --key 4821 [--from 2026-11-20]
 *                                             a leaked key: its codes signed before the day stay genuine, the others
 *                                             show "chưa xác thực"; every venue under it is signed again, its events too
 */
import { parseArgs } from 'node:util';
import { base64urlnopad } from '@scure/base';
import { readConfig, type ServerConfig } from './config';
import { openStore } from './store/open';
import { DB, type Store } from './store/couch';
import { activeEntry, applyLifecycle, loadKeyring, newRingKey, readRingFile, ringFilePath, writeGenuineLists, writeRingFile, type Keyring, type LifecycleEntry } from './keys';
import { mergeKeys, readSharedConfig, writeSharedConfig, type SharedConfigDoc } from './shared-config';
import { Signer } from './signer';
import { signExposure } from '../src/lib/core/exposure/exposure-sign';
import { publicKeyOf } from '../src/lib/core/venue/venue-signing';
import { dayKey } from '../src/lib/core/time';
import type { PublishedExposureDoc } from './publisher';

const USAGE = `usage: npm run keys:list | keys:rotate [-- --key ID] | keys:new | keys:retire -- --key ID | keys:revoke -- --key ID [--from yyyy-mm-dd]`;

export class KeyCommandError extends Error {}

const NEW_KEY_FIRST = 'with SIGNING_KEYS, first make a key with npm run keys:new, give every instance the ring it prints, then npm run keys:rotate -- --key <its id>';

type KeyConfig = Pick<ServerConfig, 'signingKeys' | 'dataDir'>;

/** The store's record, changed by `change` and written; read again and changed again when another writer got there first. */
async function updateRecord(store: Store, change: (doc: SharedConfigDoc) => void): Promise<SharedConfigDoc> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const doc = await readSharedConfig(store);
    if (!doc) throw new KeyCommandError('the database has no signing keys recorded yet: start the server once first');
    change(doc);
    if (await writeSharedConfig(store, doc)) return doc;
  }
  throw new KeyCommandError('the signing keys kept changing under this command: run it again');
}

function entry(doc: SharedConfigDoc, id: string): LifecycleEntry {
  const found = doc.keys.find((k) => k.id === id);
  if (!found) throw new KeyCommandError(`the database knows no key ${id} (npm run keys:list shows them)`);
  return found;
}

/**
 * Makes a key active. Without `key` and with a ring file: a new key is made, added to the file and
 * made active in one go. With SIGNING_KEYS, `key` names a key of that ring (npm run keys:new made
 * it): every instance must run that ring first, or the ones without it keep signing with the old key.
 */
export async function rotateKey(store: Store, config: KeyConfig, key?: string): Promise<{ active: string; retired: string | null }> {
  let ring = loadKeyring(config);
  if (!key) {
    if (config.signingKeys) throw new KeyCommandError(NEW_KEY_FIRST);
    const file = ringFilePath(config.dataDir);
    const current = readRingFile(file);
    const recorded = (await readSharedConfig(store))?.keys.map((k) => k.id) ?? [];
    const added = newRingKey([...current.keys.map((k) => k.id), ...recorded]);
    writeRingFile(file, { active: added.id, keys: [...current.keys, added] });
    ring = loadKeyring(config);
    key = added.id;
  }
  const secret = ring.secrets.get(key);
  if (!secret) throw new KeyCommandError(`${ring.source} holds no secret for key ${key}: it cannot sign`);
  const publicKey = base64urlnopad.encode(publicKeyOf(secret).publicKey);
  let retired: string | null = null;
  await updateRecord(store, (doc) => {
    const known = doc.keys.find((k) => k.id === key);
    if (known && known.publicKey !== publicKey) throw new KeyCommandError(`key ${key} of ${ring.source} is not the key ${key} the database records`);
    if (known?.state === 'revoked') throw new KeyCommandError(`key ${key} is revoked: it never signs again`);
    if (known?.state === 'active') throw new KeyCommandError(`key ${key} is already the active key`);
    const now = new Date().toISOString();
    const before = activeEntry(doc.keys);
    retired = before?.id ?? null;
    doc.keys = doc.keys.map((k) => (k.id === before?.id ? { ...k, state: 'retired', retiredAt: now } : k.id === key ? { ...k, state: 'active', activeAt: now } : k));
    if (!known) doc.keys.push({ id: key!, publicKey, state: 'active', createdAt: now, activeAt: now });
  });
  if (!config.signingKeys) {
    const file = ringFilePath(config.dataDir);
    writeRingFile(file, { ...readRingFile(file), active: key });
  }
  return { active: key, retired };
}

/** With SIGNING_KEYS: the ring with one key more (not active), for the operator to give every instance. */
export function newKeyRing(config: KeyConfig): string {
  const ring = loadKeyring(config);
  if (!config.signingKeys) throw new KeyCommandError('with a ring file, npm run keys:rotate makes the new key and rotates to it in one go');
  const current = JSON.parse(config.signingKeys) as { active: string; keys: unknown[] };
  const added = newRingKey(ring.publicKeys.map((k) => k.id));
  return JSON.stringify({ active: current.active, keys: [...current.keys, added] });
}

/** With a ring file, a key that signs no more loses its secret there: only its public key stays. */
function dropSecret(config: KeyConfig, key: string): void {
  if (config.signingKeys) return;
  const file = ringFilePath(config.dataDir);
  const ring = readRingFile(file);
  const ringKeys = loadKeyring(config);
  const pub = ringKeys.publicKeys.find((k) => k.id === key);
  if (!pub || ring.active === key) return;
  writeRingFile(file, { ...ring, keys: ring.keys.map((k) => (k.id === key ? { id: k.id, publicKey: base64urlnopad.encode(pub.publicKey), ...(k.createdAt ? { createdAt: k.createdAt } : {}) } : k)) });
}

export async function retireKey(store: Store, config: KeyConfig, key: string): Promise<void> {
  await updateRecord(store, (doc) => {
    const found = entry(doc, key);
    if (found.state === 'active') throw new KeyCommandError(`key ${key} is the active key: rotate to another first (npm run keys:rotate)`);
    if (found.state === 'revoked') throw new KeyCommandError(`key ${key} is revoked already`);
    doc.keys = doc.keys.map((k) => (k.id === key ? { ...k, state: 'retired', retiredAt: k.retiredAt ?? new Date().toISOString() } : k));
  });
  dropSecret(config, key);
}

/**
 * Revokes a key as of a day: lists its genuine codes (before they leave the store), marks it
 * revoked (every instance stops trusting it within a second), signs again every venue whose code
 * is under it, and every published exposure event it signed.
 */
export async function revokeKey(store: Store, config: KeyConfig, key: string, from: string = dayKey(Date.now())): Promise<{ codes: number; communes: number; venues: number; events: number }> {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(from) || Number.isNaN(Date.parse(`${from}T00:00:00+07:00`))) throw new KeyCommandError(`--from takes a day as yyyy-mm-dd, not "${from}"`);
  if (from > dayKey(Date.now())) throw new KeyCommandError(`--from ${from} is in the future: a revocation starts today at the latest`);
  const recorded = await readSharedConfig(store);
  if (!recorded) throw new KeyCommandError('the database has no signing keys recorded yet: start the server once first');
  const found = entry(recorded, key);
  if (found.state === 'active') throw new KeyCommandError(`key ${key} is the active key: rotate to a new one first (npm run keys:rotate), then revoke it`);
  const keyring = loadKeyring(config);
  const active = activeEntry(recorded.keys);
  if (!active || !keyring.secrets.has(active.id)) throw new KeyCommandError(`${keyring.source} holds no secret of the active key ${active?.id ?? '(none)'}: run this command with the keyring the servers use`);

  const listed = await writeGenuineLists(store, key, from);
  const doc = await updateRecord(store, (d) => {
    const now = new Date().toISOString();
    d.keys = d.keys.map((k) => (k.id === key ? { ...k, state: 'revoked', revokedFrom: from, revokedAt: now, ...(k.retiredAt ? {} : { retiredAt: now }) } : k));
  });
  dropSecret(config, key);
  applyLifecycle(keyring, mergeKeys(keyring, doc.keys).keys);
  const venues = await resignVenues(store, keyring);
  const events = await resignEvents(store, keyring, key);
  return { ...listed, venues, events };
}

/** Every commune's venues through the signer's own rule (needsSigning), as a server's start-up sweep does. */
async function resignVenues(store: Store, keyring: Keyring): Promise<number> {
  const signer = new Signer(store, keyring, (msg) => console.error(msg));
  const dbs = (await store.couch.db.list()).filter((name) => /^lv_c_[0-9]{5}$/.test(name));
  let signed = 0;
  for (const name of dbs) {
    // A running server may hold the commune's lease (signing a push): wait for it, up to a minute.
    let done: number | null = null;
    for (let attempt = 0; done === null && attempt < 60; attempt++) {
      done = await signer.signCommune(name.slice(5));
      if (done === null) await new Promise((r) => setTimeout(r, 1000));
    }
    if (done === null) throw new Error(`commune ${name.slice(5)} stayed held by a running server for a minute: run the command again`);
    signed += done;
  }
  signer.stop();
  return signed;
}

/**
 * Published events signed by the revoked key, signed again as they are (same version, same
 * publishing time: the snapshots, signed afresh anyway, do not change; apps of the per-event list
 * get them under the active key).
 */
async function resignEvents(store: Store, keyring: Keyring, revoked: string): Promise<number> {
  const docs = ((await store.docsByPrefix<PublishedExposureDoc>(DB.exposures, 'exp:')) ?? []).filter((d) => d.signed?.keyId === revoked);
  if (!docs.length) return 0;
  const changed = docs.map((d) => ({ ...d, signed: signExposure(d.signed.event, keyring.active) }));
  // A conflict is an event published meanwhile: the publisher signed that version with the active key.
  await store.request('POST', `${DB.exposures}/_bulk_docs`, { body: { docs: changed } });
  return changed.length;
}

export function describeKeys(doc: SharedConfigDoc): string {
  const lines = doc.keys.map((k) => {
    const when = k.state === 'revoked' ? `revoked ${k.revokedAt?.slice(0, 10)}, untrusted from ${k.revokedFrom}` : k.state === 'retired' ? `retired ${k.retiredAt?.slice(0, 10) ?? ''}` : k.state === 'active' ? `active since ${(k.activeAt ?? k.createdAt).slice(0, 10)}` : `next (published, signs nothing yet)`;
    return `  ${k.id}  ${k.state.padEnd(8)} ${when}`;
  });
  return `signing keys:\n${lines.join('\n')}`;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv.filter((a) => a !== '--');
  let values;
  try {
    ({ values } = parseArgs({ args: rest, options: { key: { type: 'string' }, from: { type: 'string' } } }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.key !== undefined && !/^[1-9][0-9]{3}$/.test(values.key)) {
    console.error(`--key takes a key id (4 digits), not "${values.key}"\n${USAGE}`);
    return 2;
  }
  if ((command === 'retire' || command === 'revoke') && !values.key) {
    console.error(`${command} needs --key\n${USAGE}`);
    return 2;
  }
  const config = readConfig();
  if (command === 'new') {
    try {
      const ring = newKeyRing(config);
      console.log(`The ring with a new key (not active yet). Give every instance this SIGNING_KEYS, restart each, then run npm run keys:rotate -- --key ${(JSON.parse(ring) as { keys: { id: string }[] }).keys.at(-1)!.id}:\n\n${ring}`);
      return 0;
    } catch (err) {
      console.error((err as Error).message);
      return 1;
    }
  }
  if (!['list', 'rotate', 'retire', 'revoke'].includes(command ?? '')) {
    console.error(USAGE);
    return 2;
  }
  if (command === 'rotate' && !values.key && config.signingKeys) {
    console.error(NEW_KEY_FIRST);
    return 1;
  }
  const { store, close } = await openStore(config);
  try {
    if (command === 'rotate') {
      const { active, retired } = await rotateKey(store, config, values.key);
      console.log(`key ${active} signs new codes and events from now on${retired ? `; key ${retired} is retired (its posters still verify)` : ''}`);
    } else if (command === 'retire') {
      await retireKey(store, config, values.key!);
      console.log(`key ${values.key} is retired: it signs nothing, its codes still verify`);
    } else if (command === 'revoke') {
      const r = await revokeKey(store, config, values.key!, values.from);
      console.log(
        `key ${values.key} is revoked: ${r.codes} codes signed before ${values.from ?? 'today'} stay genuine (listed in ${r.communes} communes); any other code under it shows "chưa xác thực". ${r.venues} venues signed again (print their new posters), ${r.events} exposure events signed again.`
      );
    }
    const doc = await readSharedConfig(store);
    if (doc) console.log(describeKeys(doc));
    else console.log('no signing keys recorded yet: start the server once');
    return 0;
  } catch (err) {
    if (err instanceof KeyCommandError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  } finally {
    await close();
  }
}
