/** The session secret is refused at start when it is too weak to sign sessions with. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSessionSecret } from './auth';

const dirs: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lv-secret-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('loadSessionSecret', () => {
  it('refuses a short SESSION_SECRET, saying why and how to make one', () => {
    expect(() => loadSessionSecret({ sessionSecret: 'a', dataDir: tmp() })).toThrow(/SESSION_SECRET is too weak.*1 byte long and needs at least 32.*openssl rand/);
    expect(() => loadSessionSecret({ sessionSecret: 'x'.repeat(31), dataDir: tmp() })).toThrow(/31 bytes long/);
  });

  it('refuses a long secret made of a few characters', () => {
    expect(() => loadSessionSecret({ sessionSecret: 'a'.repeat(64), dataDir: tmp() })).toThrow(/does not look random/);
    expect(() => loadSessionSecret({ sessionSecret: '1234'.repeat(10), dataDir: tmp() })).toThrow(/does not look random/);
  });

  it('takes a random secret of 32 bytes or more', () => {
    const secret = 'Zk3v9Qp2Lr8Xw1Nc5Bt7Hy4Md6Fg0Js_';
    expect(new TextDecoder().decode(loadSessionSecret({ sessionSecret: secret, dataDir: tmp() }))).toBe(secret);
  });

  it('makes a strong secret file when none is set, readable by the owner only, and refuses a weakened one', () => {
    const dir = tmp();
    const first = loadSessionSecret({ sessionSecret: null, dataDir: dir });
    expect(first.length).toBeGreaterThanOrEqual(32);
    const file = path.join(dir, 'session-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadSessionSecret({ sessionSecret: null, dataDir: dir })).toEqual(first);
    expect(readFileSync(file, 'utf8').length).toBeGreaterThanOrEqual(32);
    writeFileSync(file, 'abc');
    expect(() => loadSessionSecret({ sessionSecret: null, dataDir: dir })).toThrow(/session secret in .* is too weak/);
  });
});
