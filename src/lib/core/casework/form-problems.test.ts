import { describe, expect, it } from 'vitest';
import { exposureInputProblems, typedPersonProblems } from './form-problems';
import { manualPerson } from '../venue/station';
import { checkExposureInput } from '../exposure/exposure-draft';
import { HOUR, DAY } from '../time';

const NOW = Date.UTC(2026, 10, 30, 5);

describe('typedPersonProblems', () => {
  it('names every wrong field at once', () => {
    expect(typedPersonProblems('', '12345', '1800', NOW, '123')).toEqual(['name', 'phone', 'birthYear', 'idNumber']);
    expect(typedPersonProblems('  ', '', '', NOW)).toEqual(['name']);
    expect(typedPersonProblems('Lê Thị Bình', '0987 654 321', '1990', NOW, '001190012345')).toEqual([]);
  });

  it('refuses exactly what manualPerson refuses', () => {
    const names = ['', ' ', 'An'];
    const phones = ['', '0987654321', '+84 987 654 321', '0123', 'abc'];
    const years = ['', '1990', '1899', String(new Date(NOW).getUTCFullYear() + 1), '19.5'];
    const ids = ['', '001190012345', '123456789', '12345'];
    for (const n of names)
      for (const p of phones)
        for (const y of years)
          for (const id of ids) {
            const accepted = manualPerson(n, p, y, NOW, id) !== null;
            expect(typedPersonProblems(n, p, y, NOW, id).length === 0, JSON.stringify([n, p, y, id])).toBe(accepted);
          }
  });
});

describe('exposureInputProblems', () => {
  it('tells the window and the contact apart, both at once', () => {
    expect(exposureInputProblems({ from: NOW, to: NOW - HOUR, contactPhone: '' }, NOW)).toEqual({ window: 'ends-before-start', contact: 'no-contact' });
    expect(exposureInputProblems({ from: NOW - 30 * DAY, to: NOW - 30 * DAY + HOUR, contactPhone: '0239123456' }, NOW)).toEqual({ window: 'too-old' });
    expect(exposureInputProblems({ from: NOW - 2 * HOUR, to: NOW - HOUR, contactPhone: 'x' }, NOW)).toEqual({ contact: 'no-contact' });
  });

  it('finds nothing where checkExposureInput finds nothing', () => {
    const input = { from: NOW - 2 * HOUR, to: NOW - HOUR, contactPhone: '0239123456' };
    expect(checkExposureInput(input, NOW)).toBeNull();
    expect(exposureInputProblems(input, NOW)).toEqual({});
  });
});
