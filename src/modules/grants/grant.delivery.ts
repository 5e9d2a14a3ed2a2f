import type { Database } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import { type JobRecord, PermanentJobError } from '../../platform/jobs.js';
import { sendWebhook, WebhookBlockedError, webhookOutcomeOf, type WebhookOutcome } from '../../platform/webhook.js';
import { findRewardDistributor } from '../rewards/index.js';
import * as repo from './grant.repo.js';
import { toGrantView } from './grant.service.js';

interface DeliveryPayload {
  grant_id: string;
  event: 'reward_grant.created' | 'reward_grant.revoked';
}

const MAX_ERROR = 500;

/**
 * Sends one grant event to the reward's webhook, signed (see platform/webhook.ts). The job runner
 * retries a throw with capped exponential backoff, so a receiver that is down for a while loses
 * nothing; the grant shows attempts and the last error, and FAILED once the job gives up.
 * Deliveries are at least once: receivers dedupe by the x-marketing-delivery-id header.
 */
export function createDeliveryHandler(deps: { db: Database; clock: Clock; allowPrivateNetworks: boolean; countAttempt?: (outcome: WebhookOutcome) => void }) {
  const { db, clock } = deps;
  return async (job: JobRecord): Promise<void> => {
    const { grant_id: grantId, event } = job.payload as DeliveryPayload;
    const grant = await repo.findGrant(db, { tenantId: job.tenantId, productCodes: null }, grantId);
    if (!grant) throw new PermanentJobError(`grant ${grantId} not found`);
    // A grant revoked before its first delivery is not announced as created.
    if (event === 'reward_grant.created' && grant.status === 'REVOKED') return;
    const distributor = await findRewardDistributor(db, job.tenantId, grant.reward_id);
    if (!distributor || distributor.type !== 'WEBHOOK') throw new PermanentJobError(`reward ${grant.reward_id} has no webhook distributor`);

    const body = JSON.stringify({ event, delivery_id: `${grantId}:${event}`, grant: toGrantView(grant) });
    const attempts = grant.delivery_attempts + 1;
    try {
      await sendWebhook({
        url: distributor.url,
        secret: distributor.secret,
        body,
        deliveryId: `${grantId}:${event}`,
        ...(distributor.timeout_ms ? { timeoutMs: distributor.timeout_ms } : {}),
        allowPrivateNetworks: deps.allowPrivateNetworks,
      });
    } catch (caught) {
      deps.countAttempt?.(webhookOutcomeOf(caught));
      // A blocked destination will not unblock itself: no point in twelve attempts.
      const err = caught instanceof WebhookBlockedError ? new PermanentJobError(caught.message) : caught;
      // The runner retries with backoff; once it gives up, onDeliveryDead marks the grant FAILED.
      await repo.setDelivery(db, job.tenantId, grantId, {
        delivery_attempts: attempts,
        delivery_last_error: (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR),
        updated_at: clock.now(),
      });
      throw err;
    }
    deps.countAttempt?.('delivered');
    const now = clock.now();
    await repo.setDelivery(db, job.tenantId, grantId, {
      delivery_attempts: attempts,
      delivery_status: 'DELIVERED',
      delivery_last_error: null,
      delivered_at: now,
      updated_at: now,
    });
    if (event === 'reward_grant.created') {
      await repo.setDelivery(db, job.tenantId, grantId, { status: 'DELIVERED', updated_at: now }, ['PENDING', 'FAILED']);
    }
  };
}

/**
 * The delivery job is DEAD (attempts used up, a permanent error, or its last worker vanished):
 * the grant shows FAILED, and POST /v1/reward-grants/{id}/retry-delivery can send it again.
 */
export function createDeliveryDeadHandler(deps: { db: Database; clock: Clock }) {
  return async (job: JobRecord, lastError: string): Promise<void> => {
    const { grant_id: grantId, event } = job.payload as DeliveryPayload;
    const now = deps.clock.now();
    const row = await repo.findGrant(deps.db, { tenantId: job.tenantId, productCodes: null }, grantId);
    if (!row || row.delivery_status === 'DELIVERED') return;
    await repo.setDelivery(deps.db, job.tenantId, grantId, {
      delivery_status: 'FAILED',
      delivery_last_error: row.delivery_last_error ?? lastError.slice(0, MAX_ERROR),
      updated_at: now,
    });
    if (event === 'reward_grant.created') await repo.setDelivery(deps.db, job.tenantId, grantId, { status: 'FAILED', updated_at: now }, ['PENDING']);
  };
}
