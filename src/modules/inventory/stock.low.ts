import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';

export interface StockLeft {
  tenantId: string;
  rewardId: string;
  total: number;
  /** total - reserved - used, summed over the reward's slots (what a grant can still take). */
  left: number;
}

/**
 * The limited-stock rewards closest to selling out, across tenants, for the stock gauge: rewards
 * that have had units taken (granted or reserved), those with units left first by the share left
 * (lowest first), then sold-out ones. Rewards never granted, and unlimited ones, are not listed:
 * the gauge is for rewards being sold now. One grouped read of the slot table, `limit` rows.
 */
export async function lowestStock(exec: Executor, limit: number): Promise<StockLeft[]> {
  const { rows } = await sql<{ tenant_id: string; reward_id: string; total: string; left: string }>`
    select tenant_id, reward_id, sum(total)::text as total, sum(total - reserved - used)::text as left
      from reward_stock_slot
     where total is not null
     group by tenant_id, reward_id
    having sum(reserved + used) > 0
     order by sum(total - reserved - used) = 0,
              sum(total - reserved - used)::float8 / greatest(sum(total), 1),
              tenant_id, reward_id
     limit ${limit}`.execute(exec);
  return rows.map((r) => ({ tenantId: r.tenant_id, rewardId: r.reward_id, total: Number(r.total), left: Number(r.left) }));
}
