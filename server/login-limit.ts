/**
 * Limits of password guessing and of account making, in this process's memory.
 *
 * Failures are counted, not requests: a person who logs in ten times a day is never held back.
 * Two counts for a login: per phone number, normalised first (so `0987 000 077` and `+84987000077`
 * are one account), and per client address (so one address cannot try many numbers). Registrations
 * are counted per address. Numbers and addresses are kept only as HMACs under salts that live in
 * memory (the address salt is replaced every Vietnamese day, as in client-limit.ts).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { HOUR, MINUTE } from '../src/lib/core/time';
import { ClientKeys } from './client-limit';

const MAX_KEYS = 100_000;

/** Counts of failures in a fixed window opened by the first one. */
class FailureWindows {
  readonly #map = new Map<string, { count: number; until: number }>();
  constructor(
    readonly max: number,
    readonly windowMs: number
  ) {}

  /** Seconds to wait before trying again, or 0 when the key may try now. */
  waitSeconds(key: string, now: number): number {
    const w = this.#map.get(key);
    if (!w || w.until <= now) return 0;
    return w.count >= this.max ? Math.max(1, Math.ceil((w.until - now) / 1000)) : 0;
  }

  count(key: string, now: number): void {
    let w = this.#map.get(key);
    if (!w || w.until <= now) {
      if (this.#map.size >= MAX_KEYS) this.#shrink(now);
      this.#map.set(key, (w = { count: 0, until: now + this.windowMs }));
    }
    w.count++;
  }

  forget(key: string): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  /** Ended windows mean nothing: drop them; if still too many (a flood of keys), the oldest. */
  #shrink(now: number) {
    for (const [key, w] of this.#map) if (w.until <= now) this.#map.delete(key);
    for (const key of this.#map.keys()) {
      if (this.#map.size < MAX_KEYS / 2) break;
      this.#map.delete(key);
    }
  }
}

export interface Refusal {
  /** seconds, for Retry-After */
  wait: number;
  reason: string;
}

const minutes = (s: number) => `${Math.ceil(s / 60)} minute${Math.ceil(s / 60) === 1 ? '' : 's'}`;

export class LoginLimits {
  /** Wrong passwords for one number; the real owner waits at most the window. */
  readonly numbers = new FailureWindows(10, 15 * MINUTE);
  /** Wrong passwords from one address, whatever the number (a commune office shares one address). */
  readonly addresses = new FailureWindows(20, 15 * MINUTE);
  /** Accounts asked for from one address. */
  readonly registrations = new FailureWindows(10, HOUR);
  readonly #clients = new ClientKeys();
  readonly #numberSalt = new Uint8Array(randomBytes(32));

  constructor(readonly now: () => number = Date.now) {}

  #address(ip: string): string {
    const { key, rotated } = this.#clients.keyOf(ip, this.now());
    if (rotated) {
      // Yesterday's keys can no longer be computed: their counts are dropped with them.
      this.addresses.clear();
      this.registrations.clear();
    }
    return key;
  }

  #number(phone: string): string {
    return createHmac('sha256', this.#numberSalt).update(phone).digest('base64url').slice(0, 22);
  }

  /** Whether a password may be checked for this (normalised) number from this address. */
  passwordRefusal(ip: string, phone: string): Refusal | null {
    const now = this.now();
    const byNumber = this.numbers.waitSeconds(this.#number(phone), now);
    if (byNumber) return { wait: byNumber, reason: `too many wrong passwords for this number: wait ${minutes(byNumber)}` };
    const byAddress = this.addresses.waitSeconds(this.#address(ip), now);
    if (byAddress) return { wait: byAddress, reason: `too many failed logins from this network: wait ${minutes(byAddress)}` };
    return null;
  }

  passwordFailed(ip: string, phone: string): void {
    const now = this.now();
    this.numbers.count(this.#number(phone), now);
    this.addresses.count(this.#address(ip), now);
  }

  /**
   * The right password ends the number's count (its owner is back); the address's count stays, or
   * one's own account would wash away the failures tried on others.
   */
  passwordSucceeded(phone: string): void {
    this.numbers.forget(this.#number(phone));
  }

  registrationRefusal(ip: string): Refusal | null {
    const wait = this.registrations.waitSeconds(this.#address(ip), this.now());
    return wait ? { wait, reason: `too many new accounts from this network: wait ${minutes(wait)}` } : null;
  }

  registrationTried(ip: string): void {
    this.registrations.count(this.#address(ip), this.now());
  }
}
