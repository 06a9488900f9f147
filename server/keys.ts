/**
 * The signing keys: venue codes, exposure events and snapshots are signed with them.
 *
 * Two halves, kept apart on purpose:
 * - the ring (secrets): SIGNING_KEYS when set (several servers must share it), else
 *   DATA_DIR/signing-keys.json, made on first start (readable by the owner only). An entry holds a
 *   key's secret, or only its public key once the secret is no longer needed (retired, revoked);
 * - the lifecycle (public): which key is `active` (signs), which are `next` (published ahead,
 *   sign nothing yet), `retired` (sign nothing, still verify) or `revoked` as of a day. It lives in
 *   the store (lv_users `config:shared`, server/shared-config.ts), so that a rotation reaches every
 *   instance within a second without a restart, and is published to phones in /api/keys.
 *   The ring's own `active` seeds it on the first start only.
 *
 * Rotating (npm run keys:rotate): a new key becomes active, the one before it retired; printed
 * posters keep verifying, new codes and events are signed with the new key. Nothing is re-signed.
 *
 * Revoking a leaked key (npm run keys:revoke -- --key 1234 --from 2026-11-20): a venue token has no
 * date, and whoever holds the key can sign any claims, so a phone cannot tell a genuine old poster
 * from a forged one by the token. The server can: it knows every code it signed (venue documents
 * carry keyId and signedAt). At revocation it lists the genuine ones, the current codes under that
 * key signed before the day, as digests (codeDigest: 12 bytes of SHA-256 over the signed message
 * and signature), one list per commune (lv_users `genuine:<keyId>:<commune>`, served at
 * /api/keys/<keyId>/genuine/<commune>). A phone fetches the list of a commune only when it meets a
 * code of that key from that commune; a code not listed is "chưa xác thực". Then every venue whose
 * code is under the key is re-signed with the active key (needsSigning), and the events it signed
 * are signed again; phones refuse events and snapshots under a revoked key whatever they claim.
 *
 * Size at the scale of DESIGN §8 (10^6 venues, about 10^4 communes, so about 100 venues each):
 * 16 base64url characters a code, so at worst (the key signed every venue) 16 MB in the store over
 * 10^4 documents, 1.6 KB for a commune of 100 venues (about 1.3 KB gzip: digests do not compress),
 * 80 KB for a town of 5,000. A phone downloads a commune's list only for a code it scans or holds,
 * and keeps it. The key document grows by one field a revoked key.
 * Why 12 bytes: to pass a forged code, the holder of the key must find claims and a signature whose
 * digest is one of the commune's n listed ones: 2^96 / n tries, 2^84 for a commune of 4,096 codes.
 */
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { base64urlnopad } from '@scure/base';
import * as v from 'valibot';
import { encodeKeysDocument, type KeysDocument, type KeyState } from '../src/lib/core/keys';
import { KEY_ID_PATTERN, parseVenueToken, type PublicKey, type SigningKey } from '../src/lib/core/venue/venue-token';
import { codeDigest } from '../src/lib/core/venue/genuine-codes';
import { newSigningKey, publicKeyOf } from '../src/lib/core/venue/venue-signing';
import type { VenueRecord } from '../src/lib/core/documents';
import { DB, type Store } from './store/couch';

const KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;

const RingFile = v.object({
  active: v.pipe(v.string(), v.regex(KEY_ID_PATTERN)),
  keys: v.pipe(
    v.array(
      v.pipe(
        v.object({
          id: v.pipe(v.string(), v.regex(KEY_ID_PATTERN)),
          secretKey: v.optional(v.pipe(v.string(), v.regex(KEY_TEXT))),
          publicKey: v.optional(v.pipe(v.string(), v.regex(KEY_TEXT))),
          createdAt: v.optional(v.string())
        }),
        v.check((k) => !!k.secretKey || !!k.publicKey, 'a key needs its secretKey (or, once it signs no more, its publicKey)')
      )
    ),
    v.minLength(1),
    v.check((keys) => new Set(keys.map((k) => k.id)).size === keys.length, 'two keys have the same id')
  )
});
export type RingFile = v.InferOutput<typeof RingFile>;

/** A key's place in its life, as the store records it and /api/keys publishes it. */
export interface LifecycleEntry {
  id: string;
  publicKey: string;
  state: KeyState;
  /** when the key was first recorded; when it became active, retired, revoked (ISO times) */
  createdAt: string;
  activeAt?: string;
  retiredAt?: string;
  revokedAt?: string;
  /** for a revoked key: the day (yyyy-mm-dd, Vietnam time) from which nothing it signed is trusted by itself */
  revokedFrom?: string;
}

/**
 * The keys of this instance. One object for the life of the server, changed in place when the
 * lifecycle changes (a rotation on another instance): the signer, the publisher and the snapshots
 * read `active` each time they sign.
 */
