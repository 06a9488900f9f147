/**
 * Validators for public documents the same for every caller (province snapshots, the province
 * table): phones and CDNs revalidate with If-None-Match and get a body-less 304 when nothing changed.
 * And whether a client takes gzip (the snapshots, the sync gateway's answers).
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** A strong ETag from the document's bytes. */
export function contentEtag(body: string): string {
  return `"${createHash('sha256').update(body, 'utf8').digest('base64url').slice(0, 27)}"`;
}

/**
 * The current validator that If-None-Match names, if any. Weak comparison, as RFC 9110 §13.1.2
 * asks for If-None-Match: a CDN that recompresses may hand the phone a weakened `W/"…"`.
 */
export function ifNoneMatch(req: FastifyRequest, etags: readonly string[]): string | null {
  const header = req.headers['if-none-match'];
  if (!header) return null;
  if (header.trim() === '*') return etags[0]!;
  const listed = new Set(header.split(',').map((t) => t.trim().replace(/^W\//, '')));
  return etags.find((e) => listed.has(e)) ?? null;
}

/** gzip unless the client refuses it (`gzip;q=0`) or does not name it (nor `*`). */
export function acceptsGzip(req: FastifyRequest): boolean {
  const header = req.headers['accept-encoding'];
  if (!header) return false;
  let gzipQ: number | null = null;
  let starQ: number | null = null;
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find((m) => m)?.[1];
    const value = q === undefined ? 1 : Number(q);
    if (name === 'gzip' || name === 'x-gzip') gzipQ = value;
    else if (name === '*') starQ = value;
  }
  return (gzipQ ?? starQ ?? 0) > 0;
}
