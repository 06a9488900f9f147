/**
 * What the whole-system test runs on: the 3-node CouchDB cluster that `npm run test:cluster` started
 * (its folder, ports and admin URL in LV_CLUSTER_*), a TCP front over its nodes (as HAProxy in TCP
 * mode stands before a CouchDB cluster: a node that dies takes its open connections with it, new
 * ones go to the others), server instances as processes of their own (dist/server.mjs as `npm start`
 * runs it, bundled from the sources), and the clients' side of a load balancer before the servers:
 * each client has an instance it prefers and moves to another when its instance stops answering.
 */
import { spawnSync } from 'node:child_process';
import { inflateSync } from 'node:zlib';
import { rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { GiveUp, isRunning, spawnServer, until, type ServerProcess } from '../integration/server-process';
import { PouchDB } from '../integration/sync-helpers';

export interface ClusterEnv {
  /** admin URL of the first node */
  url: string;
  /** the folder couchdb.sh keeps the nodes in (DIR/n<port>/pid) */
  dir: string;
  /** couchdb.sh */
  script: string;
  /** the HTTP ports of the nodes, first one first */
  ports: number[];
}

/** The cluster `npm run test:cluster` started, or null when the test runs without one. */
export function clusterEnv(): ClusterEnv | null {
  const { LV_CLUSTER_URL: url, LV_CLUSTER_DIR: dir, LV_CLUSTER_SCRIPT: script, LV_CLUSTER_PORTS: ports } = process.env;
  if (!url || !dir || !script || !ports) return null;
  return { url, dir, script, ports: ports.split(',').map(Number) };
}

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The admin's name and password of a CouchDB URL as a header, and the URL without them. */
export function adminOf(url: string): { base: string; authorization: string } {
  const u = new URL(url);
  const authorization = 'Basic ' + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  u.username = u.password = '';
  return { base: u.href.replace(/\/+$/, ''), authorization };
}

/** GET (or POST with a JSON body) to CouchDB as its admin; the parsed body and the status. */
export async function couch<T = unknown>(url: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const { base, authorization } = adminOf(url);
  const res = await fetch(`${base}/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  return { status: res.status, body: (await res.json()) as T };
}

// ---------------------------------------------------------------------------------------------
// CouchDB: the nodes and a front over them
// ---------------------------------------------------------------------------------------------

/**
 * A TCP front on 127.0.0.1 over the nodes: each new connection goes to the next node in turn,
 * skipping a node that refuses it; the bytes pass through unchanged. The servers' COUCHDB_URL names
 * it, so they see one CouchDB as they would behind a load balancer in production.
 */
export async function startCouchFront(ports: number[]): Promise<{ port: number; close(): Promise<void> }> {
  let next = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    client.pause();
    const connect = (tries: number) => {
      if (tries >= ports.length) return void client.destroy();
      const port = ports[next++ % ports.length]!;
      const upstream = net.connect(port, '127.0.0.1');
      open.add(upstream);
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        upstream.pipe(client);
        client.pipe(upstream);
        client.resume();
      });
      upstream.on('error', () => {
        if (!connected) connect(tries + 1);
        else client.destroy();
      });
      upstream.on('close', () => {
        open.delete(upstream);
        if (connected) client.destroy();
      });
      client.on('close', () => upstream.destroy());
    };
    connect(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      })
  };
}

/** One node of the cluster, killed and started again with couchdb.sh (its data stays). */
export class ClusterNodes {
  constructor(readonly env: ClusterEnv) {}

  pidOf(port: number): number | null {
    const r = spawnSync('cat', [`${this.env.dir}/n${port}/pid`], { encoding: 'utf8' });
    const pid = Number(r.stdout.trim());
    return r.status === 0 && pid > 0 ? pid : null;
  }

  /** SIGKILL to the node's beam.smp: a crash, not a stop. */
  async kill(port: number): Promise<void> {
    const pid = this.pidOf(port);
    if (!pid) throw new Error(`no pid for the node on port ${port}`);
    process.kill(pid, 'SIGKILL');
    await until(`the node on port ${port} to end`, () => (isRunning(pid) ? undefined : true), 200, 50);
    // couchdb.sh starts a node whose pid file names a live process; a dead one not yet reaped still
    // answers kill -0, so the file goes.
    rmSync(`${this.env.dir}/n${port}/pid`, { force: true });
  }

  /** Starts the nodes that are not running (couchdb.sh cluster leaves the others alone). */
  async restart(): Promise<void> {
    const r = spawnSync('bash', [this.env.script, 'cluster', this.env.dir, String(this.env.ports.length), String(this.env.ports[0])], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`couchdb.sh cluster failed: ${r.stderr.slice(-500)}`);
    for (const port of this.env.ports) {
      await until(`the node on port ${port} to answer`, async () => ((await fetch(`http://127.0.0.1:${port}/_up`).catch(() => null))?.ok ? true : undefined), 200, 100);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Server instances
// ---------------------------------------------------------------------------------------------

/** A server process on a fixed port: killed, it comes back on the same port and DATA_DIR. */
export class Instance {
  proc: ServerProcess | null = null;
  constructor(
    readonly name: string,
    readonly port: number,
    readonly env: Record<string, string>
  ) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = await spawnServer({ ...this.env, PORT: String(this.port), HOST: '127.0.0.1' });
    this.proc = proc;
    await until(
      `instance ${this.name} to answer`,
      async () => {
        if (proc.proc.exitCode !== null) throw new GiveUp(`instance ${this.name} ended at start: ${proc.output().stderr.slice(-800)}`);
        return (await fetch(`${this.base}/api/health`).catch(() => null))?.status === 200 ? true : undefined;
      },
      1200,
      100
    );
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
    p.proc.kill('SIGKILL');
    await p.exited;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
    p.proc.kill('SIGTERM');
    const timer = setTimeout(() => p.proc.kill('SIGKILL'), 10_000);
    await p.exited;
    clearTimeout(timer);
  }

  /** What the process printed on stderr (the last part). */
  log(): string {
    return this.proc?.output().stderr.slice(-4000) ?? '';
  }
}

// ---------------------------------------------------------------------------------------------
// Clients: the load balancer's side, and what each client met
// ---------------------------------------------------------------------------------------------

export interface ClientMishap {
  at: number;
  client: string;
  what: string;
}

/**
 * The instances as clients reach them: a client names the instance it prefers; one that stopped
 * answering (a refused or reset connection) is passed over for five seconds, as a load balancer's
 * health check would. Every answer of 5xx and every network error is written down with the client
 * that met it.
 */
export class Front {
  readonly mishaps: ClientMishap[] = [];
  /** answers by status class and request kind, e.g. "503 POST _bulk_docs" */
  readonly answers = new Map<string, number>();
  readonly #downUntil = new Map<number, number>();

  constructor(readonly instances: Instance[]) {}

  choose(preferred: number): number {
    const now = Date.now();
    const n = this.instances.length;
    for (let k = 0; k < n; k++) {
      const i = (preferred + k) % n;
      if ((this.#downUntil.get(i) ?? 0) <= now) return i;
    }
    return preferred % n;
  }

  markDown(i: number): void {
    this.#downUntil.set(i, Date.now() + 5000);
  }

  note(client: string, status: number | string, method: string, url: string): void {
    const kind = requestKind(url);
    const key = `${status} ${method} ${kind}`;
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
    if (typeof status === 'string' || status >= 500) this.mishaps.push({ at: Date.now(), client, what: key });
  }

  /** A fetch for `client` through the front: `path` on the instance chosen now. */
  async fetch(client: string, preferred: number, path: string, init: RequestInit = {}): Promise<Response> {
    const i = this.choose(preferred);
    const url = `${this.instances[i]!.base}${path}`;
    const method = (init.method ?? 'GET').toUpperCase();
    try {
      const res = await fetch(url, init);
      this.note(client, res.status, method, url);
      return res;
    } catch (err) {
      this.markDown(i);
      this.note(client, networkCode(err), method, url);
      throw err;
    }
  }

  /**
   * A remote PouchDB of `db` through the /sync gateway with a session cookie; `preferred()` says, at
   * each request, which instance the client would go to.
   */
  remote(client: string, db: string, cookie: string, preferred: () => number, trace?: (t: RequestTrace) => void): PouchDB.Database {
    const placeholder = 'http://lv-front.invalid';
    const pouchFetch = (PouchDB as unknown as { fetch: typeof fetch }).fetch;
    return new PouchDB(`${placeholder}/sync/${db}`, {
      skip_setup: true,
      fetch: async (url: string | Request, opts?: RequestInit) => {
        const i = this.choose(preferred());
        const real = String(url).replace(placeholder, this.instances[i]!.base);
        const headers = new Headers(opts?.headers);
        headers.set('cookie', cookie);
        const method = (opts?.method ?? 'GET').toUpperCase();
        try {
          const at = Date.now();
          const res = await pouchFetch(real, { ...opts, headers });
          this.note(client, res.status, method, real);
          if (!trace) return res;
          // Read whole and handed on as a new answer: a clone read alone stalls once its buffer fills.
          const text = await res.text();
          trace({ at, done: Date.now(), instance: i, method, url: real, reqBody: typeof opts?.body === 'string' ? opts.body : undefined, status: res.status, resBody: text });
          const plain = new Headers();
          res.headers.forEach((value, name) => {
            if (name !== 'content-encoding' && name !== 'content-length') plain.set(name, value);
          });
          return new Response(text, { status: res.status, headers: plain });
        } catch (err) {
          this.markDown(i);
          this.note(client, networkCode(err), method, real);
          trace?.({ at: Date.now(), done: Date.now(), instance: i, method, url: real, reqBody: typeof opts?.body === 'string' ? opts.body : undefined, status: networkCode(err), resBody: '' });
          throw err;
        }
      }
    } as PouchDB.Configuration.RemoteDatabaseConfiguration);
  }
}

/** One request of a traced client and its answer, as sent and received. */
export interface RequestTrace {
  at: number;
  done: number;
  instance: number;
  method: string;
  url: string;
  reqBody?: string;
  status: number | string;
  resBody: string;
}

function networkCode(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string }; name?: string };
  return `network:${e.code ?? e.cause?.code ?? e.name ?? 'error'}`;
}

function requestKind(url: string): string {
  const p = new URL(url).pathname;
  if (/\/_local\//.test(p)) return '_local';
  const last = p.split('/').filter(Boolean).at(-1) ?? '/';
  if (p.startsWith('/sync/') && !last.startsWith('_') && p.split('/').length <= 3) return 'sync db info';
  return p.startsWith('/api/') ? p.replace(/\/[0-9]+$/, '/:n') : last;
}

/** A JSON POST from a chosen loopback source address (fetch cannot choose it): phones and offices come from many addresses. */
export function postFrom(url: string, body: unknown, localAddress: string, cookie?: string): Promise<{ status: number; json: Record<string, unknown>; headers: http.IncomingHttpHeaders }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(cookie ? { cookie } : {}) } },
      (res) => {
        let out = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (out += c));
        res.on('end', () => {
          let json: Record<string, unknown> = {};
          try {
            json = out ? (JSON.parse(out) as Record<string, unknown>) : {};
          } catch {
            json = { raw: out.slice(0, 200) };
          }
          resolve({ status: res.statusCode ?? 0, json, headers: res.headers });
        });
        res.on('error', reject);
      }
    );
    req.on('error', reject);
    req.end(text);
  });
}

