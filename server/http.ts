/**
 * The HTTP face of the server: the built PWA, `/api`, and (later) the `/sync` gateway.
 * Nothing that identifies a person is logged: no addresses, no query strings, no bodies.
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { ServerConfig } from './config';
import type { Keyring } from './keys';
import { genuineList, isRevoked, publicKeysDocument } from './keys';
import type { Store } from './store/couch';
import type { DemoVenue } from './demo';
import fastifyCookie from '@fastify/cookie';
import { passwordGate, registerAccounts, sessionReader } from './accounts';
import { registerAdmin } from './admin';
import { registerStaff } from './staff';
import { registerProvinces } from './provinces';
import { addVenueCommune } from './users';
import { registerGateway, SYNC_BODY_LIMIT } from './sync/gateway';
import { revokedVenueIds, type Signer } from './signer';
import { registerSnapshots } from './snapshot';
import type { VenueRecord } from '../src/lib/core/documents';
import { registerTallies } from './tallies';
import { registerDiaryShare } from './diary-share';
import { registerVenueActivity } from './venue-activity';
import { registerJsonParser } from './json-body';
import { registerSubmissions } from './reports/submissions';
import { registerReportStats } from './reports/stats';

export interface AppDeps {
  config: ServerConfig;
  store: Store;
  keyring: Keyring;
  demoVenues: DemoVenue[];
  sessionSecret: Uint8Array;
  signer: Signer;
  /** Told of every accepted push into a commune database, with the kinds of document it carried. */
  onCommunePushed?: (communeCode: string, kinds: ReadonlySet<string>) => void;
}

/**
 * The path of a request as logged: no query string, no one-time share code (it would work for a
 * day), and no document id of the sync gateway (`entry:<venue>:<time>:…` says who was where when).
 */
export function loggedPath(url: string): string {
  return url
    .split('?')[0]!
    .replace(/^(\/api\/share-codes\/)[^/]+/, '$1:code')
    .replace(/^(\/api\/(admin\/)?accounts\/)(?!$)[^/]+/, '$1:user')
    .replace(/^(\/sync\/[^/]+\/)(_local\/)?(?!_)[^/]+.*$/, (_all, db: string, local?: string) => `${db}${local ?? ''}:id`)
    .replace(/^(\/sync\/[^/]+\/_local\/)[^/]+.*$/, '$1:id');
}

/**
 * Whether a state-changing request comes from this app's own pages (or from no browser at all: a
 * replicator or a command sends no Origin). A page of another site could otherwise post with the
 * user's cookie (the cookie is SameSite=Lax, which still lets some cross-site requests through).
 */