export interface Keyring {
  active: SigningKey;
  /** every key of the lifecycle, revoked ones with revokedFrom set */
  publicKeys: PublicKey[];
  lifecycle: LifecycleEntry[];
  /** the secrets this instance holds, by key id */
  secrets: Map<string, SigningKey>;
  /** where the ring came from, for messages: SIGNING_KEYS or the file's path */
  source: string;
  /** the ring file, when the ring is one (re-read when the lifecycle names a key this instance lacks) */
  file: string | null;
}

export function ringFilePath(dataDir: string): string {
  return path.join(dataDir, 'signing-keys.json');
}

export function parseRing(text: string, source: string): RingFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${source} is not valid JSON`);
  }
  const result = v.safeParse(RingFile, json);
  if (!result.success) throw new Error(`${source}: ${result.issues[0].message} at ${v.getDotPath(result.issues[0]) ?? 'top'}`);
  const active = result.output.keys.find((k) => k.id === result.output.active);
  if (!active) throw new Error(`${source}: the active key ${result.output.active} is not in the ring`);
  if (!active.secretKey) throw new Error(`${source}: the active key ${result.output.active} has no secretKey, so it cannot sign`);
  return result.output;
}

function ringKeys(file: RingFile): { secrets: Map<string, SigningKey>; publicKeys: PublicKey[] } {
  const secrets = new Map<string, SigningKey>();
  const publicKeys: PublicKey[] = [];
  for (const k of file.keys) {
    if (k.secretKey) {
      const key = { id: k.id, secretKey: base64urlnopad.decode(k.secretKey) };
      secrets.set(k.id, key);
      const pub = publicKeyOf(key);
      if (k.publicKey && k.publicKey !== base64urlnopad.encode(pub.publicKey)) throw new Error(`key ${k.id}: its publicKey is not the public key of its secretKey`);
      publicKeys.push(pub);
    } else publicKeys.push({ id: k.id, publicKey: base64urlnopad.decode(k.publicKey!) });
  }
  return { secrets, publicKeys };
}

/** A lifecycle as the ring alone says it (before the store is read): its active key, the others retired. */
function lifecycleOfRing(file: RingFile, publicKeys: PublicKey[]): LifecycleEntry[] {
  const now = new Date().toISOString();
  return publicKeys.map((k) => ({
    id: k.id,
    publicKey: base64urlnopad.encode(k.publicKey),
    state: k.id === file.active ? 'active' : 'retired',
    createdAt: file.keys.find((f) => f.id === k.id)?.createdAt ?? now
  }));
}

export function keyringOf(file: RingFile, source: string, ringFile: string | null = null): Keyring {
  const { secrets, publicKeys } = ringKeys(file);
  return { active: secrets.get(file.active)!, publicKeys, lifecycle: lifecycleOfRing(file, publicKeys), secrets, source, file: ringFile };
}

/** A key id not in use: 4 digits, the first not 0. */
export function newKeyId(taken: Iterable<string>): string {
  const used = new Set(taken);
  for (;;) {
    const id = String(randomInt(1000, 10000));
    if (!used.has(id)) return id;
  }
}

export function newRingKey(taken: Iterable<string> = []): RingFile['keys'][number] {
  const key = newSigningKey(newKeyId(taken));
  return { id: key.id, secretKey: base64urlnopad.encode(key.secretKey), createdAt: new Date().toISOString() };
}

export function newKeyringFile(): RingFile {
  const key = newRingKey();
  return { active: key.id, keys: [key] };
}

export function readRingFile(file: string): RingFile {
  return parseRing(readFileSync(file, 'utf8'), file);
}

/** Writes the ring file whole or not at all (a crash midway leaves the old one). */
export function writeRingFile(file: string, ring: RingFile): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(ring, null, 2) + '\n', { mode: 0o600 });
  renameSync(temp, file);
}

export function loadKeyring(opts: { signingKeys: string | null; dataDir: string }): Keyring {
  if (opts.signingKeys) return keyringOf(parseRing(opts.signingKeys, 'SIGNING_KEYS'), 'SIGNING_KEYS');
  const file = ringFilePath(opts.dataDir);
  if (!existsSync(file)) {
    mkdirSync(opts.dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(newKeyringFile(), null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  }
  return keyringOf(readRingFile(file), file, file);
}

export function activeEntry(lifecycle: readonly LifecycleEntry[]): LifecycleEntry | undefined {
  return lifecycle.find((e) => e.state === 'active');
}

/**
 * Takes a lifecycle from the store into the keyring, in place. When the active key is one whose
 * secret this instance lacks, a ring file is read again first (a rotation on this machine added
 * it); failing that, the instance keeps signing with the key it has and says so: its codes still
 * verify unless that key is revoked, and the other instances sign with the right one.
 */
export function applyLifecycle(keyring: Keyring, lifecycle: LifecycleEntry[], log: (msg: string) => void = () => {}): void {
  const active = activeEntry(lifecycle);
  if (active && !keyring.secrets.has(active.id) && keyring.file) {
    try {
      const { secrets } = ringKeys(readRingFile(keyring.file));
      for (const [id, key] of secrets) if (!keyring.secrets.has(id)) keyring.secrets.set(id, key);
    } catch (err) {
      log(`signing keys: ${(err as Error).message}`);
    }
  }
  keyring.lifecycle = lifecycle;
  keyring.publicKeys = lifecycle.map((e) => ({
    id: e.id,
    publicKey: base64urlnopad.decode(e.publicKey),
    ...(e.state === 'revoked' ? { revokedFrom: e.revokedFrom ?? '1970-01-01' } : {})
  }));
  if (!active) return;
  const secret = keyring.secrets.get(active.id);
  if (secret) keyring.active = secret;
  else if (keyring.active.id !== active.id) log(`signing keys: the active key is ${active.id} but ${keyring.source} lacks its secret; this instance signs with key ${keyring.active.id} until it is restarted with the current keyring`);
}

export function publicKeysDocument(keyring: Keyring): KeysDocument {
  const active = activeEntry(keyring.lifecycle)?.id ?? keyring.active.id;
  const states = new Map(keyring.lifecycle.map((e) => [e.id, e.state]));
  return encodeKeysDocument(
    active,
    keyring.publicKeys.map((k) => ({ ...k, state: states.get(k.id) }))
  );
}

/** Whether a key signs nothing a phone trusts by itself any more. */
export function isRevoked(keyring: Keyring, keyId: string): boolean {
  return keyring.lifecycle.some((e) => e.id === keyId && e.state === 'revoked');
}

/** The genuine codes of a revoked key in one commune: lv_users `genuine:<keyId>:<commune>`. */
export interface GenuineDoc {
  _id: string;
  _rev?: string;
  type: 'genuine-codes';
  schema: 1;
  keyId: string;
  communeCode: string;
  revokedFrom: string;
  /** 16-character digests end to end (codeDigest) */
  digests: string;
}

export function genuineDocId(keyId: string, communeCode: string): string {
  return `genuine:${keyId}:${communeCode}`;
}

/** The first moment of a day in Vietnam time (UTC+7). */
export function startOfVietnamDay(day: string): number {
  return Date.parse(`${day}T00:00:00+07:00`);
}

/**
 * Lists, commune by commune, the current codes signed by `keyId` before the day: what phones will
 * accept of that key from now on. Run before those venues are re-signed (their codes then leave
 * the store). Returns how many codes were listed, and in how many communes.
 */
export async function writeGenuineLists(store: Store, keyId: string, revokedFrom: string): Promise<{ codes: number; communes: number }> {
  const before = startOfVietnamDay(revokedFrom);
  const dbs = (await store.couch.db.list()).filter((name) => /^lv_c_[0-9]{5}$/.test(name));
  let codes = 0;
  let communes = 0;
  for (const db of dbs) {
    const communeCode = db.slice(5);
    const venues = ((await store.docsByPrefix<VenueRecord>(db, 'venue:')) ?? []).filter((d) => d.type === 'venue' && d.token);
    const digests: string[] = [];
    for (const venue of venues) {
      const parsed = parseVenueToken(venue.token!);
      if (!parsed.ok || parsed.keyId !== keyId || parsed.claims.communeCode !== communeCode) continue;
      // A code without its signing time is from before signedAt was kept: older than any day given.
      if (venue.signedAt && !(Date.parse(venue.signedAt) < before)) continue;
      const digest = await codeDigest(parsed);
      if (digest) digests.push(digest);
    }
    const id = genuineDocId(keyId, communeCode);
    const existing = await store.request('GET', `${DB.users}/${encodeURIComponent(id)}`);
    const rev = existing.status === 200 ? (existing.body as { _rev: string })._rev : undefined;
    if (!digests.length && !rev) continue;
    const doc: GenuineDoc = { _id: id, ...(rev ? { _rev: rev } : {}), type: 'genuine-codes', schema: 1, keyId, communeCode, revokedFrom, digests: [...new Set(digests)].sort().join('') };
    const res = await store.request('PUT', `${DB.users}/${encodeURIComponent(id)}`, { body: doc });
    if (res.status >= 300) throw new Error(`writing the genuine codes of commune ${communeCode} answered ${res.status}`);
    codes += digests.length;
    communes += 1;
  }
  return { codes, communes };
}

/** What /api/keys/<keyId>/genuine/<commune> answers; an empty list when the key signed nothing there before the day. */
export async function genuineList(store: Store, keyId: string, communeCode: string): Promise<{ keyId: string; communeCode: string; digests: string }> {
  const res = await store.request('GET', `${DB.users}/${encodeURIComponent(genuineDocId(keyId, communeCode))}`);
  const doc = res.status === 200 ? (res.body as GenuineDoc) : null;
  return { keyId, communeCode, digests: doc?.type === 'genuine-codes' ? doc.digests : '' };
}
