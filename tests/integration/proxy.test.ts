/**
 * Behind a reverse proxy (TRUST_PROXY), the per-address limits count the client named in
 * X-Forwarded-For by a trusted proxy, not the proxy: else every client behind it shares one allowance,
 * and one guesser locks out a whole province. A sender that is not a trusted proxy cannot name
 * itself another address with that header.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { callFrom } from './sync-helpers';

/** The reverse proxy's address; other loopback addresses are clients reaching the server directly. */
const PROXY = '127.0.0.2';
const FAILURES_ALLOWED = 3;

let dataDir: string;
let server: RunningServer;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-proxy-'));
  const env = { PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none'), DEMO: '0' };
  server = await startServer(await testServerConfig({ ...env, TRUST_PROXY: PROXY, SHARE_CODE_FAILURES_PER_10_MIN: String(FAILURES_ALLOWED) }));
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A wrong share code guessed from `from`, saying `forwardedFor` in X-Forwarded-For: 404 until the address's budget is spent, then 429. */
async function guess(from: string, forwardedFor: string | null, n: number): Promise<number> {
  const headers: Record<string, string> = forwardedFor ? { 'x-forwarded-for': forwardedFor } : {};
  return (await callFrom(server.url, 'GET', `/api/share-codes/WRNG-${String(n).padStart(4, '0')}`, { from, headers })).status;
}

async function spend(from: string, forwardedFor: string | null, start: number): Promise<number[]> {
  const answers: number[] = [];
  for (let i = 0; i <= FAILURES_ALLOWED; i++) answers.push(await guess(from, forwardedFor, start + i));
  return answers;
}

describe('TRUST_PROXY', () => {
  it('counts each client behind the trusted proxy on its own', async () => {
    expect(await spend(PROXY, '203.0.113.5', 0)).toEqual([404, 404, 404, 429]);
    // Another client behind the same proxy still has its whole allowance.
    expect(await guess(PROXY, '203.0.113.6', 10)).toBe(404);
    // The proxy itself appends the address it saw: a client's own X-Forwarded-For entry before it does not count.
    expect(await guess(PROXY, '198.51.100.1, 203.0.113.5', 11)).toBe(429);
  });

  it('ignores X-Forwarded-For from a sender that is not a trusted proxy', async () => {
    const direct = '127.0.0.3';
    const answers = [];
    for (let i = 0; i <= FAILURES_ALLOWED; i++) answers.push(await guess(direct, `203.0.113.${100 + i}`, 20 + i));
    expect(answers).toEqual([404, 404, 404, 429]);
  });
});
