/**
 * `GET /api/communes/:code/activity`: the anonymous check-in tallies of a commune's venues for the
 * last 14 days, for the commune's team (its venue list tells used venues from unused ones).
 * Counts only, as stored; team sessions of the commune only.
 *
 * `GET /api/communes/:code/venues/:venueId/activity`: the same tallies of one venue, for its owner
 * only (the venue document names its owner), for the dashboard's citizens' check-ins.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Session } from './auth';
import type { Store } from './store/couch';
import { communeDbName, DB } from './store/couch';
import { VENUE_ID_PATTERN } from '../src/lib/core/venue/venue';
import { tallyDocId, type TallyDoc } from '../src/lib/core/citizen/tally';
import { DAY, dayKey } from '../src/lib/core/time';

const DAYS = 14;

export function registerVenueActivity(api: FastifyInstance, store: Store, sessionOf: (req: FastifyRequest) => Promise<{ session: Session | null }>, now = Date.now): void {
  /** Per venue, per day, the tallied check-ins of a commune over the last DAYS days. */
  async function talliesOf(code: string): Promise<Record<string, Record<string, number>>> {
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
    return venues;
  }

  api.get<{ Params: { code: string } }>('/communes/:code/activity', async (req, reply) => {
    const code = req.params.code;
    if (!/^[0-9]{5}$/.test(code)) return reply.status(400).send({ error: 'bad_request', reason: 'a 5-digit commune code is expected' });
    const { session } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: 'unauthorized', reason: 'log in as a team member of this commune' });
    if (session.role !== 'team' || !session.communes.includes(code)) return reply.status(403).send({ error: 'forbidden', reason: 'not a commune of this account' });
    const venues = await talliesOf(code);
    reply.header('Cache-Control', 'private, no-store');
    return { venues };
  });

  api.get<{ Params: { code: string; venueId: string } }>('/communes/:code/venues/:venueId/activity', async (req, reply) => {
    const { code, venueId } = req.params;
    if (!/^[0-9]{5}$/.test(code)) return reply.status(400).send({ error: 'bad_request', reason: 'a 5-digit commune code is expected' });
    if (!VENUE_ID_PATTERN.test(venueId)) return reply.status(400).send({ error: 'bad_request', reason: 'a venue id is 12 letters a–z and digits 2–7' });
    const { session } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: 'unauthorized', reason: 'log in as the owner of this venue' });
    if (session.role !== 'owner') return reply.status(403).send({ error: 'forbidden', reason: "only the venue's owner reads its check-ins here" });
    const res = await store.request('GET', `${communeDbName(code)}/${encodeURIComponent(`venue:${venueId}`)}`);
    const venue = res.status === 200 ? (res.body as { type?: string; owner?: string }) : null;
    // The same answer for a venue of someone else and one that does not exist: nothing to probe.
    if (venue?.type !== 'venue' || venue.owner !== session.userId) return reply.status(404).send({ error: 'not_found', reason: 'no venue of yours with this id in this commune' });
    const days = (await talliesOf(code))[venueId] ?? {};
    reply.header('Cache-Control', 'private, no-store');
    return { venueId, days, throughDay: dayKey(now() - DAY) };
  });
}
