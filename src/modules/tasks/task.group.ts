/**
 * Group commit for single trigger events (platform/group-commit.ts): events that arrive while
 * `concurrency` groups are in flight wait for the next group, and a group runs as ONE set-based
 * trigger (task.trigger.ts triggerGroup: claims, upserts and grants) in one transaction. An event
 * alone runs the same code as a group of one, so each event of a group gets the answer it would
 * get alone, in order (tested). Under load many events share round trips and one commit; with no
 * load an event goes at once, alone. Only events of the same caller (tenant and product scope)
 * share a group.
 */
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { retryTransient } from '../../db/retry.js';
import type { TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { AppError } from '../../platform/errors.js';
import { createGroupCommit } from '../../platform/group-commit.js';
import type { TaskOutcomeView } from './task.schemas.js';
import type { TriggerEvent } from './task.trigger.js';

type Result = { event_id: string; duplicate: boolean; tasks: TaskOutcomeView[] };
/** How a group runs (triggerGroup), and how one event runs alone (triggerOne: a group of one that throws its refusal). */
interface Runners {
  group: (exec: Executor, tenant: TenantActor, events: TriggerEvent[], now: Date) => Promise<(Result | AppError)[]>;
  one: (exec: Executor, tenant: TenantActor, event: TriggerEvent, now: Date) => Promise<Result>;
}

export interface TriggerGrouper {
  submit(tenant: TenantActor, event: TriggerEvent): Promise<Result>;
}

interface Item {
  tenant: TenantActor;
  event: TriggerEvent;
}

const scopeOf = (t: TenantActor) => `${t.tenantId}\u0000${t.productCodes === null ? '*' : [...t.productCodes].sort().join(',')}`;

export function createTriggerGrouper(db: Database, clock: Clock, run: Runners, options: { maxSize: number; concurrency: number }): TriggerGrouper {
  const group = createGroupCommit<Item, Result>({
    maxSize: options.maxSize,
    concurrency: options.concurrency,
    // Only events of the same caller (tenant and product scope) share a group.
    keyOf: (item) => scopeOf(item.tenant),
    runGroup: async (items) => {
      const results = await inTransaction(db, (trx) => run.group(trx, items[0]!.tenant, items.map((i) => i.event), clock.now()));
      return results.map((r) => (r instanceof AppError ? { error: r } : { ok: r }));
    },
    // One event on its own, in its own transaction (a deadlock victim is retried).
    runAlone: (item) => retryTransient(() => inTransaction(db, (trx) => run.one(trx, item.tenant, item.event, clock.now()))),
  });
  return { submit: (tenant, event) => group.submit({ tenant, event }) };
}
