import type { CampaignRow } from '../campaigns/index.js';
import { createSnapshotCache } from '../../platform/snapshot-cache.js';
import type { SettingsRow } from './referral.repo.js';

/** What a keyless page route needs of its campaign: the referral settings and the campaign row. */
export interface PageRows {
  settings: SettingsRow;
  campaign: CampaignRow;
}

/**
 * The rows behind a landing page, kept per campaign in this process for `ttlMs`
 * (`referrals.page_cache_ms`), so a sign-up reads nothing but its own INSERT. Only the rows are
 * kept: whether the page is open (settings enabled, campaign published and inside its window) is
 * decided on every request against the clock, so a campaign whose end_time passes closes at that
 * moment. `drop` (a settings change made by this process) forgets the campaign at once, and a
 * read that began before a drop does not store what it read. A change made elsewhere (another
 * process, or a campaign paused or archived: the campaigns module has no change hook) is seen
 * once the entry expires, after at most `ttlMs`. ttlMs 0 reads the rows on every request.
 */
export function createPageCache(deps: { ttlMs: number; now: () => number; load: (campaignId: string) => Promise<PageRows | null> }) {
  const cache = createSnapshotCache<PageRows>({ ttlMs: deps.ttlMs, maxEntries: 10_000, now: deps.now });
  const inflight = new Map<string, Promise<PageRows | null>>();
  // Bumped by every drop: a read that started under an older generation is answered, never stored.
  let generation = 0;

  function load(campaignId: string): Promise<PageRows | null> {
    const running = inflight.get(campaignId);
    if (running) return running;
    const started = generation;
    const p = deps
      .load(campaignId)
      .then((rows) => {
        // Unknown campaigns are not kept: the entries stay bounded by real pages, not by probes.
        if (rows && started === generation) cache.set(campaignId, Object.freeze({ settings: Object.freeze(rows.settings), campaign: Object.freeze(rows.campaign) }));
        return rows;
      })
      .finally(() => {
        if (inflight.get(campaignId) === p) inflight.delete(campaignId);
      });
    inflight.set(campaignId, p);
    return p;
  }

  return {
    get(campaignId: string): Promise<PageRows | null> {
      if (deps.ttlMs <= 0) return deps.load(campaignId);
      const hit = cache.get(campaignId);
      return hit ? Promise.resolve(hit) : load(campaignId);
    },
    drop(campaignId: string): void {
      generation++;
      cache.delete(campaignId);
      inflight.delete(campaignId);
    },
  };
}

export type PageCache = ReturnType<typeof createPageCache>;
