/**
 * Validators for public documents the same for every caller (province snapshots, the province
 * table): phones and CDNs revalidate with If-None-Match and get a body-less 304 when nothing changed.
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
