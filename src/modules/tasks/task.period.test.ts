import { describe, expect, it } from 'vitest';
import { isoWeek, isValidTimeZone, localDay, periodKey } from './task.period.js';

describe('task periods', () => {
  it('ISO weeks: Monday starts the week, the Thursday decides the year', () => {
    expect(isoWeek('2026-01-01')).toBe('2026-W01'); // Thursday
    expect(isoWeek('2024-12-30')).toBe('2025-W01'); // Monday of the week holding 2025-01-02
    expect(isoWeek('2021-01-03')).toBe('2020-W53'); // Sunday, still 2020's last week
    expect(isoWeek('2026-06-14')).toBe('2026-W24'); // Sunday
    expect(isoWeek('2026-06-15')).toBe('2026-W25'); // Monday
  });

  it('days, weeks and months follow the zone, not UTC', () => {
    const instant = new Date('2026-03-31T20:00:00Z'); // April 1st 04:00 in Shanghai, March 31st 16:00 in New York
    expect(localDay(instant, 'Asia/Shanghai')).toBe('2026-04-01');
    expect(localDay(instant, 'America/New_York')).toBe('2026-03-31');
    expect(periodKey('MONTHLY', instant, 'Asia/Shanghai')).toBe('2026-04');
    expect(periodKey('MONTHLY', instant, 'UTC')).toBe('2026-03');
    expect(periodKey('DAILY', instant, 'Asia/Shanghai')).toBe('2026-04-01');
    expect(periodKey('ONCE', instant, 'UTC')).toBe('');
    expect(periodKey('UNLIMITED', instant, 'UTC')).toBe('');
  });

  it('knows IANA zones', () => {
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Asia/Shanghai')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});