export function sameOrigin(origin: string | undefined, host: string | undefined, publicOrigin: string): boolean {
  if (origin === undefined) return true;
  if (origin === publicOrigin) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** What a request log line says of the request and the answer. */
export const LOG_SERIALIZERS = {
  // Path only: the query string could carry a phone number one day, and addresses identify people.
  req: (req: { method: string; url: string }) => ({ method: req.method, path: loggedPath(req.url) }),
  res: (res: { statusCode: number }) => ({ statusCode: res.statusCode })
};

/** API bodies are small JSON; anything larger is refused before it is read. */
const API_BODY_LIMIT = 256 * 1024;

export async function buildApp({ config, store, keyring, demoVenues, sessionSecret, signer, onCommunePushed }: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Bodies are parsed by json-body.ts; the router takes ids with dots and long paths as they are.
    routerOptions: { maxParamLength: 600 },
    // Requests Node's parser refuses before Fastify sees them (headers over 16 KB: a huge cookie, a
    // URL of 10,000 ids) get the same JSON {error, reason} as every other refusal.
    clientErrorHandler(err: Error & { code?: string }, socket) {
      if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
      const [status, answer] =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? ['431 Request Header Fields Too Large', { error: 'headers_too_large', reason: 'request headers (cookies or the address) are too large' }]
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? ['408 Request Timeout', { error: 'request_timeout', reason: 'the request was not sent in time' }]
            : ['400 Bad Request', { error: 'bad_request', reason: 'malformed HTTP request' }];
      const body = JSON.stringify(answer);
      socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
    // A path the router cannot decode (a `%` not followed by hex, bytes that are not UTF-8): Fastify's
    // own answer has no reason; this one is like every other refusal.
    frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
      const reason = err.code === 'FST_ERR_BAD_URL' ? 'malformed address: a % must start an escape of UTF-8 bytes' : 'malformed address';
      return reply.status(400).send({ error: 'bad_request', reason });
    },
    bodyLimit: API_BODY_LIMIT,
    // Fastify turns Node's limit off (0): a client that sends headers and then a body that never
    // ends would hold its connection for ever, and enough of them every connection the server has.
    // The whole request must arrive in time (a long-poll's wait is the answer's, not the request's).
    // Given to Node's server as it is made too: set afterwards (as Fastify does), Node never applies it.
    // Node looks for late requests every 30 s; a shorter limit is looked for as often as it needs.
    requestTimeout: config.requestTimeoutMs,
    http: { requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(config.requestTimeoutMs / 4))) },
    // Behind a reverse proxy (TRUST_PROXY), req.ip is the client's address from X-Forwarded-For, as
    // the per-address limits need; without it, the peer's.
    trustProxy: config.trustProxy,
    logger: config.log
      ? {
          level: 'info',
          serializers: LOG_SERIALIZERS
        }
      : false
  });

  registerJsonParser(app);

  // Two kinds of request Node answers itself, before Fastify: CONNECT (a proxy tunnel; without a
  // listener the socket is dropped without a word) and an Expect other than 100-continue (a 417
  // with an empty body). Both get a reason, as JSON, like every other refusal.
  app.server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify({ error: 'method_not_allowed', reason: 'this server is not a proxy: CONNECT is not served' });
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  app.server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify({ error: 'expectation_failed', reason: 'only Expect: 100-continue is understood' });
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });

  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    if (!sameOrigin(req.headers.origin, req.headers.host, config.publicOrigin))
      return reply.status(403).send({ error: 'forbidden', reason: 'this request came from another site' });
  });

  app.addHook('onSend', async (_req, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('Permissions-Policy', 'camera=(self), geolocation=(), microphone=()');
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; error?: string; reason?: string }, req, reply) => {
    if (err.statusCode === 429) return reply.status(429).send({ error: err.error ?? 'too_many_attempts', reason: err.reason ?? 'too many attempts' });
    // The store is down or restarting: a reason and a time to come back, not an "internal error".
    if (err.code === 'STORE_UNAVAILABLE') {
      app.log.warn({ path: loggedPath(req.url) }, 'store unavailable');
      reply.header('Retry-After', '5');
      return reply.status(503).send({ error: 'store_unavailable', reason: err.reason ?? err.message });
    }
    // A client that went away (an aborted long-poll) is not a server error. Its socket tells, not
    // the request stream: that one is destroyed as soon as a body has been read, which would turn
    // every failure of a POST into "the client closed the request".
    if (err.name === 'AbortError' || req.raw.socket?.destroyed) return reply.status(499).send({ error: 'client_gone', reason: 'the client closed the request' });
    if (err.code === 'LV_BAD_JSON') return reply.status(400).send({ error: 'bad_request', reason: err.message });
    // A write the store refused because another request changed the document first (an admin's
    // double click, two admins on one unit): the caller may simply try again.
    if (err.statusCode === 409) return reply.status(409).send({ error: 'conflict', reason: 'changed by another request at the same moment: try again' });
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) app.log.error({ err: { message: err.message, code: err.code } }, 'request failed');
    const reason =
      err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? 'request body too large'
        : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'send application/json'
          : status === 400
            ? `malformed request: ${err.message}`
            : status >= 500
              ? 'internal error'
              : err.message;
    return reply.status(status).send({ error: status >= 500 ? 'internal' : 'bad_request', reason });
  });

  // Before /api: the team's routes there read the session cookie too.
  await app.register(fastifyCookie);
  const sessionOf = sessionReader(store, sessionSecret);
  passwordGate(app, sessionOf);

  await app.register(
    async (api) => {
      // Health goes the way requests go: through the same store pool, with a short deadline, so a
      // load balancer stops sending traffic when the pool is used up or the store is down.
      api.get('/health', async (_req, reply) => {
        const couch = await store.ping();
        reply.header('Cache-Control', 'no-store');
        // publicOrigin: what posters print (null when PUBLIC_ORIGIN is unset: the page's own origin).
        return reply.status(couch ? 200 : 503).send({ ok: couch, store: couch ? 'up' : 'down', publicOrigin: config.publicOriginSet ? config.publicOrigin : null });
      });

      registerProvinces(api, store);

      // Phones cache these to verify venue codes offline (with the suspended venues, whose codes
      // no longer count); a CDN may cache them too.
      api.get('/keys', async (_req, reply) => {
        reply.header('Cache-Control', 'public, max-age=600');
        return { ...publicKeysDocument(keyring), revoked: await revokedVenueIds(store) };
      });

      // The genuine codes of a revoked key in one commune (server/keys.ts): phones fetch the list of
      // a commune when they meet a code of that key from it. The same for everyone; fixed once written.
      api.get<{ Params: { keyId: string; code: string } }>('/keys/:keyId/genuine/:code', async (req, reply) => {
        const { keyId, code } = req.params;
        if (!/^[0-9]{4}$/.test(keyId) || !/^[0-9]{5}$/.test(code)) return reply.status(400).send({ error: 'bad_request', reason: 'a 4-digit key id and a 5-digit commune code are expected' });
        if (!isRevoked(keyring, keyId)) return reply.status(404).send({ error: 'not_found', reason: 'this key is not revoked: every code it signed verifies with the key list' });
        reply.header('Cache-Control', 'public, max-age=3600');
        return genuineList(store, keyId, code);
      });

      api.get('/demo', async (_req, reply) => {
        if (!config.demo) return reply.status(404).send({ error: 'not_found', reason: 'demo data is turned off' });
        return { venues: demoVenues };
      });

      // A province's exposure events, signed: the same for every phone, so a CDN can carry the load.
      registerSnapshots(api, store, keyring);

      // The signed codes of a commune's active venues: public (they are printed on posters), the same
      // for every caller, so a CDN can carry it. Serves the typed short links of posters (/v#…).
      api.get<{ Params: { code: string } }>('/communes/:code/venues', async (req, reply) => {
        if (!/^[0-9]{5}$/.test(req.params.code)) return reply.status(400).send({ error: 'bad_request', reason: 'a 5-digit commune code is expected' });
        const venues = await store.docsByPrefix<VenueRecord>(`lv_c_${req.params.code}`, 'venue:');
        if (!venues) return reply.status(404).send({ error: 'not_found', reason: 'no venues in this commune' });
        reply.header('Cache-Control', 'public, max-age=300');
        return { venues: venues.filter((v) => v.token && v.status === 'active').map((v) => ({ venueId: v.venueId, token: v.token })) };
      });

      registerTallies(api, store, { ...config.tallies, secret: sessionSecret });
      registerDiaryShare(api, { store, secret: sessionSecret, sessionOf, limits: config.diaryShare });
      registerVenueActivity(api, store, sessionOf);
      registerSubmissions(api, { store, sessionOf });
      registerReportStats(api, store, sessionOf);

      api.all('/*', async (_req, reply) => reply.status(404).send({ error: 'not_found', reason: 'no such API' }));
    },
    { prefix: '/api' }
  );

  await registerAccounts(app, { store, secret: sessionSecret, secureCookies: config.publicOrigin.startsWith('https:'), sessionOf });
  registerAdmin(app, { store, sessionOf });
  registerStaff(app, { store, secret: sessionSecret, secureCookies: config.publicOrigin.startsWith('https:'), sessionOf });
  await app.register(
    async (sync) => {
      // Replication batches are larger than API calls.
      sync.addHook('onRoute', (route) => {
        route.bodyLimit = SYNC_BODY_LIMIT;
      });
      await registerGateway(sync, {
        store,
        sessionOf,
        onVenuesPushed: (code) => signer.pushed(code),
        onCommunePushed,
        onOwnerVenue: (userId, code) => addVenueCommune(store, userId, code),
        waiting: config.waiting
      });
    }
  );

  const fallback = path.join(config.staticDir, '200.html');
  if (existsSync(fallback)) {
    await app.register(fastifyStatic, {
      root: config.staticDir,
      wildcard: false,
      index: false,
      // The build ships .br and .gz beside each file: phones on 3G get the compressed bytes.
      preCompressed: true,
      setHeaders(reply, filePath) {
        const rel = path.relative(config.staticDir, filePath);
        // Hashed assets never change; everything else must be revalidated so updates reach phones.
        reply.header('Cache-Control', rel.startsWith(`_app${path.sep}immutable`) ? 'public, max-age=31536000, immutable' : 'no-cache');
      }
    });
    // A route's prerendered shell (`/c` -> c.html, which preloads just that page's code), else the
    // SPA fallback. The service worker does the same offline.
    app.setNotFoundHandler(async (req, reply) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply.status(404).send({ error: 'not_found', reason: 'no such route' });
      reply.header('Cache-Control', 'no-cache');
      const route = req.url.split(/[?#]/)[0]!.replace(/^\/+|\/+$/g, '');
      const shell = route === '' ? 'index.html' : `${route}.html`;
      const safe = /^[a-z0-9-]+(\/[a-z0-9-]+)*\.html$/.test(shell) && existsSync(path.join(config.staticDir, shell));
      return reply.sendFile(safe ? shell : '200.html');
    });
  } else {
    app.get('/', async (_req, reply) =>
      reply.type('text/plain; charset=utf-8').send('Lưu Vết: the app is not built yet. Run `npm run build` (npm start does it for you).')
    );
  }
  return app;
}
