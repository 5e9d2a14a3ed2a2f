import { DELIVERY_QUEUE } from '../modules/grants/index.js';
import { GROUP_BUY_NOTIFY_QUEUE } from '../modules/group-buys/index.js';
import { GENERATE_QUEUE } from '../modules/redeem-codes/index.js';
import { SYNC_QUEUE } from '../modules/sync/index.js';
import { type JobRunner, purgeDoneJobs } from '../platform/jobs.js';
import type { Services } from './services.js';

/**
 * Gives every queue its handler and every sweep its schedule. The API process (in-process
 * workers) and `marketing-hub worker` processes both call this, so they run the same work.
 */
export function registerJobHandlers(runner: JobRunner, services: Services, idempotencyPurgeMs = 600_000, mirrorReconcileMs = 30 * 60_000): void {
  runner.every('idempotency.purge', idempotencyPurgeMs, async () => {
    await services.idempotency.purgeExpired();
  });
  // Reservations past expires_at give their units back within about a second; confirm refuses
  // them at once regardless (it checks expires_at itself), so the sweep only frees stock.
  runner.every('inventory.expire', 1000, async () => {
    await services.inventory.expireDue();
  });
  runner.register(DELIVERY_QUEUE, services.delivery, { concurrency: 8, onDead: services.deliveryDead });
  // Large code batches, one at a time per process: each already keeps a connection busy with COPY.
  runner.register(GENERATE_QUEUE, async (job) => {
    await services.redeemBatches.runBatch(job.tenantId, (job.payload as { batch_id: string }).batch_id);
  }, { concurrency: 1 });
  // The Redis mirror of redeem codes drifts only by outside hands or lost writes; the database wins.
  if (services.codeMirror.enabled && mirrorReconcileMs > 0) {
    runner.every('redeem_codes.reconcile', mirrorReconcileMs, async () => {
      await services.codeReconciler.reconcile();
    });
  }
  // Group-buys: open groups past expires_at succeed (virtual fill) or fail; outcomes go to the webhook.
  runner.every('group_buys.expire', 2000, async () => {
    await services.groupBuys.expireDue();
  });
  runner.register(GROUP_BUY_NOTIFY_QUEUE, services.groupBuyNotify, { concurrency: 4 });
  // Coupon locks past locked_until go back to the wallet; coupons past validity become expired.
  runner.every('coupons.release_locks', 2000, async () => {
    await services.coupons.releaseLapsedLocks();
  });
  runner.every('coupons.expire', services.coupons.checkIntervalMs, async () => {
    await services.coupons.expireDue();
  });
  // Promotion reservations past expires_at are released; their stock and the users' counts come back.
  runner.every('promotions.release_lapsed', 2000, async () => {
    await services.promotions.releaseLapsed();
  });
  // Checkout orders unpaid at their TTL give their coupons and stock back; quote counts reach the stats table.
  // Referral orders unpaid past referrals.unpaid_timeout_seconds are cancelled.
  runner.every('referrals.cancel_unpaid', 5000, async () => {
    await services.referralPayments.cancelUnpaid();
  });
  runner.every('checkout.release_lapsed', 2000, async () => {
    await services.checkout.releaseLapsed();
  });
  runner.every('checkout.flush_quote_counts', 5000, async () => {
    await services.checkout.flushQuoteCounts();
  });
  // Outreach: the send loop, the campaign scheduler and rewards for delivered messages.
  services.outreach.register(runner);
  // Sync: each record INSERTed into the customer's database; failures retry with the queue's backoff;
  // a job given up leaves its record failed (never pending forever).
  runner.register(SYNC_QUEUE, services.sync.deliver, { concurrency: services.sync.concurrency, onDead: services.sync.dead });
  // Finished jobs are kept a week for inspection, then deleted; DEAD jobs stay until retried.
  runner.every('jobs.purge', 3_600_000, async () => {
    await purgeDoneJobs(services.db, { before: new Date(services.clock.now().getTime() - 7 * 86_400_000), limit: 10_000 });
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's services (decorated by buildApp), so the server can run job workers on them. */
    services: Services;
  }
}
