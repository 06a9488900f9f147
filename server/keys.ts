/**
 * The venue-signing keyring. Several servers must share it, so it comes from SIGNING_KEYS when set;
 * otherwise it is created on first start in the data directory (readable by the owner only).
 *
 * Rotation: add a key to the ring and make it active; old keys stay so that printed posters keep
 * verifying until they are re-signed.
 */
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { base64urlnopad } from '@scure/base';
import * as v from 'valibot';
import { encodeKeysDocument, type KeysDocument } from '../src/lib/core/keys';
import { KEY_ID_PATTERN, type PublicKey, type SigningKey } from '../src/lib/core/venue/venue-token';
import { newSigningKey, publicKeyOf } from '../src/lib/core/venue/venue-signing';

const KeyringFile = v.object({
  active: v.pipe(v.string(), v.regex(KEY_ID_PATTERN)),
  keys: v.pipe(
    v.array(
      v.object({
        id: v.pipe(v.string(), v.regex(KEY_ID_PATTERN)),
        secretKey: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/)),
        createdAt: v.optional(v.string())
      })
    ),
    v.minLength(1)
  )
});
type KeyringFile = v.InferOutput<typeof KeyringFile>;

export interface Keyring {
  active: SigningKey;
  publicKeys: PublicKey[];
}

function fromFile(file: KeyringFile, source: string): Keyring {
  const keys = file.keys.map((k) => ({ id: k.id, secretKey: base64urlnopad.decode(k.secretKey) }));
  const active = keys.find((k) => k.id === file.active);
  if (!active) throw new Error(`${source}: the active key ${file.active} is not in the ring`);
  return { active, publicKeys: keys.map(publicKeyOf) };
}

function parse(text: string, source: string): Keyring {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${source} is not valid JSON`);
  }
  const result = v.safeParse(KeyringFile, json);
  if (!result.success) throw new Error(`${source}: ${result.issues[0].message} at ${v.getDotPath(result.issues[0]) ?? 'top'}`);
  return fromFile(result.output, source);
}

export function newKeyringFile(): KeyringFile {
  const key = newSigningKey(String(randomInt(1000, 10000)));
  return { active: key.id, keys: [{ id: key.id, secretKey: base64urlnopad.encode(key.secretKey), createdAt: new Date().toISOString() }] };
}

export function loadKeyring(opts: { signingKeys: string | null; dataDir: string }): Keyring {
  if (opts.signingKeys) return parse(opts.signingKeys, 'SIGNING_KEYS');
  const file = path.join(opts.dataDir, 'signing-keys.json');
  if (!existsSync(file)) {
    mkdirSync(opts.dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(newKeyringFile(), null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  }
  return parse(readFileSync(file, 'utf8'), file);
}

export function publicKeysDocument(keyring: Keyring): KeysDocument {
  return encodeKeysDocument(keyring.active.id, keyring.publicKeys);
}
