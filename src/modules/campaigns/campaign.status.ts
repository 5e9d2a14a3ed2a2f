import { type ExpressionBuilder, type Expression, type RawBuilder, sql, type SqlBool } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { CampaignLifecycleState } from './campaign.tables.js';

/** What the API shows. SCHEDULED, ACTIVE and ENDED are derived from the time window. */
export const CAMPAIGN_STATUSES = ['DRAFT', 'SCHEDULED', 'ACTIVE', 'PAUSED', 'ENDED', 'ARCHIVED'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const CAMPAIGN_ACTIONS = ['publish', 'pause', 'resume', 'archive'] as const;
export type CampaignAction = (typeof CAMPAIGN_ACTIONS)[number];

interface Window {
  lifecycle_state: CampaignLifecycleState;
  start_time: Date | null;
  end_time: Date | null;
}

const hasEnded = (c: Window, now: Date) => c.end_time !== null && c.end_time.getTime() <= now.getTime();

/** The status of a campaign at `now`. */
export function campaignStatus(c: Window, now: Date): CampaignStatus {
  switch (c.lifecycle_state) {
    case 'DRAFT':
      return 'DRAFT';
    case 'ARCHIVED':
      return 'ARCHIVED';
    case 'PAUSED':
      return hasEnded(c, now) ? 'ENDED' : 'PAUSED';
    case 'PUBLISHED':
      if (hasEnded(c, now)) return 'ENDED';
      return c.start_time !== null && c.start_time.getTime() > now.getTime() ? 'SCHEDULED' : 'ACTIVE';
  }
}

/** True when rewards and tasks of the campaign may run now. */
export const isCampaignActive = (c: Window, now: Date) => campaignStatus(c, now) === 'ACTIVE';

/**
 * Each action: the stored state it moves to, and the effective statuses it is allowed from.
 * Anything else is a 409 invalid_campaign_transition.
 */
export const transitions: Record<CampaignAction, { to: CampaignLifecycleState; from: readonly CampaignStatus[] }> = {
  publish: { to: 'PUBLISHED', from: ['DRAFT'] },
  pause: { to: 'PAUSED', from: ['SCHEDULED', 'ACTIVE'] },
  resume: { to: 'PUBLISHED', from: ['PAUSED'] },
  archive: { to: 'ARCHIVED', from: ['DRAFT', 'SCHEDULED', 'ACTIVE', 'PAUSED', 'ENDED'] },
};

type CampaignEb = ExpressionBuilder<DB, 'campaign'>;

const notEnded = (eb: CampaignEb, now: Date) => eb.or([eb('end_time', 'is', null), eb('end_time', '>', now)]);

/** The SQL condition equivalent to `campaignStatus(row, now) === status`, for list filters. */
export function statusCondition(eb: CampaignEb, status: CampaignStatus, now: Date): Expression<SqlBool> {
  switch (status) {
    case 'DRAFT':
    case 'ARCHIVED':
      return eb('lifecycle_state', '=', status);
    case 'PAUSED':
      return eb.and([eb('lifecycle_state', '=', 'PAUSED'), notEnded(eb, now)]);
    case 'ENDED':
      return eb.and([eb('lifecycle_state', 'in', ['PUBLISHED', 'PAUSED']), eb('end_time', 'is not', null), eb('end_time', '<=', now)]);
    case 'SCHEDULED':
      return eb.and([eb('lifecycle_state', '=', 'PUBLISHED'), eb('start_time', '>', now), notEnded(eb, now)]);
    case 'ACTIVE':
      return eb.and([
        eb('lifecycle_state', '=', 'PUBLISHED'),
        eb.or([eb('start_time', 'is', null), eb('start_time', '<=', now)]),
        notEnded(eb, now),
      ]);
  }
}

/**
 * The condition under which `action` may apply now: the guard of the one conditional UPDATE.
 * Publishing also needs a window that is not over (a DRAFT's status ignores its window).
 */
export function transitionCondition(eb: CampaignEb, action: CampaignAction, now: Date): Expression<SqlBool> {
  const allowed = eb.or(transitions[action].from.map((status) => statusCondition(eb, status, now)));
  return action === 'publish' ? eb.and([allowed, notEnded(eb, now)]) : allowed;
}

/**
 * The tenant's ACTIVE campaigns at `now` (campaignStatus() === 'ACTIVE' in SQL), as a relation
 * (tenant_id, campaign_id, audience_id) another module joins in its own statement, for example
 * the tasks a trigger event moves: one round trip, while the campaign table and the rule of what
 * ACTIVE means stay here.
 */
export function activeCampaignsSql(tenantId: string, now: Date): RawBuilder<unknown> {
  return sql`(select c.tenant_id, c.campaign_id, c.audience_id
                from campaign c
               where c.tenant_id = ${tenantId}
                 and c.deleted_at is null
                 and c.lifecycle_state = 'PUBLISHED'
                 and (c.start_time is null or c.start_time <= ${now})
                 and (c.end_time is null or c.end_time > ${now}))`;
}
