import { Counter, Histogram, type Registry } from 'prom-client';
import type { GrantMetrics } from './grant.service.js';

export { createGrantService, type GrantService, type GrantOutcome, type GrantStatementRunner, DELIVERY_QUEUE, LEDGER_CAUSE } from './grant.service.js';
export { createDeliveryHandler, createDeliveryDeadHandler } from './grant.delivery.js';
export { grantRoutes } from './grant.routes.js';
export { createGrantBatcher, type GrantBatcher, GrantRefusal } from './grant.statement.js';

/** The grant module's reward metrics. `result` is `granted`, `replayed`, or the refusal code. */
export function grantMetrics(registry: Registry): GrantMetrics {
  return {
    granted: new Counter({
      name: 'marketing_reward_granted_total',
      help: 'Grant attempts by reward type and result (granted, replayed, or the refusal code)',
      labelNames: ['reward_type', 'result'] as const,
      registers: [registry],
    }),
    generation: new Histogram({
      name: 'marketing_reward_generation_duration_seconds',
      help: 'Time to generate the units of a grant',
      labelNames: ['reward_type'] as const,
      buckets: [0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'marketing_reward_grant_batch_size',
      help: 'Grants per group commit (one statement and one transaction for all of them)',
      buckets: [1, 2, 4, 8, 16, 32],
      registers: [registry],
    }),
    batchFailed: new Counter({
      name: 'marketing_reward_grant_batch_failed_total',
      help: 'Group commits that failed as a whole (an error or a deadlock) and ran their grants one by one instead',
      registers: [registry],
    }),
    distribution: new Histogram({
      name: 'marketing_reward_distribution_duration_seconds',
      help: 'Time of the grant statement that distributes a grant (ledger credit or webhook enqueue, with the stock take and the grant row)',
      labelNames: ['distributor'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [registry],
    }),
  };
}
