/** The counting rules of a task: its condition, how many completions a period allows, validation. */
import { invalidRequest } from '../../platform/errors.js';
import { isValidTimeZone } from './task.period.js';
import { type ConditionInput, DEFAULT_MAX_COUNT_PER_EVENT, type RepeatPolicy } from './task.schemas.js';

export type Condition = ConditionInput;

export function conditionOf(row: { condition: unknown }): Condition {
  return row.condition as Condition;
}

/** Completions allowed per period: 1 for ONCE and the periodic policies; UNLIMITED: its cap or none. */
export function capOf(repeat: RepeatPolicy, maxCompletions: number | null): number | null {
  return repeat === 'UNLIMITED' ? maxCompletions : 1;
}

/**
 * The progress a user sees: towards the next completion (a streak: its length). Once no more
 * completions are possible in the period, the target, so a finished task reads "5 / 5".
 */
export function progressShown(condition: Condition, cap: number | null, state: { progress: number; completions: number } | undefined): number {
  if (!state) return 0;
  if (cap !== null && state.completions >= cap && condition.type !== 'consecutive_days') return condition.target;
  return Number(state.progress);
}

/** Checks the parts of a task that depend on each other; 400 invalid_request names the field. */
export function validateTaskRules(t: { condition: Condition; repeat: RepeatPolicy; max_completions: number | null; time_zone: string; reward_id: string | null; reward_quantity?: number | undefined; start_time: Date | null; end_time: Date | null }): void {
  const c = t.condition;
  if (c.type === 'distinct' && !c.field) throw invalidRequest('condition.field', 'is required for a distinct condition (the event_data field whose values are counted)');
  if (c.type !== 'distinct' && c.field !== undefined) throw invalidRequest('condition.field', 'applies to distinct conditions only');
  if (c.type !== 'count' && c.max_count_per_event !== undefined) throw invalidRequest('condition.max_count_per_event', 'applies to count conditions only');
  if (c.type === 'consecutive_days' && t.repeat === 'DAILY') throw invalidRequest('condition.type', 'a streak of days cannot repeat DAILY');
  if (c.type === 'consecutive_days' && t.repeat === 'WEEKLY' && c.target > 7) throw invalidRequest('condition.target', 'a streak in one ISO week is at most 7 days');
  if (c.type === 'consecutive_days' && t.repeat === 'MONTHLY' && c.target > 31) throw invalidRequest('condition.target', 'a streak in one month is at most 31 days');
  if (c.filters && c.type === 'amount_sum' && 'amount' in c.filters) throw invalidRequest('condition.filters.amount', 'amount is what amount_sum adds up; filter on other fields');
  if (t.max_completions !== null && t.repeat !== 'UNLIMITED') throw invalidRequest('max_completions', 'applies to repeat UNLIMITED only');
  if (!isValidTimeZone(t.time_zone)) throw invalidRequest('time_zone', `${t.time_zone} is not an IANA time zone (e.g. UTC, Asia/Shanghai)`);
  if (t.reward_id === null && t.reward_quantity !== undefined && t.reward_quantity !== 1) throw invalidRequest('reward_quantity', 'needs a reward_id');
  if (t.start_time && t.end_time && t.end_time.getTime() <= t.start_time.getTime()) throw invalidRequest('end_time', 'must be after start_time');
}

/**
 * What one event adds to a count task: event_data.count when it carries one (a positive
 * integer), at most the task's max_count_per_event; 1 without it; null when it carries a count
 * that is no positive integer (the event does not progress the task: invalid_count).
 */
export function countOf(condition: Condition, data: Record<string, unknown>): number | null {
  const count = data.count;
  if (count === undefined) return 1;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) return null;
  return Math.min(count, condition.max_count_per_event ?? DEFAULT_MAX_COUNT_PER_EVENT);
}
