import { describe, expect, it } from 'vitest';
import { addDays, currentMonth, currentWeek, daysBetween, dueEnd, monthPeriod, periodFromId, recentWeeks, reportingRates, submissionTiming, weekdayOf, weekPeriod } from './period';
import { fromVietnamLocal } from '../time';

const thursday = { weekday: 4, monthDay: 5 } as const;
const at = (day: string, time: string) => fromVietnamLocal(day, time)!;

describe('report periods', () => {
  it('knows weekdays and steps over month and year ends', () => {
    expect(weekdayOf('2026-11-26')).toBe(4); // a Thursday
    expect(weekdayOf('2026-11-29')).toBe(7);
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(daysBetween('2026-11-28', '2026-12-02')).toEqual(['2026-11-28', '2026-11-29', '2026-11-30', '2026-12-01', '2026-12-02']);
    expect(daysBetween('2026-12-02', '2026-12-01')).toEqual([]);
  });

  it('a Thursday report covers Thursday to Wednesday before it', () => {
    expect(weekPeriod('2026-12-03')).toEqual({ id: 'w-2026-12-03', kind: 'week', from: '2026-11-26', to: '2026-12-02', due: '2026-12-03' });
    // Monday 30/11: the report due Thursday 03/12; on Thursday itself, the week that ended on Wednesday.
    expect(currentWeek(thursday, '2026-11-30').due).toBe('2026-12-03');
    expect(currentWeek(thursday, '2026-12-03').due).toBe('2026-12-03');
    expect(currentWeek(thursday, '2026-12-04').due).toBe('2026-12-10');
    expect(recentWeeks(thursday, '2026-11-30', 3).map((p) => p.due)).toEqual(['2026-12-03', '2026-11-26', '2026-11-19']);
  });

  it('a month is due before the 5th of the next one', () => {
    expect(monthPeriod('2026-11')).toEqual({ id: 'm-2026-11', kind: 'month', from: '2026-11-01', to: '2026-11-30', due: '2026-12-04' });
    expect(monthPeriod('2026-12').due).toBe('2027-01-04');
    expect(monthPeriod('2024-02').to).toBe('2024-02-29');
    expect(currentMonth(thursday, '2026-12-04').id).toBe('m-2026-11');
    expect(currentMonth(thursday, '2026-12-05').id).toBe('m-2026-12');
  });

  it('reads period ids and refuses malformed ones', () => {
    expect(periodFromId('w-2026-12-03')?.from).toBe('2026-11-26');
    expect(periodFromId('m-2026-02')?.to).toBe('2026-02-28');
    for (const bad of ['w-2026-02-30', 'm-2026-13', 'x', 'w-2026-1-1', 'm-2026-00']) expect(periodFromId(bad)).toBeNull();
  });

  it('on time until 23:59 Vietnam time of the due day', () => {
    const week = weekPeriod('2026-12-03');
    expect(dueEnd(week)).toBe(at('2026-12-04', '00:00'));
    expect(submissionTiming(week, at('2026-12-03', '23:59'), at('2026-12-05', '08:00'))).toBe('on_time');
    expect(submissionTiming(week, at('2026-12-04', '00:00') + 1, at('2026-12-05', '08:00'))).toBe('late');
    expect(submissionTiming(week, null, at('2026-12-03', '20:00'))).toBe('not_due');
    expect(submissionTiming(week, null, at('2026-12-04', '00:01'))).toBe('missing');
  });

  it('counts reporting and on-time rates over the reports expected', () => {
    expect(reportingRates(['on_time', 'late', 'missing', 'not_due'])).toEqual({ expected: 3, received: 2, onTime: 1, rate: 2 / 3, onTimeRate: 1 / 3 });
    expect(reportingRates(['not_due']).rate).toBeNull();
  });
});

describe('report schedules', () => {
  it('a commune takes its district’s day, else its province’s, else the default', async () => {
    const { scheduleFor, DEFAULT_SCHEDULE } = await import('./period');
    const path = [{ code: '42' }, { code: '440' }, { code: '18070' }];
    expect(scheduleFor(path, new Map([['42', { weekday: 5, monthDay: 5 }], ['440', { weekday: 4, monthDay: 5 }]])).weekday).toBe(4);
    expect(scheduleFor(path, new Map([['42', { weekday: 3, monthDay: 6 }]]))).toEqual({ weekday: 3, monthDay: 6 });
    expect(scheduleFor(path, new Map())).toEqual(DEFAULT_SCHEDULE);
  });
});
