import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';

/**
 * Which of these rewards are live: not deleted and not past valid_until. Keys are
 * `${tenant_id}\u0000${reward_id}`; answers the live subset.
 */
export async function liveRewardKeys(exec: Executor, rewards: readonly { tenantId: string; rewardId: string }[]): Promise<Set<string>> {
  if (rewards.length === 0) return new Set();
  const { rows } = await sql<{ tenant_id: string; reward_id: string }>`
    select r.tenant_id, r.reward_id
      from reward r
      join unnest(${rewards.map((x) => x.tenantId)}::text[], ${rewards.map((x) => x.rewardId)}::text[]) as k(tenant_id, reward_id)
        on r.tenant_id = k.tenant_id and r.reward_id = k.reward_id
     where r.deleted_at is null and (r.valid_until is null or r.valid_until > now())`.execute(exec);
  return new Set(rows.map((r) => `${r.tenant_id}\u0000${r.reward_id}`));
}