export const cookieOf = (setCookie: string | string[] | null | undefined) => /lv_session=[^;]+/.exec(String(setCookie ?? ''))?.[0] ?? null;

// ---------------------------------------------------------------------------------------------
// Counting signing writes
// ---------------------------------------------------------------------------------------------

interface RevisionsDoc {
  _rev: string;
  _revisions?: { start: number; ids: string[] };
  [k: string]: unknown;
}

/**
 * Every revision CouchDB holds of a document, over all its leaves (a conflict is a second leaf):
 * the leaves' ids and the bodies of their histories (those not compacted away; `missing` counts the others).
 */
export async function revisionsOf(url: string, db: string, id: string): Promise<{ leaves: string[]; bodies: Record<string, unknown>[]; missing: number }> {
  const path = `${db}/${encodeURIComponent(id)}`;
  const res = await couch<{ ok?: RevisionsDoc }[]>(url, `${path}?open_revs=all&revs=true`);
  const leaves: string[] = [];
  const revs = new Set<string>();
  for (const row of Array.isArray(res.body) ? res.body : []) {
    if (!row.ok) continue;
    leaves.push(row.ok._rev);
    const h = row.ok._revisions;
    if (h) h.ids.forEach((rid, k) => revs.add(`${h.start - k}-${rid}`));
  }
  const bodies: Record<string, unknown>[] = [];
  let missing = 0;
  for (const rev of revs) {
    const r = await couch<Record<string, unknown>>(url, `${path}?rev=${encodeURIComponent(rev)}`);
    if (r.status === 200) bodies.push(r.body);
    else missing++;
  }
  return { leaves, bodies, missing };
}

