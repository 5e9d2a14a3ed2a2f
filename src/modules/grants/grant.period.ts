import type { Period } from '../rewards/index.js';

/**
 * The counter row a grant counts against for `per_user_limit`: one per user and period. Days,
 * weeks (ISO) and months are UTC. CAMPAIGN counts per campaign; LIFETIME forever.
 */
export function periodKey(period: Period, now: Date, campaignId: string | null): string {
  const iso = now.toISOString();
  switch (period) {
    case 'DAY':
      return `DAY:${iso.slice(0, 10)}`;
    case 'MONTH':
      return `MONTH:${iso.slice(0, 7)}`;
    case 'WEEK': {
      const { year, week } = isoWeek(now);
      return `WEEK:${year}-W${String(week).padStart(2, '0')}`;
    }
    case 'CAMPAIGN':
      return `CAMPAIGN:${campaignId ?? '-'}`;
    case 'LIFETIME':
      return 'LIFETIME';
  }
}

/** ISO 8601 week: weeks start on Monday, week 1 holds the year's first Thursday. */
export function isoWeek(date: Date): { year: number; week: number } {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  return { year: d.getUTCFullYear(), week: Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7) };
}

/** The key of the row that remembers a user's last grant, for `min_interval_seconds`. */
export const LAST_GRANT_KEY = 'LAST';
