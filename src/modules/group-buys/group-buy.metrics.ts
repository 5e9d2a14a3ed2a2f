import { Counter, type Registry } from 'prom-client';

/** Group-buy counters: groups opened, joins, groups settled by outcome, and refused creates and joins by code. */
export function groupBuyMetrics(registry: Registry) {
  return {
    created: new Counter({ name: 'marketing_group_buy_groups_created_total', help: 'Group-buy groups opened (the leader joined)', registers: [registry] }),
    joined: new Counter({ name: 'marketing_group_buy_joins_total', help: 'Members who joined a group-buy group (leaders not counted)', registers: [registry] }),
    succeeded: new Counter({
      name: 'marketing_group_buy_groups_succeeded_total',
      help: 'Group-buy groups that succeeded, by how (full or virtual_fill)',
      labelNames: ['how'] as const,
      registers: [registry],
    }),
    failed: new Counter({ name: 'marketing_group_buy_groups_failed_total', help: 'Group-buy groups not full at expiry (members refunded)', registers: [registry] }),
    refused: new Counter({
      name: 'marketing_group_buy_refusals_total',
      help: 'Group-buy creates and joins refused, by error code (group_full, already_joined, per_user_limit_reached, activity_not_active, rate_limited ...)',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
}
export type GroupBuyMetrics = ReturnType<typeof groupBuyMetrics>;
