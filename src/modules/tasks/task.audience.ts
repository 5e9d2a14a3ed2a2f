/**
 * Which of a task's ACTIVE campaigns an event progresses it for: the first linked one (by
 * sort_order) whose audience holds the user. A campaign whose audience is missing (stored before
 * references were checked) is passed over and reported, never failing the event.
 */
import type { Executor } from '../../db/client.js';
import type * as repo from './task.repo.js';

/**
 * What the tasks module needs of audiences (built in the audiences module): is this user a
 * member of this audience now, and why (or why not); null when the tenant has no such audience.
 * `exec` lets the check read in the trigger's transaction.
 */
export interface AudienceCheck {
  findMembership(tenantId: string, audienceId: string, userId: string, exec?: Executor): Promise<{ member: boolean; reasons: string[] } | null>;
}

/**
 * Membership answers of one trigger call, by audience and user: true / false, or null when the
 * audience is missing (a campaign stored before references were checked).
 */
export type MembershipMemo = Map<string, boolean | null>;

/** A campaign with a missing audience is logged at most once a minute, not once per event. */
const MISSING_WARN_EVERY_MS = 60_000;

export interface CampaignPickerDeps {
  audiences?: AudienceCheck | undefined;
  /** Where a campaign whose audience is missing is reported (the app's logger, as a warning). */
  warn?: ((err: unknown, message: string) => void) | undefined;
}

/** The picker of one trigger service (its warning throttle lives as long as the service). */
export function createCampaignPicker(deps: CampaignPickerDeps) {
  const warnedAt = new Map<string, number>();

  /** Logs a campaign whose audience is missing, throttled per campaign (a busy event type would flood the log). */
  function warnMissing(link: repo.ActiveTaskRow): void {
    if (!deps.warn) return;
    const key = `${link.tenant_id}\u0000${link.campaign_id}`;
    const now = Date.now();
    const last = warnedAt.get(key);
    if (last !== undefined && now - last < MISSING_WARN_EVERY_MS) return;
    if (warnedAt.size >= 10_000) warnedAt.clear();
    warnedAt.set(key, now);
    deps.warn(
      { tenant_id: link.tenant_id, campaign_id: link.campaign_id, audience_id: link.audience_id, task_id: link.task_id },
      'campaign audience is missing: its tasks are skipped (audience_missing) until the campaign names an existing audience',
    );
  }

  /**
   * The campaign the task progresses for: the first linked one whose audience holds the user. A
   * campaign whose audience is missing is passed over (reason audience_missing when no other link
   * takes the event), so it never stops the tasks of other campaigns.
   */
  async function pickCampaign(exec: Executor, links: repo.ActiveTaskRow[], userId: string, memo: MembershipMemo): Promise<{ campaignId: string | null; reason: string | null }> {
    let reason = 'not_in_audience';
    for (const link of links) {
      if (link.audience_id === null) return { campaignId: link.campaign_id, reason: null };
      if (!deps.audiences) {
        // Fail closed: without the audiences module nobody can be shown to be in the audience.
        reason = 'audience_check_unavailable';
        continue;
      }
      const key = `${link.audience_id}\u0000${userId}`;
      let member = memo.get(key);
      if (member === undefined) {
        member = (await deps.audiences.findMembership(link.tenant_id, link.audience_id, userId, exec))?.member ?? null;
        memo.set(key, member);
      }
      if (member === null) {
        // Fail closed for this campaign only: nobody can be shown to be in an audience that is gone.
        reason = 'audience_missing';
        warnMissing(link);
        continue;
      }
      if (member) return { campaignId: link.campaign_id, reason: null };
    }
    return { campaignId: null, reason };
  }
  return pickCampaign;
}
