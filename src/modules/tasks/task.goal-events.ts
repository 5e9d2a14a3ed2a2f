import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';

export interface GoalEvent {
  user_id: string;
  occurred_at: Date;
  received_at: Date;
}

/**
 * For other modules (outreach conversions): events of one type that arrived in (after, upTo],
 * oldest first, at most `limit`. Reads the task_event index by (tenant, type, arrival).
 */
export async function goalEvents(
  exec: Executor,
  input: { tenantId: string; eventType: string; receivedAfter: Date; receivedUpTo: Date; limit: number },
): Promise<GoalEvent[]> {
  const r = await sql<GoalEvent>`
    select user_id, occurred_at, received_at from task_event
    where tenant_id = ${input.tenantId} and event_type = ${input.eventType}
      and received_at > ${input.receivedAfter} and received_at <= ${input.receivedUpTo}
    order by received_at limit ${input.limit}`.execute(exec);
  return r.rows;
}
