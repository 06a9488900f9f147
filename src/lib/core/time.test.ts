import { describe, expect, it } from 'vitest';
import { dmy, parseClockText, parseDayText } from './time';

describe('dates and times typed the Vietnamese way', () => {
  it('writes days as dd/mm/yyyy', () => {
    expect(dmy('2021-09-05')).toBe('05/09/2021');
    expect(dmy('')).toBe('');
    expect(dmy('5/9/2021')).toBe('');
  });

  it('reads a day first, with any separator', () => {
    expect(parseDayText('05/09/2021')).toBe('2021-09-05');
    expect(parseDayText('5/9/2021')).toBe('2021-09-05');
    expect(parseDayText(' 5-9-21 ')).toBe('2021-09-05');
    expect(parseDayText('5.9.2021')).toBe('2021-09-05');
    expect(parseDayText('05092021')).toBe('2021-09-05');
    // Never month first: 09/05 is the ninth of May.
    expect(parseDayText('09/05/2021')).toBe('2021-05-09');
  });

  it('refuses days that do not exist and other text', () => {
    expect(parseDayText('31/02/2021')).toBeNull();
    expect(parseDayText('29/02/2021')).toBeNull();
    expect(parseDayText('29/02/2024')).toBe('2024-02-29');
    expect(parseDayText('13/13/2021')).toBeNull();
    expect(parseDayText('2021-09-05')).toBeNull();
    expect(parseDayText('hôm nay')).toBeNull();
    expect(parseDayText('')).toBeNull();
  });

  it('reads 24-hour times as people type them', () => {
    expect(parseClockText('07:05')).toBe('07:05');
    expect(parseClockText('7:05')).toBe('07:05');
    expect(parseClockText('7.05')).toBe('07:05');
    expect(parseClockText('7h05')).toBe('07:05');
    expect(parseClockText('7h')).toBe('07:00');
    expect(parseClockText('19')).toBe('19:00');
    expect(parseClockText('1930')).toBe('19:30');
    expect(parseClockText('705')).toBe('07:05');
    expect(parseClockText('00:00')).toBe('00:00');
  });

  it('refuses impossible times', () => {
    expect(parseClockText('24:00')).toBeNull();
    expect(parseClockText('7:60')).toBeNull();
    expect(parseClockText('7 pm')).toBeNull();
    expect(parseClockText('')).toBeNull();
    expect(parseClockText('abc')).toBeNull();
  });
});
