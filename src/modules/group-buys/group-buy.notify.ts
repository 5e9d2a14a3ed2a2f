import { type JobRecord, PermanentJobError } from '../../platform/jobs.js';
import { sendWebhook, WebhookBlockedError, webhookOutcomeOf, type WebhookOutcome } from '../../platform/webhook.js';
import type { GroupBuyService, GroupEvent } from './group-buy.service.js';

interface NotifyPayload {
  group_id: string;
  event: GroupEvent;
}

/**
 * Sends a group's outcome to its activity's webhook, signed as reward webhooks are
 * (platform/webhook.ts): `group_buy.succeeded` (fulfil the members' orders) or `group_buy.failed`
 * (refund them: this is the refund hook). The body carries the group, its members and their
 * order ids. The job runner retries a throw with backoff; deliveries are at least once, with the
 * stable delivery id `<group_id>:<event>` to deduplicate on.
 */
export function createGroupBuyNotifyHandler(deps: { groupBuys: GroupBuyService; allowPrivateNetworks: boolean; countAttempt?: (outcome: WebhookOutcome) => void }) {
  return async (job: JobRecord): Promise<void> => {
    const { group_id: groupId, event } = job.payload as NotifyPayload;
    const found = await deps.groupBuys.outcome(job.tenantId, groupId);
    if (!found) throw new PermanentJobError(`group ${groupId} not found`);
    const { group, activity } = found;
    // The webhook was removed since: nothing to announce to.
    if (!activity.webhook_url || !activity.webhook_secret) return;
    const deliveryId = `${groupId}:${event}`;
    const body = JSON.stringify({
      event,
      delivery_id: deliveryId,
      activity: {
        activity_id: activity.activity_id,
        item_id: activity.item_id,
        group_price: Number(activity.group_price),
        original_price: Number(activity.original_price),
      },
      group,
    });
    try {
      await sendWebhook({ url: activity.webhook_url, secret: activity.webhook_secret, body, deliveryId, allowPrivateNetworks: deps.allowPrivateNetworks });
      deps.countAttempt?.('delivered');
    } catch (caught) {
      deps.countAttempt?.(webhookOutcomeOf(caught));
      // A blocked destination will not unblock itself: no point in retrying.
      throw caught instanceof WebhookBlockedError ? new PermanentJobError(caught.message) : caught;
    }
  };
}
