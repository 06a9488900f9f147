/**
 * Leases (server/shared/lease.ts) on a real store: two holders contend and one wins; expiry, with
 * its skew margin, lets another take over; release; renewal; unfinished work found again; a shared
 * schedule run by one of two instances. Clocks are given to each holder, so nothing waits on time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { clearWanted, Lease, markWanted, readLease, sharedSchedule, unfinishedLeases, wantedWork, withLease } from '../../server/shared/lease';

let dataDir: string;
let server: RunningServer;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-lease-'));
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none') }));
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 0, 1);
const TTL = 30_000;
const SKEW = 2_000;

function clock(start = T0) {
  let t = start;
  return { now: () => t, set: (v: number) => (t = v) };
}

describe('a lease', () => {
  it('goes to one of two holders that take it at once', async () => {
    for (let round = 0; round < 5; round++) {
      const name = `contend-${round}`;
      const a = new Lease(server.store, name, { holder: 'a', ttlMs: TTL, skewMs: SKEW });
      const b = new Lease(server.store, name, { holder: 'b', ttlMs: TTL, skewMs: SKEW });
      const [ta, tb] = await Promise.all([a.acquire(), b.acquire()]);
      expect([ta !== false, tb !== false].filter(Boolean)).toHaveLength(1);
      expect([a.held, b.held].filter(Boolean)).toHaveLength(1);
      const stored = await readLease(server.store, name);
      expect(stored?.holder).toBe(a.held ? 'a' : 'b');
      // The loser stays out while the winner holds it, however often it asks.
      const loser = a.held ? b : a;
      expect(await loser.acquire()).toBe(false);
    }
  });

  it('is taken over once expired, and only after the skew margin', async () => {
    const ca = clock();
    const cb = clock();
    const a = new Lease(server.store, 'expiry', { holder: 'a', ttlMs: TTL, skewMs: SKEW, now: ca.now });
    const b = new Lease(server.store, 'expiry', { holder: 'b', ttlMs: TTL, skewMs: SKEW, now: cb.now });
    expect(await a.acquire()).toBeNull();
    expect(a.held).toBe(true);

    // Just past the end by b's clock, within the skew: still a's.
    cb.set(T0 + TTL + SKEW - 1);
    expect(await b.acquire()).toBe(false);
    // The holder stops counting on it a margin before its end.
    ca.set(T0 + TTL - SKEW);
    expect(a.held).toBe(false);

    cb.set(T0 + TTL + SKEW);
    const before = await b.acquire();
    expect(before).not.toBe(false);
    expect(before && before.holder).toBe('a');
    expect(b.held).toBe(true);
    // a renewing late finds it taken: no longer its own.
    expect(await a.renew()).toBe(false);
    expect(a.held).toBe(false);
    expect((await readLease(server.store, 'expiry'))?.holder).toBe('b');
  });

  it('renewed, stays with its holder past its first end', async () => {
    const ca = clock();
    const cb = clock();
    const a = new Lease(server.store, 'renew', { holder: 'a', ttlMs: TTL, skewMs: SKEW, now: ca.now });
    const b = new Lease(server.store, 'renew', { holder: 'b', ttlMs: TTL, skewMs: SKEW, now: cb.now });
    await a.acquire();
    ca.set(T0 + TTL / 2);
    expect(await a.renew()).toBe(true);
    cb.set(T0 + TTL + SKEW + 1);
    expect(await b.acquire()).toBe(false);
    cb.set(T0 + TTL / 2 + TTL + SKEW);
    expect(await b.acquire()).not.toBe(false);
  });

  it('released, is free at once, and says whether its work was done', async () => {
    const a = new Lease(server.store, 'release', { holder: 'a', ttlMs: TTL, skewMs: SKEW });
    const b = new Lease(server.store, 'release', { holder: 'b', ttlMs: TTL, skewMs: SKEW });
    await a.acquire();
    expect((await readLease(server.store, 'release'))?.pending).toBe(true);
    await a.release({ done: false });
    let stored = await readLease(server.store, 'release');
    expect(stored).toMatchObject({ holder: null, pending: true, lastHolder: 'a', doneAt: null });
    // Unfinished and held by nobody: another instance finds it.
    expect((await unfinishedLeases(server.store, 'release')).map((l) => l.name)).toEqual(['release']);

    const before = await b.acquire();
    expect(before && before.lastHolder).toBe('a');
    await b.release({ done: true });
    stored = await readLease(server.store, 'release');
    expect(stored).toMatchObject({ holder: null, pending: false, lastHolder: 'b' });
    expect(typeof stored?.doneAt).toBe('number');
    expect(await unfinishedLeases(server.store, 'release')).toEqual([]);

    // Done and removed: nothing left.
    await a.acquire();
    await a.release({ done: true, remove: true });
    expect(await readLease(server.store, 'release')).toBeNull();
    expect(await b.acquire()).toBeNull();
  });

  it('left by a dead holder, is found unfinished once expired', async () => {
    const dead = new Lease(server.store, 'unfinished:x', { holder: 'dead', ttlMs: TTL, skewMs: SKEW, now: () => T0 });
    await dead.acquire();
    expect(await unfinishedLeases(server.store, 'unfinished:', { now: () => T0 + TTL })).toEqual([]);
    expect((await unfinishedLeases(server.store, 'unfinished:', { now: () => T0 + TTL + SKEW })).map((l) => l.holder)).toEqual(['dead']);
  });

  it('wanted work stands until a pass that started after it, on the asker\'s clock or past the skew on another\'s', async () => {
    const names = async () => (await wantedWork(server.store, 'wanted:')).map((w) => w.name);
    await markWanted(server.store, 'wanted:a', 'asker', () => T0);
    await markWanted(server.store, 'wanted:a', 'asker', () => T0 + 10); // written again: one want, the later time
    expect(await wantedWork(server.store, 'wanted:')).toEqual([expect.objectContaining({ name: 'wanted:a', at: T0 + 10, by: 'asker' })]);
    // A pass of the asker itself that started before the want: it may not have seen the push.
    await clearWanted(server.store, 'wanted:a', { startedAt: T0 + 9, holder: 'asker', skewMs: SKEW });
    expect(await names()).toEqual(['wanted:a']);
    // Another instance's pass, started after it by less than the skew: its clock may be behind.
    await clearWanted(server.store, 'wanted:a', { startedAt: T0 + 10 + SKEW - 1, holder: 'other', skewMs: SKEW });
    expect(await names()).toEqual(['wanted:a']);
    await clearWanted(server.store, 'wanted:a', { startedAt: T0 + 10 + SKEW, holder: 'other', skewMs: SKEW });
    expect(await names()).toEqual([]);
    // The asker's own pass started at or after it clears it at once.
    await markWanted(server.store, 'wanted:b', 'asker', () => T0);
    await clearWanted(server.store, 'wanted:b', { startedAt: T0, holder: 'asker', skewMs: SKEW });
    expect(await names()).toEqual([]);
  });

  it('withLease runs the work once between two holders, and a failed work stays pending', async () => {
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = new Lease(server.store, 'with', { holder: 'a', ttlMs: TTL, skewMs: SKEW });
    const b = new Lease(server.store, 'with', { holder: 'b', ttlMs: TTL, skewMs: SKEW });
    const work = async () => {
      runs++;
      await gate;
      return runs;
    };
    const first = withLease(a, work);
    // b asks while a works: refused.
    while ((await readLease(server.store, 'with'))?.holder !== 'a') await new Promise((r) => setTimeout(r, 5));
    expect(await withLease(b, work)).toEqual({ ran: false });
    release();
    expect(await first).toMatchObject({ ran: true, value: 1 });
    expect(runs).toBe(1);

    await expect(
      withLease(b, async () => {
        throw new Error('store gone');
      })
    ).rejects.toThrow('store gone');
    expect(await readLease(server.store, 'with')).toMatchObject({ holder: null, pending: true });
  });
});

describe('a shared schedule', () => {
  it('runs on one of two instances, then not again until due; forced, it runs', async () => {
    const runs: string[] = [];
    const make = (holder: string) =>
      sharedSchedule(server.store, 'sched', {
        everyMs: 60 * 60_000,
        checkMs: 60 * 60_000,
        holder,
        log: () => {},
        run: async () => {
          runs.push(holder);
          await new Promise((r) => setTimeout(r, 50));
        }
      });
    const a = make('a');
    const b = make('b');
    // Both looked at start; let the looks finish.
    for (let i = 0; i < 200 && ((await readLease(server.store, 'sched'))?.doneAt ?? null) === null; i++) await new Promise((r) => setTimeout(r, 10));
    expect(runs).toHaveLength(1);
    expect(await a.runNow()).toBe(true);
    expect(runs).toHaveLength(2);
    a.stop();
    b.stop();
  });
});
