/** Real PouchDB clients for the gateway tests: in-memory local databases, remote ones through /sync with a session cookie. */
import http from 'node:http';
import PouchDB from 'pouchdb-node';
import memoryAdapter from 'pouchdb-adapter-memory';
import { entryDocId } from '../../src/lib/core/documents';

PouchDB.plugin(memoryAdapter);

let counter = 0;

export function localDb<T extends object = Record<string, unknown>>(): PouchDB.Database<T> {
  return new PouchDB<T>(`local-${process.pid}-${++counter}`, { adapter: 'memory' });
}

export function remoteDb<T extends object = Record<string, unknown>>(baseUrl: string, dbName: string, cookie?: string): PouchDB.Database<T> {
  return new PouchDB<T>(`${baseUrl}/sync/${dbName}`, {
    skip_setup: true,
    fetch: (url: string | Request, opts?: RequestInit) => {
      const headers = new Headers(opts?.headers);
      if (cookie) headers.set('cookie', cookie);
      return (PouchDB as unknown as { fetch: typeof fetch }).fetch(url, { ...opts, headers });
    }
  } as PouchDB.Configuration.RemoteDatabaseConfiguration);
}

export async function register(baseUrl: string, phone: string, password = 'mat-khau-dai'): Promise<{ cookie: string; userId: string }> {
  const res = await fetch(`${baseUrl}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone, password }) });
  if (res.status !== 201) throw new Error(`register ${phone}: ${res.status} ${await res.text()}`);
  return { cookie: cookieOf(res), userId: ((await res.json()) as { userId: string }).userId };
}

export async function login(baseUrl: string, phone: string, password: string): Promise<{ cookie: string; status: number }> {
  const res = await fetch(`${baseUrl}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone, password }) });
  return { cookie: res.ok ? cookieOf(res) : '', status: res.status };
}

function cookieOf(res: Response): string {
  const header = res.headers.get('set-cookie') ?? '';
  const match = /lv_session=[^;]+/.exec(header);
  if (!match) throw new Error('no session cookie');
  return match[0];
}

/** A shop venue record of a commune, as an owner's device writes it. */
export function venueDoc(communeCode: string, venueId: string, name: string, ownerId?: string) {
  return { _id: `venue:${venueId}`, type: 'venue', schema: 1, venueId, name, venueType: 'shop', communeCode, address: 'Khối 1', status: 'active', ...(ownerId ? { owner: ownerId } : {}) };
}

/** A station's manual entry of a visitor at `time`; `key` makes its id unique. */
export function manualEntryDoc(communeCode: string, venueId: string, time: number, name: string, key: string) {
  return {
    _id: entryDocId(venueId, time, key),
    type: 'entry',
    schema: 1,
    venueId,
    communeCode,
    time,
    direction: 'in',
    person: { source: 'manual', name, phone: '0987654321' },
    deviceId: 'test-device'
  };
}

type StoreRequest = (method: 'GET', path: string, options: { query: URLSearchParams }) => Promise<{ body: unknown }>;

/** What the store holds of a database (live documents, no design documents): id -> sorted leaf revisions. */
export async function storeLeaves(store: { request: StoreRequest }, db: string): Promise<Map<string, string[]>> {
  const res = await store.request('GET', `${db}/_changes`, { query: new URLSearchParams({ style: 'all_docs' }) });
  const rows = (res.body as { results: { id: string; deleted?: boolean; changes: { rev: string }[] }[] }).results;
  const leaves = new Map<string, string[]>();
  for (const row of rows) if (!row.deleted && !row.id.startsWith('_design')) leaves.set(row.id, row.changes.map((c) => c.rev).sort());
  return leaves;
}

/** The same of a device's database. */
export async function localLeaves(db: PouchDB.Database): Promise<Map<string, string[]>> {
  const rows = (await db.changes({ style: 'all_docs', return_docs: true })).results;
  const leaves = new Map<string, string[]>();
  for (const row of rows) if (!row.deleted) leaves.set(row.id, row.changes.map((c) => c.rev).sort());
  return leaves;
}

export { PouchDB };

export interface AddressedAnswer {
  status: number;
  json: Record<string, unknown>;
  headers: import('node:http').IncomingHttpHeaders;
  /** The session cookie it set (`lv_session=…`), or '' (also for a cookie being cleared). */
  cookie: string;
}

/**
 * A request from a chosen loopback address (node's fetch cannot choose its source address): the
 * per-address limits see each `from` as another client; `headers` adds any (X-Forwarded-For…).
 */
export function callFrom(
  baseUrl: string,
  method: string,
  url: string,
  opts: { body?: unknown; raw?: string; contentType?: string; cookie?: string; from?: string; headers?: Record<string, string> } = {}
): Promise<AddressedAnswer> {
  const { hostname, port } = new URL(baseUrl);
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string | number> = { ...opts.headers };
  if (payload !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  if (opts.cookie) headers.cookie = opts.cookie;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: url, method, localAddress: opts.from ?? '127.0.0.1', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const set = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
        const cookie = set.map((c) => /^lv_session=[^;]+/.exec(c)?.[0]).find((c) => c && c !== 'lv_session=') ?? '';
        let json: Record<string, unknown> = {};
        try {
          json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          json = { text };
        }
        resolve({ status: res.statusCode ?? 0, json, headers: res.headers, cookie });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

