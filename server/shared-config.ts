/**
 * Configuration every instance must share, checked at start against what the store says
 * (lv_users `config:shared`, written by the first instance to start on an empty store):
 * - the signing keys: the store keeps their public halves and their lifecycle (server/keys.ts). An
 *   instance whose ring gives another public key for a key id, or lacks the secret of the active
 *   key, refuses to start: it would sign codes no other instance's phones accept, or none at all.
 *   A key of the ring the store does not know yet is recorded as `next` (published ahead, so that
 *   phones hold it before it signs).
 * - the session secret, by a verifier only (HMAC of a constant under it), never the secret: an
 *   instance with another one would log out everyone whose session it sees.
 * - the public origin printed on posters, when PUBLIC_ORIGIN is set: another one refuses, unless
 *   ACCEPT_NEW_PUBLIC_ORIGIN=1 says the deployment moves (it is then recorded).
 * While the server runs, the record is read every second, so that a rotation or revocation made by
 * a command (server/keys-command.ts) reaches every instance at once.
 */
import { createHmac } from 'node:crypto';
import type { ServerConfig } from './config';
import { loadSessionSecret } from './auth';
import { activeEntry, applyLifecycle, loadKeyring, type Keyring, type LifecycleEntry } from './keys';
import { DB, type Store } from './store/couch';
import { base64urlnopad } from '@scure/base';

export const SHARED_CONFIG_ID = 'config:shared';

export interface SharedConfigDoc {
  _id: string;
  _rev?: string;
  type: 'shared-config';
  schema: 1;
  keys: LifecycleEntry[];
  /** HMAC-SHA256 of SESSION_CHECK under the session secret, base64url */
  sessionCheck: string;
  /** PUBLIC_ORIGIN as the instances were given it; null while none was */
  publicOrigin: string | null;
}

const SESSION_CHECK = 'Lưu Vết: the session secret every instance shares';

export function sessionVerifier(secret: Uint8Array): string {
  return createHmac('sha256', secret).update(SESSION_CHECK).digest('base64url');
}

export class SharedConfigError extends Error {}

const FIX_KEYS = 'every instance must run with the same keyring (SIGNING_KEYS, or the signing-keys.json of DATA_DIR)';

export async function readSharedConfig(store: Store): Promise<SharedConfigDoc | null> {
  const res = await store.request('GET', `${DB.users}/${encodeURIComponent(SHARED_CONFIG_ID)}`);
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`reading the shared configuration answered ${res.status}`);
  return res.body as SharedConfigDoc;
}

/** Writes the record; false when another writer got there first (read it again). */
export async function writeSharedConfig(store: Store, doc: SharedConfigDoc): Promise<boolean> {
  const res = await store.request('PUT', `${DB.users}/${encodeURIComponent(doc._id)}`, { body: doc });
  if (res.status === 409) return false;
  if (res.status >= 300) throw new Error(`writing the shared configuration answered ${res.status}`);
  doc._rev = (res.body as { rev: string }).rev;
  return true;
}

/**
 * The lifecycle once this instance's ring is held against the store's: throws in words when the
 * two cannot both be right; adds the ring's keys the store does not know as `next`.
 */
export function mergeKeys(keyring: Keyring, recorded: readonly LifecycleEntry[]): { keys: LifecycleEntry[]; added: string[] } {
  const known = new Map(recorded.map((e) => [e.id, e]));
  const keys = [...recorded];
  const added: string[] = [];
  for (const k of keyring.publicKeys) {
    const publicKey = base64urlnopad.encode(k.publicKey);
    const entry = known.get(k.id);
    if (!entry) {
      keys.push({ id: k.id, publicKey, state: 'next', createdAt: new Date().toISOString() });
      added.push(k.id);
    } else if (entry.publicKey !== publicKey) {
      throw new SharedConfigError(`signing key ${k.id} in ${keyring.source} is not the key ${k.id} the other instances use (its public key differs from the one the database records): ${FIX_KEYS}`);
    }
  }
  const active = activeEntry(keys);
  if (active && !keyring.secrets.has(active.id)) {
    throw new SharedConfigError(`the database says key ${active.id} signs, but ${keyring.source} does not hold its secret: ${FIX_KEYS}`);
  }
  return { keys, added };
}

