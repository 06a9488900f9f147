/**
 * `GET /api/communes/:code/activity`: the anonymous check-in tallies of a commune's venues for the
 * last 14 days, for the commune's team (its venue list tells used venues from unused ones).
 * Counts only, as stored; team sessions of the commune only.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Session } from './auth';
import type { Store } from './store/couch';
import { DB } from './store/couch';
import { tallyDocId, type TallyDoc } from '../src/lib/core/tally';
import { DAY, dayKey } from '../src/lib/core/time';

const DAYS = 14;

export function registerVenueActivity(api: FastifyInstance, store: Store, sessionOf: (req: FastifyRequest) => Promise<{ session: Session | null }>, now = Date.now): void {
  api.get<{ Params: { code: string } }>('/communes/:code/activity', async (req, reply) => {
    const code = req.params.code;
    if (!/^[0-9]{5}$/.test(code)) return reply.status(400).send({ error: 'bad_request', reason: 'a 5-digit commune code is expected' });
    const { session } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: 'unauthorized', reason: 'log in as a team member of this commune' });
    if (session.role !== 'team' || !session.communes.includes(code)) return reply.status(403).send({ error: 'forbidden', reason: 'not a commune of this account' });
    const t = now();
    const res = await store.request('GET', `${DB.reports}/_all_docs`, {
      query: new URLSearchParams({ include_docs: 'true', startkey: JSON.stringify(tallyDocId(code, dayKey(t - DAYS * DAY))), endkey: JSON.stringify(tallyDocId(code, dayKey(t))) })
    });
    const venues: Record<string, Record<string, number>> = {};
    if (res.status === 200) {
      for (const row of (res.body as { rows?: { doc?: TallyDoc }[] }).rows ?? []) {
        const doc = row.doc;
        if (doc?.type !== 'tally') continue;
        for (const [venueId, n] of Object.entries(doc.venues)) (venues[venueId] ??= {})[doc.day] = n;
      }
    }
    reply.header('Cache-Control', 'private, no-store');
    return { venues };
  });
}
