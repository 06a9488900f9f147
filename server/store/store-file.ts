/**
 * DATA_DIR/store.json: how a command run beside a server reaches the server's embedded store (whose
 * LevelDB admits one process at a time). Kept apart from open.ts so the server does not load
 * PouchDB itself.
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DB, Store } from './couch';

/** In DATA_DIR while a server runs its embedded store: its loopback URL with the store's password (owner-only). */
export const STORE_FILE = 'store.json';

interface StoreFile {
  url: string;
  pid: number;
}

/** Left by the server once its embedded store answers; removed on a clean close. */
export function writeStoreFile(dataDir: string, url: string): void {
  const file = path.join(dataDir, STORE_FILE);
  writeFileSync(file, JSON.stringify({ url, pid: process.pid } satisfies StoreFile), { mode: 0o600 });
  // An older file keeps its mode through writeFileSync: the password must stay the owner's.
  chmodSync(file, 0o600);
}

export function removeStoreFile(dataDir: string): void {
  rmSync(path.join(dataDir, STORE_FILE), { force: true });
}

/**
 * The URL in DATA_DIR/store.json when a store answers there with its credentials (a server that
 * was killed leaves a file behind whose store is gone, or whose port another program took).
 */
export async function runningStoreUrl(dataDir: string): Promise<string | null> {
  let file: StoreFile;
  try {
    file = JSON.parse(readFileSync(path.join(dataDir, STORE_FILE), 'utf8')) as StoreFile;
  } catch {
    return null;
  }
  if (typeof file?.url !== 'string' || !/^http:\/\/[^/]+@127\.0\.0\.1:[0-9]+$/.test(file.url)) return null;
  try {
    const store = new Store(file.url);
    // A database of ours, with the server's credentials: a stranger on the port answers 401 or 404.
    const res = await store.request('GET', DB.users, { timeoutMs: 3_000 });
    return res.status === 200 ? file.url : null;
  } catch {
    return null;
  }
}