export interface SharedConfig {
  keyring: Keyring;
  sessionSecret: Uint8Array;
  /** stops following the record (at close) */
  stop(): void;
}

/** How often a running instance reads the record again: a rotation reaches every instance within this. */
export const FOLLOW_MS = 1_000;

export async function checkSharedConfig(
  store: Store,
  config: Pick<ServerConfig, 'signingKeys' | 'dataDir' | 'sessionSecret' | 'publicOrigin' | 'publicOriginSet'>,
  opts: { acceptNewOrigin?: boolean; log?: (msg: string) => void } = {}
): Promise<SharedConfig> {
  const log = opts.log ?? ((msg: string) => console.error(msg));
  const acceptNewOrigin = opts.acceptNewOrigin ?? process.env.ACCEPT_NEW_PUBLIC_ORIGIN === '1';
  const keyring = loadKeyring(config);
  const sessionSecret = loadSessionSecret(config);
  const sessionCheck = sessionVerifier(sessionSecret);
  const origin = config.publicOriginSet ? config.publicOrigin : null;

  for (let attempt = 0; ; attempt++) {
    const recorded = await readSharedConfig(store);
    let doc: SharedConfigDoc;
    let changed = false;
    if (!recorded) {
      doc = { _id: SHARED_CONFIG_ID, type: 'shared-config', schema: 1, keys: keyring.lifecycle, sessionCheck, publicOrigin: origin };
      changed = true;
    } else {
      if (recorded.sessionCheck !== sessionCheck) {
        throw new SharedConfigError('the session secret (SESSION_SECRET, or the session-secret file of DATA_DIR) is not the one the other instances use: give every instance the same SESSION_SECRET');
      }
      const { keys, added } = mergeKeys(keyring, recorded.keys);
      doc = { ...recorded, keys };
      changed = added.length > 0;
      if (added.length) log(`signing keys: ${added.join(', ')} recorded as next (published, signing nothing until rotated to)`);
      if (origin && recorded.publicOrigin && recorded.publicOrigin !== origin) {
        if (!acceptNewOrigin) {
          throw new SharedConfigError(
            `PUBLIC_ORIGIN is ${origin} but the other instances print posters for ${recorded.publicOrigin}: give every instance the same PUBLIC_ORIGIN, or start once with ACCEPT_NEW_PUBLIC_ORIGIN=1 if the deployment moves (posters printed before keep the old address)`
          );
        }
        log(`public origin: changed from ${recorded.publicOrigin} to ${origin}`);
      }
      if (origin && recorded.publicOrigin !== origin) {
        doc.publicOrigin = origin;
        changed = true;
      }
    }
    if (changed && !(await writeSharedConfig(store, doc))) {
      if (attempt < 5) continue; // another instance started at the same moment: check against its record
      throw new Error('the shared configuration kept changing while this instance started: start it again');
    }
    applyLifecycle(keyring, doc.keys, log);
    break;
  }

  let rev: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const follow = async () => {
    try {
      const doc = await readSharedConfig(store);
      if (doc && doc._rev !== rev) {
        rev = doc._rev;
        applyLifecycle(keyring, doc.keys, log);
      }
    } catch {
      // The store is away for a moment: the keys held stay in use, the next read catches up.
    }
    if (!stopped) {
      timer = setTimeout(() => void follow(), FOLLOW_MS);
      timer.unref();
    }
  };
  await follow();
  return {
    keyring,
    sessionSecret,
    stop() {
      stopped = true;
      clearTimeout(timer);
    }
  };
}
