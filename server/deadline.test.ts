import { describe, expect, it } from 'vitest';
import { deadline } from './deadline';

describe('deadline', () => {
  it('aborts at its time, says so, and follows the signals it is given', async () => {
    const timed = deadline(20);
    await new Promise((r) => timed.signal.addEventListener('abort', r));
    expect(timed.expired).toBe(true);

    const parent = new AbortController();
    const followed = deadline(60_000, parent.signal, undefined);
    parent.abort();
    expect(followed.signal.aborted).toBe(true);
    expect(followed.expired).toBe(false);

    const cleared = deadline(10);
    cleared.clear();
    await new Promise((r) => setTimeout(r, 30));
    expect(cleared.signal.aborted).toBe(false);
  });
});
