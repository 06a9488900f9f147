/**
 * Answers a CouchDB cluster gives that a single node never does, and store failures in the middle
 * of a POST: a real HTTP hop in front of the store rewrites the answers to the day databases of
 * shared limits (`lv_shared_*`) while a test asks it to.
 * - 202 Accepted (stored on fewer nodes than the write quorum, when one is slow): the count is
 *   stored; a registration must go through, not fail.
 * - A store that refuses the server's request: a 500 that says the request failed, not "the client
 *   closed the request" (which every failed POST used to get, because a request whose body was read
 *   counts as destroyed).
 * - An owner's venues checked by the commune database's changes since a sequence the store cannot
 *   place (412, seen on a cluster while a node was down): read afresh, the push goes through; a
 *   store that fails (500) there: 503, try again.
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
let mode: 'pass' | '202' | 'refused' | 'changes412' | 'changes500' = 'pass';

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-store-answers-'));
  const env = { PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none') };
  holder = await startServer(await testServerConfig(env));
  const target = new URL(String((holder.store.couch as unknown as { config: { url: string } }).config.url));
  proxy = http.createServer((req, res) => {
    const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (upRes) => {
      const chunks: Uint8Array[] = [];
      upRes.on('data', (c: Buffer) => chunks.push(new Uint8Array(c)));
      upRes.on('end', () => {
        const shared = req.method === 'POST' && /^\/lv_shared_[0-9]+\/_bulk_docs/.test(req.url ?? '');
        // An owner's venues are checked against the commune database's changes since a sequence.
        const venueCheck = req.method === 'GET' && /^\/lv_c_[0-9]{5}\/_changes\?since=/.test(req.url ?? '');
        if (venueCheck && (mode === 'changes412' || mode === 'changes500')) {
          const status = mode === 'changes412' ? 412 : 500;
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(status === 412 ? { error: 'precondition_failed', reason: 'the since sequence names a node that is down' } : { error: 'unknown_error', reason: 'timeout' }));
          return;
        }
        if (shared && mode === 'refused') {
          // What CouchDB says of a body it cannot take: a fault of the server's own request.
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'bad_request', reason: 'invalid UTF-8 JSON' }));
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

const push = (cookie: string, docs: unknown[]) =>
  fetch(`${server.url}/sync/lv_c_18070/_bulk_docs`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ docs }) });

describe('a store that answers as a cluster does', () => {
  it("reads an owner's venues afresh when the store cannot place the sequence it has (412), and answers 503 when the store fails", async () => {
    mode = 'pass';
    const res = await register('0912000204');
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    const { userId } = (await res.json()) as { userId: string };
    const venue = (id: string) => ({ _id: `venue:${id}`, type: 'venue', schema: 1, venueId: id, name: 'Quán Ba Lá', venueType: 'shop', communeCode: '18070', address: 'Khối 1', status: 'active', owner: userId });
    // A read of the owner's venue builds the table of venues; the next request checks it by changes.
    const read = () => fetch(`${server.url}/sync/lv_c_18070/venue:storeanswraa`, { headers: { cookie } }).then((r) => r.status);
    const first = await push(cookie, [venue('storeanswraa')]);
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual([expect.objectContaining({ ok: true })]);
    expect(await read()).toBe(200);
    mode = 'changes412';
    expect(await read()).toBe(200);
    const afresh = await push(cookie, [venue('storeanswrbb')]);
    expect(afresh.status, await afresh.clone().text()).toBe(201);
    expect(((await afresh.json()) as { error?: string }[])[0]?.error).toBeUndefined();
    mode = 'pass';
    expect(await read()).toBe(200);
    mode = 'changes500';
    const failed = await push(cookie, [venue('storeanswrcc')]);
    expect(failed.status).toBe(503);
    expect(((await failed.json()) as { error: string }).error).toBe('store_unavailable');
    mode = 'pass';
  });

  it('takes a limit counted with 202 Accepted as counted', async () => {
    mode = '202';
    const res = await register('0912000201');
    expect(res.status, await res.clone().text()).toBe(201);
  });

  it('answers a fault in the middle of a POST as a fault of the server, not as a client gone', async () => {
    mode = 'refused';
    const res = await register('0912000202');
    const body = (await res.json()) as { error: string; reason: string };
    expect(res.status).toBe(500);
    expect(body.error).not.toBe('client_gone');
    mode = 'pass';
    expect((await register('0912000203')).status).toBe(201);
  });
});
