/**
 * The server's only way to storage: the CouchDB HTTP API through nano. The same code runs on the
 * embedded store and on an Apache CouchDB 3 cluster.
 */
import http from 'node:http';
import https from 'node:https';
import Nano, { type DocumentScope, type ServerScope } from 'nano';
import { guardNano, StoreUnavailableError } from './unavailable';
import { deadline } from '../deadline';

// The gateway relays every replication request: pooled keep-alive sockets spare a connection per call.
const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
// Long-polls hold a connection for up to their whole bound: they get their own sockets, so that
// phones waiting for changes never take the pool that every other request needs. The gateway caps
// how many run at once (server/sync/longpoll.ts), which bounds these too.
const longpollHttpAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const longpollHttpsAgent = new https.Agent({ keepAlive: true, maxSockets: Infinity });

/** A store call that got no answer in time: the caller answers 503 rather than waiting for ever. */
export const STORE_TIMEOUT_MS = 30_000;


export const DB = {
  directory: 'lv_directory',
  exposures: 'lv_exposures',
  users: 'lv_users',
  reports: 'lv_reports',
  /** one-time codes for sharing a diary online (server/diary-share.ts): server only */
  shareCodes: 'lv_share_codes'
} as const;

export function communeDbName(communeCode: string): string {
  if (!/^[0-9]{5}$/.test(communeCode)) throw new Error(`not a commune code: ${communeCode}`);
  return `lv_c_${communeCode}`;
}

/**
 * Second wall (DESIGN §2): nothing outside reaches CouchDB, and even so every database admits only
 * server admins and the `lv_server` role. Public data is public through the gateway, not here.
 */
const SECURITY = {
  admins: { names: [], roles: [] },
  members: { names: [], roles: ['lv_server'] }
};

export interface CouchResponse {
  status: number;
  body: unknown;
}

export class Store {
  readonly couch: ServerScope;
  readonly #base: string;
  readonly #auth: string | null;
  /** Databases being made now, by name: callers at the same moment share one making. */
  readonly #ensuring = new Map<string, Promise<void>>();

  constructor(url: string) {
    // A store that is not there (restarting, down) fails every call with StoreUnavailableError (503).
    this.couch = guardNano(Nano({ url }));
    const parsed = new URL(url);
    this.#auth = parsed.username ? 'Basic ' + Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64') : null;
    parsed.username = '';
    parsed.password = '';
    this.#base = parsed.href.replace(/\/+$/, '');
  }

  /**
   * A raw CouchDB HTTP call for the sync gateway, which relays replication requests as they are
   * (nano has no call for _revs_diff or _bulk_get with their exact options).
   */
  async request(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    opts: { query?: URLSearchParams; body?: unknown; signal?: AbortSignal; pool?: 'longpoll'; timeoutMs?: number } = {}
  ): Promise<CouchResponse> {
    // `..` or `.` in a path would be resolved by the URL parser into another database or the
    // store's root: no caller may ever name one (ids are encoded, so only a bug or a client's raw
    // segment could bring one here).
    if (path.split('/').some((segment) => segment === '.' || segment === '..')) throw Object.assign(new Error('dot segment in a store path'), { statusCode: 400 });
    const qs = opts.query && [...opts.query.keys()].length ? `?${opts.query}` : '';
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#auth) headers.authorization = this.#auth;
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const url = new URL(`${this.#base}/${path}${qs}`);
    const secure = url.protocol === 'https:';
    const agent = opts.pool === 'longpoll' ? (secure ? longpollHttpsAgent : longpollHttpAgent) : secure ? httpsAgent : httpAgent;
    const limit = deadline(opts.timeoutMs ?? STORE_TIMEOUT_MS, opts.signal);
    const signal = limit.signal;
    const text = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const fail = (err: Error) => {
        // The caller's own abort (a client gone) stays an AbortError; anything else means no store.
        if (opts.signal?.aborted) reject(err);
        else reject(new StoreUnavailableError(limit.expired ? new Error('no answer in time') : err));
      };
      const req = (secure ? https : http).request(url, { method, headers, agent, signal }, (res) => {
        // setEncoding decodes UTF-8 across chunk boundaries.
        res.setEncoding('utf8');
        let body = '';
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, text: body }));
        res.on('error', fail);
      });
      req.on('error', fail);
      req.end(payload);
    }).finally(() => limit.clear());
    let body: unknown = null;
    try {
      body = text.text ? JSON.parse(text.text) : null;
    } catch {
      body = { error: 'bad_gateway', reason: 'the store answered something that is not JSON' };
    }
    return { status: text.status, body };
  }

  /**
   * The documents whose ids start with `prefix` (`venue:`, `exposure:`, `exp:42:`…): ids carry the
   * kind, so a key range reads one kind without a view. Null when the database does not exist.
   */
  async docsByPrefix<T>(db: string, prefix: string): Promise<T[] | null> {
    const res = await this.request('GET', `${db}/_all_docs`, {
      query: new URLSearchParams({ startkey: JSON.stringify(prefix), endkey: JSON.stringify(`${prefix}\ufff0`), include_docs: 'true' })
    });
    if (res.status === 404) return null;
    if (res.status !== 200) throw new Error(`reading ${prefix}* of ${db} answered ${res.status}`);
    return ((res.body as { rows?: { doc?: T | null }[] }).rows ?? []).map((r) => r.doc).filter((d): d is T => !!d);
  }

  db<T extends object>(name: string): DocumentScope<T> {
    return this.couch.use<T>(name);
  }

  /** Creates the database when missing and sets its _security; safe to call on every start. */
  async ensureDb(name: string): Promise<void> {
    // Requests that need the same new database at once (a team's parallel calls, first pushes to a
    // commune) share one making of it.
    const running = this.#ensuring.get(name);
    if (running) return running;
    const making = this.#makeDb(name).finally(() => this.#ensuring.delete(name));
    this.#ensuring.set(name, making);
    return making;
  }

  async #makeDb(name: string): Promise<void> {
    try {
      await this.couch.db.create(name);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 412) throw err;
    }
    // The embedded store keeps _security as a revisioned document: another instance writing it at
    // the same moment is a 409, and the write is tried again on the new revision.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.couch.request({ db: name, path: '_security', method: 'PUT', body: SECURITY });
        return;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 409 || attempt >= 5) throw err;
        await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
      }
    }
  }

  async bootstrap(): Promise<void> {
    for (const name of Object.values(DB)) await this.ensureDb(name);
  }

  /** A commune database (made when a commune first needs one). */
  async ensureCommuneDb(communeCode: string): Promise<string> {
    const name = communeDbName(communeCode);
    await this.ensureDb(name);
    return name;
  }

  /**
   * Whether the store answers through the same pool that requests use, within `timeoutMs`: health
   * must fail when requests would (a pool used up by stuck calls answers nothing).
   */
  async ping(timeoutMs = 2_000): Promise<boolean> {
    try {
      return (await this.request('GET', '', { timeoutMs })).status === 200;
    } catch {
      return false;
    }
  }
}


/** Reads a doc, or null when it does not exist. */
export async function getOrNull<T extends object>(db: DocumentScope<T>, id: string): Promise<(T & Nano.DocumentGetResponse) | null> {
  try {
    return await db.get(id);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw err;
  }
}
