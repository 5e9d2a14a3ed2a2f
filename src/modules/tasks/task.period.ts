/**
 * Days, weeks and months in a task's IANA time zone: the period key a repeat policy counts in,
 * and the local day a sign-in streak counts. Pure functions of (instant, zone).
 */
import type { RepeatPolicy } from './task.schemas.js';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(zone, f);
  }
  return f;
}

/** True for a zone the runtime knows ('UTC', 'Asia/Shanghai', ...). */
export function isValidTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

// Every zone's offset is a multiple of 15 minutes, so all instants of one 15-minute slot fall on
// the same local day: the slot's answer is remembered (Intl formatting costs microseconds, and a
// batch asks once per event and task).
const SLOT_MS = 15 * 60_000;
const days = new Map<string, string>();

/** The calendar day (YYYY-MM-DD) of `instant` in `zone`. */
export function localDay(instant: Date, zone: string): string {
  const slot = `${zone}|${Math.floor(instant.getTime() / SLOT_MS)}`;
  const known = days.get(slot);
  if (known) return known;
  const day = formatDay(instant, zone);
  if (days.size >= 10_000) days.clear();
  days.set(slot, day);
  return day;
}

function formatDay(instant: Date, zone: string): string {
  const parts = formatter(zone).formatToParts(instant);
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** ISO week (YYYY-Www) of a calendar day: weeks start on Monday, week 1 holds the first Thursday. */
export function isoWeek(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  const weekday = (d.getUTCDay() + 6) % 7; // Monday = 0
  d.setUTCDate(d.getUTCDate() - weekday + 3); // the Thursday of this week decides the year
  const year = d.getUTCFullYear();
  const week = 1 + Math.floor((d.getTime() - Date.UTC(year, 0, 1)) / (7 * 86_400_000));
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** The period a repeat policy counts completions in: '' for ONCE and UNLIMITED (one period forever). */
export function periodKey(policy: RepeatPolicy, instant: Date, zone: string): string {
  switch (policy) {
    case 'ONCE':
    case 'UNLIMITED':
      return '';
    case 'DAILY':
      return localDay(instant, zone);
    case 'WEEKLY':
      return isoWeek(localDay(instant, zone));
    case 'MONTHLY':
      return localDay(instant, zone).slice(0, 7);
  }
}
