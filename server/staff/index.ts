/**
 * `/api/staff/*`: a venue owner pairs a staff member's phone to one venue's station with a one-time
 * code, sees the phones paired, and unpairs one (its session ends at once). The phone gets a
 * station session (role 'station'): that venue's document and entries through the sync gateway
 * (server/sync/access.ts), nothing else, no password.
 *
 *   POST   /api/staff/pairings          owner: { communeCode, venueId, label? } -> { code, expiresAt }
 *   GET    /api/staff/stations          owner: { stations: [{ deviceId, venueId, communeCode, label, pairedAt, lastSeenAt }] }
 *   DELETE /api/staff/stations/:device  owner: unpairs the phone
 *   POST   /api/staff/pair              anyone: { code } -> a station session cookie and { venueId, communeCode, venueName, label }
 *   GET    /api/staff/station           station: what this phone is paired to (401 once unpaired)
 *   DELETE /api/staff/station           station: this phone leaves (its session and pairing end)
 *
 * Guessing: each client may type a few wrong codes (then one a minute), and all clients together
 * a bounded number a minute; codes live ten minutes and open one phone.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as v from 'valibot';
import { randomBytes } from 'node:crypto';
import { cleanStationLabel, newPairingCode, normalizePairingCode, STATION_LABEL_MAX } from '../../src/lib/core/venue/station-pairing';
import { UNIT_CODE_PATTERN, VENUE_ID_PATTERN } from '../../src/lib/core/venue/venue';
import { issueSession, newSessionId, SESSION_COOKIE, SESSION_DAYS, type Session } from '../auth';
import type { SessionOf } from '../accounts';
import { sharedClientKey } from '../client-limit';
import { hashed, secretKey, SharedDays } from '../shared/days';
import { perMinuteSpec, SharedWindows, type WindowRef } from '../shared/windows';
import { createSessionRecord, endAllSessionRecords } from '../sessions';
import { getUser } from '../users';
import type { Store } from '../store/couch';
import { createPairing, createStation, DEVICE_ID_PATTERN, getStation, lastSeen, newDeviceId, ownerStations, purgeExpiredPairings, removeStation, takePairing, type StationDoc } from './devices';

export interface StaffDeps {
  store: Store;
  secret: Uint8Array;
  secureCookies: boolean;
  sessionOf: SessionOf;
  /** Wrong codes: per client a minute (ten saved up), and all clients together a minute. */
  limits?: { clientWrongPerMinute?: number; allWrongPerMinute?: number };
}

const NewPairing = v.object({
  communeCode: v.pipe(v.string(), v.regex(/^[0-9]{5}$/)),
  venueId: v.pipe(v.string(), v.regex(VENUE_ID_PATTERN)),
  label: v.optional(v.pipe(v.string(), v.maxLength(STATION_LABEL_MAX * 4)))
});
const Pair = v.object({ code: v.pipe(v.string(), v.maxLength(64)) });

/**
 * An owner's codes: ten in any ten minutes (a morning of pairing a shift's phones), counted in a
 * shared window (perMinuteSpec): after ten at once, the next comes some ten minutes later.
 */
const OWNER_CODES_PER_MINUTE = 1;

function publicStation(s: StationDoc, lastSeenAt: string | null) {
  return { deviceId: s.deviceId, venueId: s.venueId, communeCode: s.communeCode, label: s.label, pairedAt: s.pairedAt, lastSeenAt };
}

