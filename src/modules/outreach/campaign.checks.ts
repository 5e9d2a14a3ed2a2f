import { CronExpressionParser } from 'cron-parser';
import { outreachErrors } from './outreach.errors.js';
import { type TemplateChannel, validateTemplate } from './template.render.js';
import type { CreateCampaignInput } from './campaign.schemas.js';

/** The fields of a campaign as they will be stored: what the checks below look at. */
export type CampaignDraft = Omit<CreateCampaignInput, 'channel'> & { channel: TemplateChannel };

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The next instant the cron expression matches after `after`, in its time zone. */
export function nextCronAt(cron: string, timeZone: string, after: Date): Date {
  return CronExpressionParser.parse(cron, { currentDate: after, tz: timeZone }).next().toDate();
}

export function checkSchedule(schedule: { cron: string; time_zone?: string | undefined }, now: Date): void {
  const tz = schedule.time_zone ?? 'UTC';
  if (!isTimeZone(tz)) throw outreachErrors.invalidSchedule('schedule.time_zone', `unknown time zone ${tz}`);
  try {
    nextCronAt(schedule.cron, tz, now);
  } catch (err) {
    throw outreachErrors.invalidSchedule('schedule.cron', `does not parse: ${(err as Error).message}`);
  }
  if (schedule.cron.trim().split(/\s+/).length < 5) throw outreachErrors.invalidSchedule('schedule.cron', 'needs five or six fields');
}

/** Content: exactly one of content, template_id, variants; every inline body validated now. */
export function checkContent(d: CampaignDraft): void {
  const ways = [d.content != null, d.template_id != null, d.variants != null].filter(Boolean).length;
  if (ways === 0) throw outreachErrors.contentRequired('content, template_id or variants is required');
  if (ways > 1) throw outreachErrors.contentRequired('send only one of content, template_id and variants');
  const defaults = (d.defaults ?? {}) as Record<string, string | number | boolean>;
  if (d.content) validateTemplate(d.channel, d.content as Record<string, unknown>, defaults);
  if (d.variants) {
    const keys = new Set(d.variants.map((v) => v.key));
    if (keys.size !== d.variants.length) throw outreachErrors.invalidVariants('variant keys must differ');
    const total = d.variants.reduce((sum, v) => sum + v.percent, 0);
    if (total > 100) throw outreachErrors.invalidVariants(`percents add up to ${total}; at most 100`);
    if (!d.ab_winner && total !== 100) throw outreachErrors.invalidVariants(`percents add up to ${total}; without ab_winner they must add up to 100`);
    if (d.ab_winner && total === 100) throw outreachErrors.invalidVariants('with ab_winner the percents are the test cells: leave some of the audience for the winner');
    d.variants.forEach((v, i) => {
      if ((v.content == null) === (v.template_id == null)) throw outreachErrors.invalidVariants(`variants[${i}]: content or template_id, one of them`);
      if (v.content) validateTemplate(d.channel, v.content as Record<string, unknown>, defaults);
    });
  } else if (d.ab_winner) {
    throw outreachErrors.invalidVariants('ab_winner needs variants');
  }
}

export function checkTargets(d: CampaignDraft): void {
  if ((d.target_tags ?? []).length === 0 && !d.target_segment_id) throw outreachErrors.emptyTargets();
}

export function checkTimes(d: CampaignDraft): void {
  const start = d.start_time ? Date.parse(d.start_time) : null;
  const end = d.end_time ? Date.parse(d.end_time) : null;
  if (start !== null && end !== null && end <= start) throw outreachErrors.invalidTimes('end_time must be after start_time');
}

/**
 * When the service starts the next run by itself: the start time when it is ahead, else the next
 * cron match (not before the start time, not after the end time); null = only a manual trigger.
 */
export function nextRunAt(d: { start_time?: string | null | undefined; end_time?: string | null | undefined; schedule?: { cron: string; time_zone?: string | undefined } | null | undefined }, now: Date): Date | null {
  const start = d.start_time ? new Date(d.start_time) : null;
  const end = d.end_time ? new Date(d.end_time) : null;
  let at: Date | null = null;
  if (d.schedule) {
    const from = start && start > now ? new Date(start.getTime() - 1) : now;
    at = nextCronAt(d.schedule.cron, d.schedule.time_zone ?? 'UTC', from);
  } else if (start && start > now) {
    at = start;
  }
  if (at && end && at >= end) return null;
  return at;
}