/** How many distinct signings a document's revisions carry: distinct values of `stamp(body)` among those that have one. */
export function signings(bodies: Record<string, unknown>[], stamp: (b: Record<string, unknown>) => unknown): number {
  const seen = new Set<string>();
  for (const b of bodies) {
    const s = stamp(b);
    if (s !== undefined && s !== null) seen.add(JSON.stringify(s));
  }
  return seen.size;
}

// ---------------------------------------------------------------------------------------------
// CouchDB's clustered sequences
// ---------------------------------------------------------------------------------------------

/** One shard range's position in a clustered sequence: the node whose copy was read, and how far. */
export interface SeqPart {
  node: string;
  range: [number, number];
  seq: number;
}

/**
 * The parts of an opaque clustered sequence (`<sum>-<base64url of term_to_binary, compressed>`):
 * for each shard range, the node whose copy was read and the position in it. Null for what is not
 * one (a number, `0`, `now`).
 */
export function decodeClusterSeq(seq: unknown): SeqPart[] | null {
  if (typeof seq !== 'string' || !/^[0-9]+-/.test(seq)) return null;
  let buf: Buffer = Buffer.from(seq.slice(seq.indexOf('-') + 1).replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  let p = 0;
  if (buf[p++] !== 131) return null;
  if (buf[p] === 80) {
    buf = inflateSync(Uint8Array.from(buf.subarray(p + 5)));
    p = 0;
  }
  type Term = number | string | Term[] | { tuple: Term[] };
  const read = (): Term => {
    const tag = buf[p++];
    const take = (n: number) => buf.subarray((p += n) - n, p);
    switch (tag) {
      case 97:
        return buf[p++]!;
      case 98:
        return take(4).readInt32BE(0);
      case 110: {
        const n = buf[p++]!;
        const sign = buf[p++]!;
        const digits = take(n);
        let v = 0;
        for (let i = n - 1; i >= 0; i--) v = v * 256 + digits[i]!;
        return sign ? -v : v;
      }
      case 100:
      case 118:
        return take(take(2).readUInt16BE(0)).toString('utf8');
      case 115:
      case 119:
        return take(buf[p++]!).toString('utf8');
      case 104:
        return { tuple: Array.from({ length: buf[p++]! }, read) };
      case 106:
        return [];
      case 107:
        return [...take(take(2).readUInt16BE(0))];
      case 108: {
        const list = Array.from({ length: take(4).readUInt32BE(0) }, read);
        read(); // the tail, []
        return list;
      }
      case 109:
        return take(take(4).readUInt32BE(0)).toString('hex');
      default:
        throw new Error(`term tag ${tag} in a sequence`);
    }
  };
  try {
    const term = read();
    if (!Array.isArray(term)) return null;
    return term.map((part) => {
      const [node, range, pos] = (part as { tuple: Term[] }).tuple;
      const position = typeof pos === 'object' && !Array.isArray(pos) ? pos.tuple[0] : pos;
      return { node: String(node), range: range as [number, number], seq: Number(position) };
    });
  } catch {
    return null;
  }
}
