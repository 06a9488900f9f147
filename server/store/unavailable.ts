/**
 * The store not answering (the embedded store's process restarting, CouchDB down or unreachable)
 * as one error the HTTP layer can tell from a bug: statusCode 503, code STORE_UNAVAILABLE, and a
 * reason in words. Without it a refused connection is a bare socket error, answered as a 500.
 */

export const STORE_UNAVAILABLE = 'STORE_UNAVAILABLE';

export class StoreUnavailableError extends Error {
  readonly statusCode = 503;
  readonly code = STORE_UNAVAILABLE;
  /** The `{error, reason}` of the answer. */
  readonly error = 'store_unavailable';
  readonly reason = 'the database is not reachable right now; try again in a few seconds';

  constructor(cause: unknown) {
    super('the store is not reachable', { cause });
    this.name = 'StoreUnavailableError';
  }
}

/**
 * A store that answered with an error of its own (a 5xx; a cluster's 412 for a sequence it cannot
 * place): a 503 for the client, to try again, not a 500. The store's reason goes to the server log only.
 */
export function storeFailed(what: string, res: { status: number; body: unknown }): StoreUnavailableError {
  const reason = (res.body as { reason?: unknown } | null)?.reason;
  return new StoreUnavailableError(new Error(`${what} answered ${res.status}${typeof reason === 'string' ? `: ${reason.slice(0, 120)}` : ''}`));
}

/** Socket-level failures of a call to the store: nothing was answered, the store was not there. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED'
]);

export function isConnectionFailure(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof StoreUnavailableError) return true;
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    // An aborted call (a long-poll whose client left) is not the store's failure.
    if (name === 'AbortError' || code === 'ABORT_ERR') return false;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    // nano drops the socket error and keeps its words only.
    if (typeof message === 'string' && /^error happened in your connection/.test(message)) return true;
  }
  return false;
}

/** The error to throw for a failed store call: StoreUnavailableError when the store was not reachable. */
export function storeError(err: unknown): unknown {
  return !(err instanceof StoreUnavailableError) && isConnectionFailure(err) ? new StoreUnavailableError(err) : err;
}

/**
 * nano, with every call's connection failure turned into StoreUnavailableError. Wraps the
 * functions and sub-objects (`couch.db`, `couch.use(name)`) of a nano scope; streams and plain
 * values go through as they are.
 */
export function guardNano<T extends object>(scope: T): T {
  return wrap(scope, new WeakMap()) as T;
}

function wrap(target: object, seen: WeakMap<object, object>): object {
  const known = seen.get(target);
  if (known) return known;
  const proxy = new Proxy(target, {
    get(obj, key, receiver) {
      const value: unknown = Reflect.get(obj, key, receiver);
      if (typeof value === 'function') {
        return (...args: unknown[]) => guardResult((value as (...a: unknown[]) => unknown).apply(obj, args), seen);
      }
      if (value && typeof value === 'object' && !isStreamLike(value) && !(value instanceof Promise)) return wrap(value, seen);
      return value;
    }
  });
  seen.set(target, proxy);
  return proxy;
}

function guardResult(result: unknown, seen: WeakMap<object, object>): unknown {
  if (result instanceof Promise) {
    return result.catch((err: unknown) => {
      throw storeError(err);
    });
  }
  // couch.use(name) and friends: a document scope, whose calls are guarded in turn.
  if (result && typeof result === 'object' && !isStreamLike(result)) return wrap(result, seen);
  return result;
}

function isStreamLike(value: object): boolean {
  return typeof (value as { pipe?: unknown }).pipe === 'function' || typeof (value as { on?: unknown }).on === 'function';
}
