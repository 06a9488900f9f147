import { describe, expect, it } from 'vitest';
import { checkExposureInput, EXPOSURE_PROBLEM_REASONS, exposureDraftDoc, exposureProblem, MAX_WIDEN_MINUTES, newEventId, type ExposureInput } from './exposure-draft';
import { checkCommuneDoc } from '../documents';
import { at } from '../testing';
import { DAY, HOUR, MINUTE } from '../time';

const now = at('2021-08-22', '10:00');
const input: ExposureInput = {
  venue: { venueId: 'demochoducth', name: 'Chợ Đức Thọ', communeCode: '18070' },
  from: at('2021-08-20', '08:00'),
  to: at('2021-08-20', '10:00'),
  widenMinutes: 60,
  level: 'high',
  message: '  Ca F0 có mặt tại chợ ',
  advice: 'Cách ly tại nhà',
  contactPhone: '0239 123 456'
};

describe('a team writing an exposure event', () => {
  it('checks the window, its age and the contact', () => {
    expect(checkExposureInput(input, now)).toBeNull();
    expect(checkExposureInput({ ...input, to: input.from }, now)).toBe('ends-before-start');
    expect(checkExposureInput({ ...input, from: now + HOUR, to: now + 2 * HOUR }, now)).toBe('in-future');
    expect(checkExposureInput({ ...input, to: input.from + 25 * HOUR }, now)).toBe('too-long');
    expect(checkExposureInput({ ...input, from: now - 30 * DAY, to: now - 29 * DAY }, now)).toBe('too-old');
    expect(checkExposureInput({ ...input, contactPhone: '' }, now)).toBe('no-contact');
    // over midnight is one window
    expect(checkExposureInput({ ...input, from: at('2021-08-20', '22:00'), to: at('2021-08-21', '02:00') }, now)).toBeNull();
  });

  it('makes a document the gateway accepts, and keeps venue and id through corrections', () => {
    const eventId = newEventId((n) => new Uint8Array(n).fill(7));
    expect(eventId).toMatch(/^[a-z0-9]{16}$/);
    const draft = exposureDraftDoc(input, 'draft', now, undefined, eventId);
    expect(checkCommuneDoc(draft, '18070', now)).toMatchObject({ ok: true });
    expect(draft.message).toBe('Ca F0 có mặt tại chợ');
    const published = exposureDraftDoc({ ...input, venue: { venueId: 'otherotherot', name: 'x', communeCode: '18070' }, level: 'monitor' }, 'published', now + 1, { ...draft, _rev: '1-a' });
    expect(published).toMatchObject({ _id: draft._id, _rev: '1-a', venueId: 'demochoducth', level: 'monitor', state: 'published' });
    expect(checkCommuneDoc(published, '18070', now)).toMatchObject({ ok: true });
    expect(() => exposureDraftDoc(input, 'draft', now)).toThrow();
  });
});

describe('exposureProblem: one rule for the form and the gateway', () => {
  const event = { from: at('2021-08-20', '08:00'), to: at('2021-08-20', '10:00'), widenMinutes: 60, contactPhone: '0239 123 456', state: 'published' as const };
  it('refuses what the form refuses, in drafts and published events', () => {
    for (const state of ['draft', 'published'] as const) {
      const e = { ...event, state };
      expect(exposureProblem(e, now)).toBeNull();
      expect(exposureProblem({ ...e, to: e.from }, now)).toBe('ends-before-start');
      expect(exposureProblem({ ...e, to: e.from + 7 * DAY }, now)).toBe('too-long');
      expect(exposureProblem({ ...e, from: 0, to: HOUR }, now)).toBe('too-old');
      expect(exposureProblem({ ...e, from: now + HOUR, to: now + 2 * HOUR }, now)).toBe('in-future');
      // a window still open: the case is not there any more once found
      // Under way: a visit whose estimated end is still ahead may be published.
      expect(exposureProblem({ ...e, from: now - HOUR, to: now + HOUR }, now)).toBeNull();
      expect(exposureProblem({ ...e, from: now - HOUR, to: now + 9 * MINUTE }, now)).toBeNull();
      expect(exposureProblem({ ...e, widenMinutes: MAX_WIDEN_MINUTES + 1 }, now)).toBe('margin-too-wide');
      expect(exposureProblem({ ...e, widenMinutes: -1 }, now)).toBe('margin-too-wide');
      expect(exposureProblem({ ...e, contactPhone: 'call us' }, now)).toBe('no-contact');
    }
  });
  it('allows a correction of an event 27 days old, not one past 28 days; a withdrawal at any age', () => {
    const old = (days: number) => ({ ...event, from: now - days * DAY - HOUR, to: now - days * DAY });
    expect(exposureProblem(old(27), now)).toBeNull();
    expect(exposureProblem(old(29), now)).toBe('too-old');
    expect(exposureProblem({ ...old(29), state: 'withdrawn' }, now)).toBeNull();
    expect(exposureProblem({ ...event, from: 0, to: 7 * DAY, widenMinutes: 1440, contactPhone: '', state: 'withdrawn' }, now)).toBeNull();
    expect(exposureProblem({ ...event, to: event.from - 1, state: 'withdrawn' }, now)).toBe('ends-before-start');
  });
  it('has words for every problem', () => {
    for (const reason of Object.values(EXPOSURE_PROBLEM_REASONS)) expect(reason.length).toBeGreaterThan(10);
  });
});
