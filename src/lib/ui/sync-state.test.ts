import { describe, expect, it } from 'vitest';
import { overallSync } from './sync-state';

describe('overallSync', () => {
  it('is done only when every replica is done and nothing waits to go up', () => {
    expect(overallSync([{ state: 'done', pendingUp: 0 }, { state: 'done', pendingUp: 0 }], true)).toBe('done');
  });

  it('does not say synced while a record waits to go up', () => {
    expect(overallSync([{ state: 'done', pendingUp: 1 }], true)).toBe('syncing');
    expect(overallSync([{ state: 'done', pendingUp: 0 }, { state: 'done', pendingUp: 3 }], true)).toBe('syncing');
  });

  it('says offline, with what waits, when there is no network', () => {
    expect(overallSync([{ state: 'done', pendingUp: 2 }], false)).toBe('offline');
    expect(overallSync([{ state: 'offline', pendingUp: 2 }], true)).toBe('offline');
  });

  it('puts a login or an error before anything else', () => {
    expect(overallSync([{ state: 'error', pendingUp: 0 }, { state: 'login', pendingUp: 0 }], true)).toBe('login');
    expect(overallSync([{ state: 'syncing', pendingUp: 0 }, { state: 'error', pendingUp: 1 }], true)).toBe('error');
    expect(overallSync([{ state: 'idle', pendingUp: 0 }], true)).toBe('syncing');
  });
});
