/**
 * The commune → province table (core/province-table.ts), kept once per store for the whole server:
 * the publisher files events under their province with it, and `/api/provinces` serves it. Every
 * phone gets the same document, so asking for it says nothing about where its owner has been, and a
 * CDN can carry it.
 */
import type { FastifyInstance } from 'fastify';
import { buildProvinceTable, type ProvinceTable } from '../src/lib/core/province-table';
import type { Store } from './store/couch';
import { loadUnits } from './units';
import { contentEtag, ifNoneMatch } from './http-cache';

/** The directory changes when an admin imports units: rarely. Rebuilt at most this often. */
const REBUILD_AFTER_MS = 5 * 60_000;

interface Built {
  table: ProvinceTable;
  json: string;
  etag: string;
}

const byStore = new WeakMap<Store, { at: number; built: Promise<Built> }>();

/** The current table of this store's directory, rebuilt when older than a few minutes. */
export function provinceTable(store: Store): Promise<Built> {
  const cached = byStore.get(store);
  if (cached && Date.now() - cached.at <= REBUILD_AFTER_MS) return cached.built;
  const built = loadUnits(store).then((units) => {
    const table = buildProvinceTable(units);
    const json = JSON.stringify(table);
    return { table, json, etag: contentEtag(json) };
  });
  // A store hiccup is not remembered for five minutes.
  built.catch(() => {
    if (byStore.get(store)?.built === built) byStore.delete(store);
  });
  byStore.set(store, { at: Date.now(), built });
  return built;
}

export function registerProvinces(api: FastifyInstance, store: Store): void {
  api.get('/provinces', async (req, reply) => {
    const { json, etag } = await provinceTable(store);
    reply.header('ETag', etag).header('Cache-Control', 'public, max-age=3600');
    if (ifNoneMatch(req, [etag])) return reply.status(304).send();
    return reply.type('application/json').send(json);
  });
}
