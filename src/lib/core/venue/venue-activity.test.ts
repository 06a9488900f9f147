import { describe, expect, it } from 'vitest';
import type { VenueRecord } from '../documents';
import { at } from '../testing';
import { sortVenueActivity, venueActivity } from './venue-activity';

const venue = (venueId: string, name: string, createdAt?: string): VenueRecord => ({
  _id: `venue:${venueId}`,
  type: 'venue',
  schema: 1,
  venueId,
  name,
  venueType: 'market',
  communeCode: '18070',
  address: '',
  status: 'active',
  ...(createdAt ? { createdAt } : {})
});

describe('venue activity', () => {
  const now = at('2021-08-20', '12:00');
  const venues = [venue('aaaaaaaaaaaa', 'Chợ', '2021-07-01T00:00:00.000Z'), venue('bbbbbbbbbbbb', 'Ấp', '2021-08-01T00:00:00.000Z'), venue('cccccccccccc', 'Bến xe')];
  const entries = new Map([['aaaaaaaaaaaa', [at('2021-08-19', '08:00'), at('2021-08-01', '08:00')]], ['cccccccccccc', [at('2021-08-02', '08:00')]]]);
  const tallies = { bbbbbbbbbbbb: { '2021-08-18': 40, '2021-08-19': 0 } };

  it('counts the last 7 days from entries and tallies, and tells active, idle and never used apart', () => {
    const rows = venueActivity(venues, entries, tallies, now);
    expect(rows.map((r) => [r.venue.name, r.use, r.entries7d, r.checkins7d])).toEqual([
      ['Chợ', 'active', 1, 0],
      ['Ấp', 'active', 0, 40],
      ['Bến xe', 'idle', 0, 0]
    ]);
    expect(rows[0]!.lastUsed).toBe(at('2021-08-19', '08:00'));
    expect(rows[1]!.lastUsed).toBe(at('2021-08-18', '12:00'));
    expect(venueActivity([venue('dddddddddddd', 'Mới')], new Map(), {}, now)[0]!.use).toBe('never');
  });

  it('sorts by name in Vietnamese order, by registration and by use', () => {
    const rows = venueActivity(venues, entries, tallies, now);
    expect(sortVenueActivity(rows, 'name').map((r) => r.venue.name)).toEqual(['Ấp', 'Bến xe', 'Chợ']);
    expect(sortVenueActivity(rows, 'created').map((r) => r.venue.name)).toEqual(['Ấp', 'Chợ', 'Bến xe']);
    expect(sortVenueActivity(rows, 'use7d').map((r) => r.venue.name)).toEqual(['Ấp', 'Chợ', 'Bến xe']);
    expect(sortVenueActivity(rows, 'lastUsed').map((r) => r.venue.name)).toEqual(['Chợ', 'Ấp', 'Bến xe']);
  });
});
