import { type Database, inTransaction } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import * as campaignRepo from './campaign.repo.js';
import { nextCronAt } from './campaign.checks.js';
import type { RunService } from './run.service.js';

/**
 * The service's own scheduler (no external cron): campaigns whose `next_run_at` has come are
 * locked (SKIP LOCKED, so one process starts each), triggered, and given their next time from
 * the cron expression in its time zone. An occurrence that finds the previous run still going
 * is skipped (a campaign never runs twice at once), and the one after is planned.
 */
export function createScheduler(deps: { db: Database; clock: Clock; runs: RunService; warn: (err: unknown, message: string) => void }) {
  return {
    async tick(): Promise<number> {
      const now = deps.clock.now();
      return inTransaction(deps.db, async (trx) => {
        const due = await campaignRepo.claimDueCampaigns(trx, now, 20);
        let started = 0;
        for (const c of due) {
          const run = await deps.runs.triggerScheduled(trx, c, now, (err, id) => deps.warn(err, `outreach campaign ${id} could not start on schedule`));
          if (run) started += 1;
          let next: Date | null = null;
          if (c.schedule_cron) {
            try {
              next = nextCronAt(c.schedule_cron, c.schedule_time_zone ?? 'UTC', now);
            } catch (err) {
              deps.warn(err, 'outreach schedule no longer parses');
            }
            if (next && c.end_time && next >= c.end_time) next = null;
          }
          const change: Parameters<typeof campaignRepo.updateCampaign>[3] = { next_run_at: next, updated_at: now };
          // It could not start (no provider any more, a template deleted: said in the log) and no
          // further run is planned: back to draft, for the operator to fix and trigger.
          if (!run && !next && c.status === 'scheduled') change.status = 'draft';
          await campaignRepo.updateCampaign(trx, c.tenant_id, c.campaign_id, change);
        }
        return started;
      });
    },
  };
}
