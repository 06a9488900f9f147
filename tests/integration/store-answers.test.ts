/**
 * Answers a CouchDB cluster gives that a single node never does, and store failures in the middle
 * of a POST: a real HTTP hop in front of the store rewrites the answers to the day databases of
 * shared limits (`lv_shared_*`) while a test asks it to.
 * - 202 Accepted (stored on fewer nodes than the write quorum, when one is slow): the count is
 *   stored; a registration must go through, not fail.
 * - A store error: a 5xx that says the request failed, not "the client closed the request" (which
 *   every failed POST used to get, because a request whose body was read counts as destroyed).
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';

let dataDir: string;
let holder: RunningServer;
let server: RunningServer;
let proxy: http.Server;
let mode: 'pass' | '202' | '500' = 'pass';

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-store-answers-'));
  const env = { PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none'), DEMO: '0' };
  holder = await startServer(await testServerConfig(env));
  const target = new URL(String((holder.store.couch as unknown as { config: { url: string } }).config.url));
  proxy = http.createServer((req, res) => {
    const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (upRes) => {
      const chunks: Uint8Array[] = [];
      upRes.on('data', (c: Buffer) => chunks.push(new Uint8Array(c)));
      upRes.on('end', () => {
        const shared = req.method === 'POST' && /^\/lv_shared_[0-9]+\/_bulk_docs/.test(req.url ?? '');
        if (shared && mode === '500') {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'unknown_error', reason: 'function_clause' }));
          return;
        }
        res.writeHead(shared && mode === '202' && upRes.statusCode === 201 ? 202 : (upRes.statusCode ?? 502), upRes.headers);
        res.end(Buffer.concat(chunks));
      });
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const front = new URL(target.href);
  front.port = String((proxy.address() as { port: number }).port);
  server = await startServer(await testServerConfig({ ...env, COUCHDB_URL: front.href }));
});

afterAll(async () => {
  await server?.close();
  await new Promise((r) => proxy?.close(r));
  await holder?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const register = (phone: string) =>
  fetch(`${server.url}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone, password: 'mat-khau-dai' }) });

describe('a store that answers as a cluster does', () => {
  it('takes a limit counted with 202 Accepted as counted', async () => {
    mode = '202';
    const res = await register('0912000201');
    expect(res.status, await res.clone().text()).toBe(201);
  });

  it('answers a store failure in the middle of a POST as a failure of the server, not as a client gone', async () => {
    mode = '500';
    const res = await register('0912000202');
    const body = (await res.json()) as { error: string; reason: string };
    expect(res.status).toBe(500);
    expect(body.error).not.toBe('client_gone');
    mode = 'pass';
    expect((await register('0912000203')).status).toBe(201);
  });
});
