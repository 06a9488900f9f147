/**
 * Signing keys over years on a running pair of instances sharing one store (server/keys.ts,
 * server/shared-config.ts, server/keys-command.ts): a rotation reaches both without a restart, old
 * posters keep verifying, new venues get the new key; a revocation lists the genuine codes, re-signs
 * the venues and leaves every other code of the key unverified; an instance whose keyring, session
 * secret or public origin differs from the others' refuses to start, in words.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64urlnopad } from '@scure/base';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { newKeyringFile, ringFilePath } from '../../server/keys';
import { newKeyRing, retireKey, revokeKey, rotateKey } from '../../server/keys-command';
import { decodeKeysDocument, type KeysDocument } from '../../src/lib/core/keys';
import { codeDigest, decodeGenuineList } from '../../src/lib/core/venue/genuine-codes';
import { extractVenueToken, parseVenueToken, verifyVenueToken, type PublicKey } from '../../src/lib/core/venue/venue-token';
import { signVenueToken } from '../../src/lib/core/venue/venue-signing';
import { verifySnapshot } from '../../src/lib/core/exposure/snapshot-format';
import type { VenueRecord } from '../../src/lib/core/documents';
import { dayKey, DAY } from '../../src/lib/core/time';
import { localDb, register, remoteDb, venueDoc } from './sync-helpers';

const COMMUNE = '18070';
const DB_C = `lv_c_${COMMUNE}`;

let dir: string;
let env: Record<string, string>;
let a: RunningServer;
let b: RunningServer;
let storeUrl: string;
let firstKey: string;
/** a demo poster's code, printed before any rotation */
let poster: string;

const keysDoc = async (server: RunningServer): Promise<KeysDocument> => (await fetch(`${server.url}/api/keys`)).json() as Promise<KeysDocument>;

/** The key list as a phone holds it, the revoked keys' commune lists fetched from the server as the phone does. */
async function phoneKeys(server: RunningServer): Promise<PublicKey[]> {
  const keys = decodeKeysDocument(await keysDoc(server))!;
  return keys.map((k) =>
    k.revokedFrom === undefined
      ? k
      : {
          ...k,
          genuine: async (commune: string) => {
            const res = await fetch(`${server.url}/api/keys/${k.id}/genuine/${commune}`);
            return res.ok ? decodeGenuineList(await res.json(), k.id, commune) : null;
          }
        }
  );
}

