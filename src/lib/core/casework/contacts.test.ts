import { describe, expect, it } from 'vitest';
import { findContacts, staysOf, type CaseVisit } from './contacts';
import type { StationEntryRecord } from '../documents';
import type { PersonRecord } from '../person';
import { at } from '../testing';

const VENUE = 'demochoducth';
const OTHER = 'democafesong';
const an: PersonRecord = { source: 'cccd', name: 'Nguyễn Văn An', idNumber: '001099000001' };
const binh: PersonRecord = { source: 'manual', name: 'Lê Thị Bình', birthYear: 1950 };
const cuong: PersonRecord = { source: 'personal-qr', name: 'Trần Cường', phone: '0912345678', birthYear: 1990 };

let n = 0;
function entry(person: PersonRecord, time: number, direction: 'in' | 'out' = 'in', venueId = VENUE): StationEntryRecord {
  n++;
  return { _id: `entry:${venueId}:${time}:${n}`, type: 'entry', schema: 1, venueId, communeCode: '18070', time, direction, person, deviceId: 'd1' };
}

const stay = () => 60; // a market: one hour

describe('stays from station entries', () => {
  it("pairs an 'in' with the same person's next 'out', else uses the default stay", () => {
    const stays = staysOf([entry(an, at('2021-08-20', '08:00')), entry(binh, at('2021-08-20', '08:10')), entry(an, at('2021-08-20', '08:40'), 'out')], 60);
    expect(stays.map((s) => [s.entry.person.name, s.from, s.to])).toEqual([
      ['Nguyễn Văn An', at('2021-08-20', '08:00'), at('2021-08-20', '08:40')],
      ['Lê Thị Bình', at('2021-08-20', '08:10'), at('2021-08-20', '09:10')]
    ]);
  });

  it("takes a lone 'out' as a stay that ends there", () => {
    const [s] = staysOf([entry(cuong, at('2021-08-20', '12:00'), 'out')], 60);
    expect([s!.from, s!.to]).toEqual([at('2021-08-20', '11:00'), at('2021-08-20', '12:00')]);
  });
});

describe('contacts of a case', () => {
  const caseVisits: CaseVisit[] = [{ venueId: VENUE, from: at('2021-08-20', '10:00'), to: at('2021-08-20', '11:00') }];

  it('finds the stays at the same venue overlapping the widened window, touching included', () => {
    const entries = [
      entry(an, at('2021-08-20', '08:00')), // 08:00–09:00, touches 09:00 (10:00 − 60 min)
      entry(binh, at('2021-08-20', '07:00')), // 07:00–08:00: too early
      entry(cuong, at('2021-08-20', '12:00')), // 12:00, touches 12:00 (11:00 + 60 min)
      entry(cuong, at('2021-08-20', '12:01'), 'in', OTHER), // another venue
      entry(binh, at('2021-08-20', '12:01')) // after
    ];
    const contacts = findContacts(caseVisits, entries, stay);
    expect(contacts.map((c) => c.entry.person.name)).toEqual(['Nguyễn Văn An', 'Trần Cường']);
    expect(findContacts(caseVisits, entries, stay, 0)).toEqual([]);
  });

  it('lists a stay once, with every case visit it overlaps, over midnight too', () => {
    const night: CaseVisit[] = [
      { venueId: VENUE, from: at('2021-08-20', '23:00'), to: at('2021-08-20', '23:30') },
      { venueId: VENUE, from: at('2021-08-21', '00:30'), to: at('2021-08-21', '01:00') }
    ];
    const contacts = findContacts(night, [entry(an, at('2021-08-20', '23:20')), entry(an, at('2021-08-21', '00:40'), 'out')], stay, 0);
    expect(contacts).toHaveLength(1);
    expect(contacts[0]!.caseVisits).toHaveLength(2);
  });
});
