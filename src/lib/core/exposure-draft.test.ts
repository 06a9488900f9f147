import { describe, expect, it } from 'vitest';
import { checkExposureInput, exposureDraftDoc, newEventId, type ExposureInput } from './exposure-draft';
import { checkCommuneDoc } from './documents';
import { at } from './testing';
import { DAY, HOUR } from './time';

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
