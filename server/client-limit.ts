/**
 * Per-client limits of the anonymous APIs (tallies, diary sharing, logins), without keeping addresses.
 *
 * A client is an IPv4 address or the /64 of an IPv6 address. Limits shared by every server instance
 * (diary sharing, logins, station pairing) use it only as an HMAC under a key derived from the server
 * secret and the Vietnamese day (`sharedClientKey`), in a day's database of shared state that is
 * dropped after a few days (server/shared/days.ts). The tallies' per-address limits stay in each
 * process's memory on purpose (a proxy keeps an address on one instance: docs/deploy.md §4), so that
 * nothing anywhere records which addresses sent reports: they use `ClientKeys`, an HMAC under a
 * random salt replaced every day, never stored.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { DAY, dayKey, HOUR, MINUTE } from '../src/lib/core/time';
import { hashed, secretKey } from './shared/days';

/** Vietnam keeps UTC+7 all year (core/time.ts): a day there starts at 17:00 UTC. */
const VN_OFFSET = 7 * HOUR;
const MAX_BUCKETS = 200_000;

/** Token buckets: `perMinute` tokens a minute, up to ten minutes' worth saved up. */
export class Buckets {
  readonly #map = new Map<string, { tokens: number; at: number }>();
  readonly #capacity: number;
  readonly #perMs: number;

  constructor(readonly perMinute: number) {
    this.#capacity = perMinute * 10;
    this.#perMs = perMinute / MINUTE;
  }

  /** Takes up to `want` tokens; returns how many it got. */
  take(key: string, want: number, now: number): number {
    if (this.perMinute <= 0) return want;
    let b = this.#map.get(key);
    if (b) b.tokens = Math.min(this.#capacity, b.tokens + (now - b.at) * this.#perMs);
    else {
      if (this.#map.size >= MAX_BUCKETS) this.#shrink(now);
      this.#map.set(key, (b = { tokens: this.#capacity, at: now }));
    }
    b.at = now;
    const got = Math.min(want, Math.floor(b.tokens));
    b.tokens -= got;
    return got;
  }

  /** Gives back tokens taken for something that turned out not to count (up to the capacity). */
  giveBack(key: string, n: number): void {
    const b = this.#map.get(key);
    if (b) b.tokens = Math.min(this.#capacity, b.tokens + n);
  }

  /** Seconds until one token is there again. */
  waitSeconds(key: string): number {
    const b = this.#map.get(key);
    return b ? Math.max(1, Math.ceil((1 - b.tokens) / this.#perMs / 1000)) : 1;
  }

  clear(): void {
    this.#map.clear();
  }

  /** A full bucket is the same as none: drop those; if still too many (a flood of keys), the oldest. */
  #shrink(now: number) {
    for (const [key, b] of this.#map) if (b.tokens + (now - b.at) * this.#perMs >= this.#capacity) this.#map.delete(key);
    for (const key of this.#map.keys()) {
      if (this.#map.size < MAX_BUCKETS / 2) break;
      this.#map.delete(key);
    }
  }
}

/** One client for the limit: an IPv4 address, or the /64 of an IPv6 address (one subscriber's prefix). */
export function clientOf(ip: string): string {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4) return v4[1]!;
  const [head = '', tail = ''] = ip.split('%')[0]!.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':') + '::/64';
}

/** Keys for the per-client limit: HMAC of the client under a salt replaced every Vietnamese day. */
export class ClientKeys {
  // Uint8Array copies: the Buffer type of @types/node does not match the DOM lib's BinaryLike here.
  #salt = new Uint8Array(randomBytes(32));
  /** The salt's Vietnamese day, as [start, end) instants: checked per request without formatting dates. */
  #from = 0;
  #until = 0;

  /** Returns the key, and whether the salt was just replaced (old keys mean nothing any more). */
  keyOf(ip: string, now: number): { key: string; rotated: boolean } {
    const rotated = now < this.#from || now >= this.#until;
    if (rotated) {
      this.#salt = new Uint8Array(randomBytes(32));
      // Vietnam is UTC+7 all year: its days start at 17:00 UTC.
      this.#from = Math.floor((now + VN_OFFSET) / DAY) * DAY - VN_OFFSET;
      this.#until = this.#from + DAY;
    }
    return { key: createHmac('sha256', this.#salt).update(clientOf(ip)).digest('base64url').slice(0, 22), rotated };
  }
}

/**
 * The key of a client for limits shared by all instances: the same on every instance (derived from
 * the server secret), another every Vietnamese day, so that a day's keys say nothing of another's.
 */
export function sharedClientKey(secret: Uint8Array, ip: string, now: number): string {
  return hashed(secretKey(secret, `client:${dayKey(now)}`), clientOf(ip));
}