async function verify(token: string, server: RunningServer) {
  const parsed = parseVenueToken(token);
  if (!parsed.ok) throw new Error(parsed.reason);
  return verifyVenueToken(parsed, await phoneKeys(server));
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const found = await probe();
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never: ${what}`);
}

const venueOf = async (server: RunningServer, venueId: string) => (await server.store.request('GET', `${DB_C}/venue:${venueId}`)).body as VenueRecord;

const config = () => ({ signingKeys: null, dataDir: env.DATA_DIR! });

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'lv-keys-'));
  env = { PORT: '0', DATA_DIR: path.join(dir, 'data'), LOG: '0', STATIC_DIR: path.join(dir, 'none') };
  a = await startServer(await testServerConfig(env));
  storeUrl = String((a.store.couch as unknown as { config: { url: string } }).config.url).replace(/\/+$/, '');
  // The second instance shares the first's DATA_DIR, so its ring file and session secret: one keyring for both.
  b = await startServer(await testServerConfig({ ...env, COUCHDB_URL: storeUrl }));
  firstKey = (await keysDoc(a)).active;
  poster = extractVenueToken(a.demoVenues[0]!.url)!;
});

afterAll(async () => {
  await b?.close();
  await a?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('configuration every instance must share', () => {
  const refused = async (extra: Record<string, string>) => {
    const err = await startServer(await testServerConfig({ ...env, COUCHDB_URL: storeUrl, ...extra })).then(
      async (s) => {
        await s.close();
        return null;
      },
      (e: Error) => e
    );
    expect(err, 'the instance started').toBeInstanceOf(Error);
    return err!.message;
  };

  it('refuses an instance with another keyring, in words', async () => {
    // Another key under the id the others use.
    const ring = newKeyringFile();
    const sameId = { active: firstKey, keys: [{ ...ring.keys[0]!, id: firstKey }] };
    expect(await refused({ SIGNING_KEYS: JSON.stringify(sameId) })).toMatch(new RegExp(`signing key ${firstKey} in SIGNING_KEYS is not the key ${firstKey} the other instances use.*same keyring`));
    // A ring without the active key.
    const other = ring.keys[0]!.id === firstKey ? newKeyringFile() : ring;
    expect(await refused({ SIGNING_KEYS: JSON.stringify(other) })).toMatch(new RegExp(`the database says key ${firstKey} signs, but SIGNING_KEYS does not hold its secret`));
    // Neither left a trace: the keys published are the pair's.
    expect((await keysDoc(a)).keys.map((k) => k.id)).toEqual([firstKey]);
  });

  it('refuses another session secret, and never stores the secret itself', async () => {
    const secret = randomBytes(32).toString('base64url');
    expect(await refused({ SESSION_SECRET: secret })).toMatch(/session secret .* is not the one the other instances use/);
    const record = JSON.stringify((await a.store.request('GET', 'lv_users/config:shared')).body);
    expect(record).not.toContain(readFileSync(path.join(env.DATA_DIR!, 'session-secret'), 'utf8').trim());
    expect(record).not.toContain(secret);
  });

  it('records the public origin, refuses another, and takes a new one only when told', async () => {
    const first = await startServer(await testServerConfig({ ...env, COUCHDB_URL: storeUrl, PUBLIC_ORIGIN: 'https://luuvet.example.vn' }));
    await first.close();
    expect(await refused({ PUBLIC_ORIGIN: 'https://other.example.vn' })).toMatch(/PUBLIC_ORIGIN is https:\/\/other\.example\.vn but the other instances print posters for https:\/\/luuvet\.example\.vn/);
    process.env.ACCEPT_NEW_PUBLIC_ORIGIN = '1';
    try {
      const moved = await startServer(await testServerConfig({ ...env, COUCHDB_URL: storeUrl, PUBLIC_ORIGIN: 'https://other.example.vn' }));
      await moved.close();
    } finally {
      delete process.env.ACCEPT_NEW_PUBLIC_ORIGIN;
    }
    expect(await refused({ PUBLIC_ORIGIN: 'https://luuvet.example.vn' })).toMatch(/print posters for https:\/\/other\.example\.vn/);
  });
});

describe('rotation on a running pair', () => {
  let secondKey: string;

  it('reaches both instances at once: old posters verify, new venues and snapshots get the new key', async () => {
    const { active, retired } = await rotateKey(a.store, config());
    secondKey = active;
    expect(retired).toBe(firstKey);
    expect(secondKey).not.toBe(firstKey);
    for (const server of [a, b]) {
      const doc = await until('the rotation reached the instance', async () => {
        const d = await keysDoc(server);
        return d.active === secondKey && d;
      });
      expect(doc.keys.map((k) => [k.id, k.state])).toEqual([
        [firstKey, 'retired'],
        [secondKey, 'active']
      ]);
    }
    // The poster printed under the first key still verifies, and its venue is not re-signed.
    await expect(verify(poster, b)).resolves.toBe('verified');
    expect((await venueOf(a, a.demoVenues[0]!.venueId)).keyId).toBe(firstKey);

    // A venue made now, pushed through the second instance, gets the new key.
    const owner = await register(b.url, '0911000701');
    const local = localDb();
    await local.put(venueDoc(COMMUNE, 'keyrotnew234', 'Tạp hóa Khóa Mới', owner.userId));
    await local.replicate.to(remoteDb(b.url, DB_C, owner.cookie));
    const signed = await until('the new venue was signed', async () => {
      const doc = await venueOf(b, 'keyrotnew234');
      return doc.token ? doc : null;
    });
    expect(signed.keyId).toBe(secondKey);
    await expect(verify(signed.token!, a)).resolves.toBe('verified');

    // The snapshots both serve are signed with the new key.
    for (const server of [a, b]) {
      const bytes = new Uint8Array(await (await fetch(`${server.url}/api/exposures/42/snapshot/v2`)).arrayBuffer());
      await expect(verifySnapshot(bytes, decodeKeysDocument(await keysDoc(server))!, '42')).resolves.toMatchObject({ ok: true, keyId: secondKey });
    }
  });

  it('revokes the first key: genuine old codes verify, codes of the key after the day do not, every venue under it is signed again', async () => {
    const ringBefore = JSON.parse(readFileSync(ringFilePath(env.DATA_DIR!), 'utf8')) as { keys: { id: string; secretKey?: string }[] };
    const leaked = { id: firstKey, secretKey: base64urlnopad.decode(ringBefore.keys.find((k) => k.id === firstKey)!.secretKey!) };
    // One demo venue signed four days ago (a poster on a wall for days); the others today.
    const old = a.demoVenues[0]!.venueId;
    const recent = a.demoVenues[1]!.venueId;
    const oldDoc = await venueOf(a, old);
    await a.store.request('PUT', `${DB_C}/venue:${old}`, { body: { ...oldDoc, signedAt: new Date(Date.now() - 4 * DAY).toISOString() } });
    const recentCode = (await venueOf(a, recent)).token!;
    expect(parseVenueToken(recentCode)).toMatchObject({ keyId: firstKey });
    // Whoever holds the leaked key signs a code for a venue of their own making.
    const forged = signVenueToken({ venueId: 'fakefakefak2', name: 'Quán Giả', communeCode: COMMUNE, venueType: 'shop' }, leaked);
    await expect(verify(forged, a)).resolves.toBe('verified');

    const from = dayKey(Date.now() - 2 * DAY);
    await expect(revokeKey(a.store, config(), secondKey, from)).rejects.toThrow(/is the active key: rotate to a new one first/);
    await expect(revokeKey(a.store, config(), firstKey, dayKey(Date.now() + 2 * DAY))).rejects.toThrow(/in the future/);
    const result = await revokeKey(a.store, config(), firstKey, from);
    expect(result.codes).toBe(1);
    expect(result.venues).toBeGreaterThanOrEqual(a.demoVenues.length - 1);

    for (const server of [a, b]) {
      await until('the revocation reached the instance', async () => (await keysDoc(server)).keys.some((k) => k.id === firstKey && k.state === 'revoked' && k.revokedFrom === from));
    }
    await expect(verify(poster, b)).resolves.toBe('verified');
    await expect(verify(recentCode, b)).resolves.toBe('key-revoked');
    await expect(verify(forged, a)).resolves.toBe('key-revoked');
    // The list holds exactly the genuine code, 16 characters of digest.
    const list = (await (await fetch(`${a.url}/api/keys/${firstKey}/genuine/${COMMUNE}`)).json()) as { digests: string };
    const parsedPoster = parseVenueToken(poster);
    if (!parsedPoster.ok) throw new Error('poster');
    expect(list.digests).toBe(await codeDigest(parsedPoster));
    // A commune where the key signed nothing before the day: an empty list, not a missing one.
    expect(await (await fetch(`${a.url}/api/keys/${firstKey}/genuine/18073`)).json()).toMatchObject({ digests: '' });
    const notRevoked = await fetch(`${a.url}/api/keys/${secondKey}/genuine/${COMMUNE}`);
    expect(notRevoked.status).toBe(404);
    expect((await notRevoked.json()).reason).toMatch(/not revoked/);
    expect((await fetch(`${a.url}/api/keys/12/genuine/x`)).status).toBe(400);

    // Every venue whose code was under the revoked key now carries a code of the active key.
    const venues = ((await a.store.docsByPrefix<VenueRecord>(DB_C, 'venue:')) ?? []).filter((v) => v.type === 'venue');
    expect(venues.length).toBeGreaterThan(1);
    for (const v of venues) expect(parseVenueToken(v.token!)).toMatchObject({ keyId: secondKey });
    await expect(verify((await venueOf(b, recent)).token!, b)).resolves.toBe('verified');
    // The ring file keeps only the revoked key's public half.
    const ringAfter = JSON.parse(readFileSync(ringFilePath(env.DATA_DIR!), 'utf8')) as { keys: { id: string; secretKey?: string; publicKey?: string }[] };
    expect(ringAfter.keys.find((k) => k.id === firstKey)).toMatchObject({ publicKey: expect.any(String) });
    expect(ringAfter.keys.find((k) => k.id === firstKey)!.secretKey).toBeUndefined();
    await expect(retireKey(a.store, config(), firstKey)).rejects.toThrow(/revoked already/);
  });

  it('a restarted instance takes the lifecycle from the store, not its ring file', async () => {
    const c = await startServer(await testServerConfig({ ...env, COUCHDB_URL: storeUrl }));
    try {
      const doc = await keysDoc(c);
      expect(doc.active).toBe(secondKey);
      expect(doc.keys.find((k) => k.id === firstKey)).toMatchObject({ state: 'revoked' });
    } finally {
      await c.close();
    }
  });
});

describe('rotation with SIGNING_KEYS (keys given to every instance)', () => {
  it('a new key is published ahead by the instance given it, signs once rotated to, and an instance without it may not start again', async () => {
    const own = mkdtempSync(path.join(os.tmpdir(), 'lv-keys-env-'));
    const ring1 = JSON.stringify(newKeyringFile());
    const envK = { PORT: '0', DATA_DIR: path.join(own, 'data'), LOG: '0', STATIC_DIR: path.join(own, 'none'), SIGNING_KEYS: ring1 };
    const s1 = await startServer(await testServerConfig(envK));
    let s2: RunningServer | undefined;
    try {
      const url = String((s1.store.couch as unknown as { config: { url: string } }).config.url).replace(/\/+$/, '');
      const oldKey = (await keysDoc(s1)).active;
      const ring2 = newKeyRing({ signingKeys: ring1, dataDir: envK.DATA_DIR });
      const newKey = (JSON.parse(ring2) as { keys: { id: string }[] }).keys[1]!.id;
      s2 = await startServer(await testServerConfig({ ...envK, COUCHDB_URL: url, SIGNING_KEYS: ring2 }));
      // Published before it signs, by both (the first within its second of following the store): phones hold it by the time it does.
      await until('the first instance publishes the new key', async () => (await keysDoc(s1)).keys.length === 2);
      expect((await keysDoc(s1)).keys.map((k) => [k.id, k.state])).toEqual([
        [oldKey, 'active'],
        [newKey, 'next']
      ]);
      await rotateKey(s2.store, { signingKeys: ring2, dataDir: envK.DATA_DIR }, newKey);
      const snapshotKey = async (server: RunningServer) => {
        const bytes = new Uint8Array(await (await fetch(`${server.url}/api/exposures/42/snapshot/v2`)).arrayBuffer());
        const check = await verifySnapshot(bytes, decodeKeysDocument(await keysDoc(server))!, '42');
        return check.ok ? check.keyId : null;
      };
      await until('the instance with the new key signs with it', async () => (await snapshotKey(s2!)) === newKey);
      await until('both publish the new key as active', async () => (await keysDoc(s1)).active === newKey);
      // The instance started before the new ring keeps signing with the key it has (still verifying).
      expect(await snapshotKey(s1)).toBe(oldKey);
      const again = await startServer(await testServerConfig({ ...envK, COUCHDB_URL: url })).then(
        async (s) => (await s.close(), null),
        (e: Error) => e.message
      );
      expect(again).toMatch(new RegExp(`the database says key ${newKey} signs, but SIGNING_KEYS does not hold its secret`));
    } finally {
      await s2?.close();
      await s1.close();
      rmSync(own, { recursive: true, force: true });
    }
  });
});
