import { describe, expect, it } from 'vitest';
import { trustedProxies } from './config';

describe('TRUST_PROXY', () => {
  it('is off unless set, and takes addresses, ranges and proxy-addr names', () => {
    expect(trustedProxies(undefined)).toBe(false);
    expect(trustedProxies(' ')).toBe(false);
    expect(trustedProxies('false')).toBe(false);
    expect(trustedProxies('127.0.0.1')).toEqual(['127.0.0.1']);
    expect(trustedProxies('10.0.0.0/8, ::1, fd00::/8,loopback')).toEqual(['10.0.0.0/8', '::1', 'fd00::/8', 'loopback']);
  });

  it('refuses to trust every sender, a hop count, or what is not an address, in words', () => {
    for (const raw of ['true', '*', '1', '2']) expect(() => trustedProxies(raw)).toThrow(/any client could|escape the per-address limits/);
    for (const raw of ['localhost', '10.0.0.0/33', '::1/129', '10.0.0.1/8/2', '300.1.1.1', 'loopback,nginx']) expect(() => trustedProxies(raw)).toThrow(/is not an address, a range/);
  });
});
