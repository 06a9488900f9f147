/**
 * The server's JSON body parser. Fastify's default hands any nesting to JSON.parse, and a body of
 * 100,000 `[` (a few hundred KB) then overflows the stack somewhere later: in JSON.parse, in
 * valibot, or in JSON.stringify on the way to the store, as a 500. No document of this app nests
 * deeper than a handful of levels, so bodies deeper than MAX_JSON_DEPTH are refused before parsing,
 * by a scan that costs one pass over the text and no recursion.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Deepest nesting any client of this app sends (a follow-up in a _bulk_docs batch is about 6). */
export const MAX_JSON_DEPTH = 32;

/** The deepest nesting of arrays and objects in a JSON text (strings and escapes skipped). */
export function jsonDepth(text: string, stopAt = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max && (max = depth) > stopAt) return max;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

export class BadJsonBody extends Error {
  readonly statusCode = 400;
  readonly code = 'LV_BAD_JSON';
}

/**
 * Replaces the default `application/json` parser: an empty body is `undefined` (CouchDB's replicator
 * posts `_ensure_full_commit` with an empty JSON body), too deep a body is a 400, invalid JSON is a
 * 400 that says where.
 */
export function registerJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) return done(new BadJsonBody(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`));
    try {
      // A reviver costs a call per value: used only when a body names __proto__, which it drops.
      const value = text.includes('"__proto__"') ? JSON.parse(text, (key, v) => (key === '__proto__' ? undefined : v)) : JSON.parse(text);
      done(null, value);
    } catch (err) {
      done(new BadJsonBody(`malformed JSON: ${(err as Error).message.slice(0, 120)}`));
    }
  });
}
