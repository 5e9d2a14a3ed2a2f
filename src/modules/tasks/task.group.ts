/**
 * Group commit for single trigger events: events that arrive while `concurrency` groups are in
 * flight wait for the next group, and a group runs as ONE batch trigger (task.trigger.ts
 * triggerGroup: set-based claims, upserts and grants) in one transaction, each event getting the
 * answer the single form would give it (the batch form's answers equal the single form's, in
 * order; tested). Under load many events share round trips and one commit; with no load an event
 * goes at once, alone. Only events of the same caller (tenant and product scope) share a group.
 */
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { retryTransient } from '../../db/retry.js';
import type { TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { AppError } from '../../platform/errors.js';
import type { TaskOutcomeView } from './task.schemas.js';
import type { TriggerEvent } from './task.trigger.js';

type Result = { event_id: string; duplicate: boolean; tasks: TaskOutcomeView[] };
/** How a group runs (triggerGroup), and how one event runs alone (triggerOne, which throws its refusal). */
interface Runners {
  group: (exec: Executor, tenant: TenantActor, events: TriggerEvent[], now: Date) => Promise<(Result | AppError)[]>;
  one: (exec: Executor, tenant: TenantActor, event: TriggerEvent, now: Date) => Promise<Result>;
}

interface Waiting {
  tenant: TenantActor;
  scope: string;
  event: TriggerEvent;
  resolve: (r: Result) => void;
  reject: (e: unknown) => void;
}

export interface TriggerGrouper {
  submit(tenant: TenantActor, event: TriggerEvent): Promise<Result>;
}

const scopeOf = (t: TenantActor) => `${t.tenantId}\u0000${t.productCodes === null ? '*' : [...t.productCodes].sort().join(',')}`;

export function createTriggerGrouper(db: Database, clock: Clock, run: Runners, options: { maxSize: number; concurrency: number }): TriggerGrouper {
  const queue: Waiting[] = [];
  let inFlight = 0;

  function pump(): void {
    while (inFlight < options.concurrency && queue.length > 0) {
      // The oldest waiting event and the next ones of its caller's scope, up to maxSize.
      const scope = queue[0]!.scope;
      const group: Waiting[] = [];
      for (let i = 0; i < queue.length && group.length < options.maxSize; ) {
        if (queue[i]!.scope === scope) group.push(...queue.splice(i, 1));
        else i++;
      }
      inFlight++;
      void runGroup(group).finally(() => {
        inFlight--;
        pump();
      });
    }
  }

  const settle = (w: Waiting, r: Result | AppError) => (r instanceof AppError ? w.reject(r) : w.resolve(r));

  /** One event on its own, as the single form runs it (a deadlock victim is retried). */
  const alone = (w: Waiting) => retryTransient(() => inTransaction(db, (trx) => run.one(trx, w.tenant, w.event, clock.now()))).then(w.resolve, w.reject);

  async function runGroup(group: Waiting[]): Promise<void> {
    if (group.length === 1) return alone(group[0]!);
    let results: (Result | AppError)[];
    try {
      results = await inTransaction(db, (trx) => run.group(trx, group[0]!.tenant, group.map((w) => w.event), clock.now()));
    } catch {
      // Nothing of the group committed. One event's error (or a deadlock) must not fail the
      // others: each runs again on its own and gets its own answer.
      await Promise.all(group.map(alone));
      return;
    }
    group.forEach((w, i) => settle(w, results[i]!));
  }

  return {
    submit(tenant, event) {
      return new Promise((resolve, reject) => {
        queue.push({ tenant, scope: scopeOf(tenant), event, resolve, reject });
        pump();
      });
    },
  };
}
