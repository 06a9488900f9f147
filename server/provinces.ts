/**
 * `/api/provinces`: the commune → province table (core/province-table.ts). Every phone gets the
 * same document, so asking for it says nothing about where its owner has been, and a CDN can carry it.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildProvinceTable } from '../src/lib/core/province-table';
import type { Store } from './store/couch';
import { loadUnits } from './units';

/** The directory changes when an admin imports units: rarely. Rebuilt at most this often. */
const REBUILD_AFTER_MS = 5 * 60_000;

export function registerProvinces(api: FastifyInstance, store: Store): void {
  let cached: { at: number; body: Promise<{ json: string; etag: string }> } | null = null;
  const current = () => {
    if (!cached || Date.now() - cached.at > REBUILD_AFTER_MS) {
      const body = loadUnits(store).then((units) => {
        const json = JSON.stringify(buildProvinceTable(units));
        return { json, etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"` };
      });
      body.catch(() => (cached = null)); // a store hiccup is not remembered for five minutes
      cached = { at: Date.now(), body };
    }
    return cached.body;
  };

  api.get('/provinces', async (req, reply) => {
    const { json, etag } = await current();
    reply.header('ETag', etag).header('Cache-Control', 'public, max-age=3600');
    if (req.headers['if-none-match'] === etag) return reply.status(304).send();
    return reply.type('application/json').send(json);
  });
}
