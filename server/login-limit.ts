/**
 * Limits of password guessing and of account making, shared by every server instance (DESIGN §8):
 * the counts live in CouchDB (server/shared/windows.ts), so N instances behind a load balancer give a
 * guesser the allowance of one.
 *
 * Failures are counted, not requests: a person who logs in ten times a day is never held back.
 * Two counts for a login: per phone number, normalised first (so `0987 000 077` and `+84987000077`
 * are one account), and per client address (so one address cannot try many numbers). Registrations
 * are counted per address. Numbers and addresses appear in the store only as HMACs under keys
 * derived from the server secret (the address key changes every Vietnamese day, see client-limit.ts),
 * in a database that is dropped after a few days.
 *
 * Store round trips: a login's check is one read (both keys at once); a wrong password adds one
 * write; a right one after failures one delete.
 */
import { HOUR, MINUTE } from '../src/lib/core/time';
import { sharedClientKey } from './client-limit';
import { hashed, secretKey, SharedDays } from './shared/days';
import { SharedWindows, type WindowRef, type WindowSpec } from './shared/windows';
import type { Store } from './store/couch';

export interface Refusal {
  /** seconds, for Retry-After */
  wait: number;
  reason: string;
}

const minutes = (s: number) => `${Math.ceil(s / 60)} minute${Math.ceil(s / 60) === 1 ? '' : 's'}`;

/** Wrong passwords for one number; the real owner waits at most about the window. */
const NUMBERS: WindowSpec = { kind: 'lf-n', max: 10, windowMs: 15 * MINUTE };
/** Wrong passwords from one address, whatever the number (a commune office shares one address). */
const ADDRESSES: WindowSpec = { kind: 'lf-a', max: 20, windowMs: 15 * MINUTE };
/** Accounts asked for from one address. */
const REGISTRATIONS: WindowSpec = { kind: 'reg-a', max: 10, windowMs: HOUR };

export interface PasswordAttempt {
  refusal: Refusal | null;
  /** the password was wrong: count it for the number and the address */
  failed(): Promise<void>;
  /** the right password ends the number's count (its owner is back); the address's count stays */
  succeeded(): Promise<void>;
}

export class LoginLimits {
  readonly #windows: SharedWindows;
  readonly #numberKey: Uint8Array;

  constructor(
    store: Store,
    readonly secret: Uint8Array,
    readonly now: () => number = Date.now,
    days = new SharedDays(store, now)
  ) {
    this.#windows = new SharedWindows(days);
    this.#numberKey = secretKey(secret, 'login-number');
  }

  #refs(ip: string, phone: string, now: number): { number: WindowRef; address: WindowRef } {
    return { number: { spec: NUMBERS, key: hashed(this.#numberKey, phone) }, address: { spec: ADDRESSES, key: sharedClientKey(this.secret, ip, now) } };
  }

  /** Whether a password may be checked for this (normalised) number from this address: one store read. */
  async password(ip: string, phone: string): Promise<PasswordAttempt> {
    const now = this.now();
    const { number, address } = this.#refs(ip, phone, now);
    const states = await this.#windows.read([number, address], now);
    const byNumber = SharedWindows.of(states, number);
    const byAddress = SharedWindows.of(states, address);
    let refusal: Refusal | null = null;
    if (byNumber.wait) refusal = { wait: byNumber.wait, reason: `too many wrong passwords for this number: wait ${minutes(byNumber.wait)}` };
    else if (byAddress.wait) refusal = { wait: byAddress.wait, reason: `too many failed logins from this network: wait ${minutes(byAddress.wait)}` };
    return {
      refusal,
      failed: () =>
        this.#windows.add(
          [
            { ref: number, n: 1 },
            { ref: address, n: 1 }
          ],
          this.now(),
          states
        ),
      // Nothing to forget (no store call) when the number had no failures.
      succeeded: () => (byNumber.current || byNumber.previous ? this.#windows.forget(number, now, byNumber) : Promise.resolve())
    };
  }

  /** Whether this address may ask for one more account; `tried` counts it (a taken number too). */
  async registration(ip: string): Promise<{ refusal: Refusal | null; tried(): Promise<void> }> {
    const now = this.now();
    const ref: WindowRef = { spec: REGISTRATIONS, key: sharedClientKey(this.secret, ip, now) };
    const states = await this.#windows.read([ref], now);
    const { wait } = SharedWindows.of(states, ref);
    return {
      refusal: wait ? { wait, reason: `too many new accounts from this network: wait ${minutes(wait)}` } : null,
      tried: () => this.#windows.add([{ ref, n: 1 }], this.now(), states)
    };
  }
}