export function registerStaff(app: FastifyInstance, { store, secret, secureCookies, sessionOf, limits }: StaffDeps): void {
  // Wrong pairing codes and an owner's new codes are counted in the store, so every instance spends
  // the same allowance: a guesser spread over N instances by the proxy gets no more tries, and an
  // owner no more live codes for guessers to hit.
  const windows = new SharedWindows(new SharedDays(store, Date.now, (message) => app.log.warn(message)));
  const clientWrong = perMinuteSpec('pc', limits?.clientWrongPerMinute ?? 1);
  const allWrong = perMinuteSpec('pa', limits?.allWrongPerMinute ?? 60);
  const ownerCodes = perMinuteSpec('po', OWNER_CODES_PER_MINUTE);
  // Window documents name an owner by an HMAC, as they name an address: not by the account id.
  const ownerKey = secretKey(secret, 'pairing-owner');

  async function owner(req: FastifyRequest, reply: FastifyReply): Promise<Session | null> {
    const { session, problem } = await sessionOf(req);
    if (!session) {
      reply.status(401).send({ error: 'not_logged_in', reason: problem === 'expired' ? 'session expired: log in again' : 'log in first' });
      return null;
    }
    if (session.role !== 'owner') {
      reply.status(403).send({ error: 'forbidden', reason: 'only a venue owner pairs and unpairs station phones' });
      return null;
    }
    return session;
  }

  async function station(req: FastifyRequest, reply: FastifyReply): Promise<Session | null> {
    const { session } = await sessionOf(req);
    if (session?.role === 'station') return session;
    reply.status(401).send({ error: 'not_paired', reason: 'this device is not paired to a station (or it was unpaired)' });
    return null;
  }

  /** The venue document, when it is a live venue of this owner. */
  async function ownedVenue(ownerId: string, communeCode: string, venueId: string): Promise<{ name: string } | null> {
    const res = await store.request('GET', `lv_c_${communeCode}/${encodeURIComponent(`venue:${venueId}`)}`);
    if (res.status !== 200) return null;
    const doc = res.body as { type?: string; owner?: string; name?: string };
    return doc.type === 'venue' && doc.owner === ownerId ? { name: doc.name ?? '' } : null;
  }

  app.post('/api/staff/pairings', async (req, reply) => {
    const session = await owner(req, reply);
    if (!session) return reply;
    const input = v.safeParse(NewPairing, req.body);
    if (!input.success) return reply.status(400).send({ error: 'bad_request', reason: 'communeCode (5 digits) and venueId of one of your venues are required; label is optional' });
    const { communeCode, venueId } = input.output;
    if (!UNIT_CODE_PATTERN.test(communeCode) || !(await ownedVenue(session.userId, communeCode, venueId)))
      return reply.status(404).send({ error: 'not_found', reason: 'no venue of yours with this id in this commune (a venue made offline must sync first)' });
    const now = Date.now();
    const ref: WindowRef = { spec: ownerCodes, key: hashed(ownerKey, session.userId) };
    const [got] = await windows.take([{ ref, want: 1 }], now);
    if (!got) {
      const wait = Math.max(SharedWindows.of(await windows.read([ref], now), ref).wait, 1);
      reply.header('Retry-After', String(wait));
      return reply.status(429).send({ error: 'too_many_attempts', reason: `too many pairing codes in a short time: try again in ${Math.ceil(wait / 60)} min` });
    }
    const code = newPairingCode((n) => new Uint8Array(randomBytes(n)));
    const pairing = await createPairing(store, code, { ownerId: session.userId, venueId, communeCode, label: cleanStationLabel(input.output.label ?? '') });
    await purgeExpiredPairings(store);
    reply.status(201);
    return { code, expiresAt: pairing.expiresAt };
  });

  app.get('/api/staff/stations', async (req, reply) => {
    const session = await owner(req, reply);
    if (!session) return reply;
    const stations = await ownerStations(store, session.userId);
    const seen = await Promise.all(stations.map((s) => lastSeen(store, s.deviceId)));
    reply.header('Cache-Control', 'no-store');
    return { stations: stations.map((s, i) => publicStation(s, seen[i] ?? null)).sort((a, b) => a.pairedAt.localeCompare(b.pairedAt)) };
  });

  app.delete<{ Params: { device: string } }>('/api/staff/stations/:device', async (req, reply) => {
    const session = await owner(req, reply);
    if (!session) return reply;
    const device = req.params.device;
    const found = DEVICE_ID_PATTERN.test(device) ? await getStation(store, session.userId, device) : null;
    if (!found) return reply.status(404).send({ error: 'not_found', reason: 'no phone of yours with this id (unpaired already?)' });
    await unpair(found);
    return { ok: true };
  });

  /** Ends a paired phone: its pairing, its session records, and this process's cache of both. */
  async function unpair(found: StationDoc) {
    await removeStation(store, found);
    await endAllSessionRecords(store, found.deviceId);
    sessionOf.forgetUser(found.deviceId);
  }

  app.post('/api/staff/pair', async (req, reply) => {
    const input = v.safeParse(Pair, req.body);
    if (!input.success) return reply.status(400).send({ error: 'bad_request', reason: 'code is required' });
    const now = Date.now();
    const refs: WindowRef[] = [
      { spec: clientWrong, key: sharedClientKey(secret, req.ip, now) },
      { spec: allWrong, key: 'all' }
    ];
    // A token is taken for each try and given back when the code was right: only wrong codes count.
    const got = await windows.take(
      refs.map((ref) => ({ ref, want: 1 })),
      now
    );
    if (got.some((n) => n < 1)) {
      // What one window granted goes back when the other refused: a refused try costs nothing.
      await windows.giveBack(
        refs.filter((_, i) => got[i]! >= 1),
        Date.now()
      );
      const wait = Math.max(SharedWindows.of(await windows.read(refs.slice(0, 1), now), refs[0]!).wait, 1);
      reply.header('Retry-After', String(wait));
      return reply.status(429).send({ error: 'too_many_attempts', reason: 'too many wrong codes: wait a minute, then type the code again' });
    }
    const code = normalizePairingCode(input.output.code);
    const pairing = code ? await takePairing(store, code, now) : null;
    const venue = pairing ? await ownedVenue(pairing.ownerId, pairing.communeCode, pairing.venueId) : null;
    const ownerAccount = pairing ? await getUser(store, pairing.ownerId) : null;
    if (!pairing || !venue || !ownerAccount || ownerAccount.disabled) {
      return reply.status(404).send({ error: 'wrong_code', reason: 'this code is wrong, used already, or more than 10 minutes old: ask the owner for a new one' });
    }
    await windows.giveBack(refs, Date.now());
    const deviceId = newDeviceId();
    const created = await createStation(store, pairing, deviceId, now);
    const sessionId = newSessionId();
    await createSessionRecord(store, deviceId, sessionId, now);
    const token = await issueSession(
      { userId: deviceId, role: 'station', communes: [created.communeCode], sessionVersion: 0, venueId: created.venueId, ownerId: created.ownerId, sessionId },
      secret
    );
    reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: secureCookies, path: '/', maxAge: SESSION_DAYS * 24 * 3600 });
    reply.status(201);
    return { deviceId, venueId: created.venueId, communeCode: created.communeCode, venueName: venue.name, label: created.label };
  });

  app.get('/api/staff/station', async (req, reply) => {
    const session = await station(req, reply);
    if (!session) return reply;
    reply.header('Cache-Control', 'no-store');
    const found = await getStation(store, session.ownerId!, session.userId);
    const venue = found ? await ownedVenue(found.ownerId, found.communeCode, found.venueId) : null;
    if (!found) return reply.status(401).send({ error: 'not_paired', reason: 'this device was unpaired' });
    return { deviceId: found.deviceId, venueId: found.venueId, communeCode: found.communeCode, venueName: venue?.name ?? '', label: found.label };
  });

  app.delete('/api/staff/station', async (req, reply) => {
    const session = await station(req, reply);
    if (!session) return reply;
    const found = await getStation(store, session.ownerId!, session.userId);
    if (found) await unpair(found);
    else {
      await endAllSessionRecords(store, session.userId);
      sessionOf.forgetUser(session.userId);
    }
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookies });
    return { ok: true };
  });
}
