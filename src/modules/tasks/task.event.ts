/**
 * An event as the trigger takes it: checked and normalized before any database work (product,
 * user id, size of event_data, when it happened), so a refused event costs no round trip.
 */
import { canSeeProduct, type TenantActor } from '../../platform/actor.js';
import { invalidRequest } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { taskErrors } from './task.errors.js';

/** How far in the future an event may say it happened (client clocks drift). */
const MAX_FUTURE_MS = 5 * 60_000;
/** How late an event may arrive and still count on the day it happened. */
const MAX_PAST_MS = 7 * 86_400_000;
const EVENT_DATA_MAX_BYTES = 16 * 1024;

export interface RawEvent {
  event_type: string;
  user_id: string | number;
  product_code?: string | undefined;
  event_data?: Record<string, unknown> | undefined;
  event_id?: string | undefined;
  occurred_at?: string | undefined;
}

export interface TriggerEvent {
  eventId: string;
  /** The caller gave no event_id: there is nothing to dedupe by and no answer to keep. */
  generatedId: boolean;
  userId: string;
  eventType: string;
  productCode: string | null;
  data: Record<string, unknown>;
  occurredAt: Date;
}

/** Checks an event before any database work; 400 / 403 name the problem. */
export function normalizeEvent(tenant: TenantActor, input: RawEvent, productHeader: string | undefined, now: Date): TriggerEvent {
  if (input.product_code && productHeader && input.product_code !== productHeader) {
    throw taskErrors.productCodeMismatch(input.product_code, productHeader);
  }
  const productCode = input.product_code ?? productHeader ?? null;
  if (productCode !== null && !canSeeProduct(tenant, productCode)) {
    throw taskErrors.productNotAllowed(productCode, tenant.productCodes);
  }
  const userId = String(input.user_id);
  if (userId.length === 0 || userId.length > 128) throw invalidRequest('user_id', 'must be 1-128 characters');
  const data = input.event_data ?? {};
  if (Buffer.byteLength(JSON.stringify(data), 'utf8') > EVENT_DATA_MAX_BYTES) throw invalidRequest('event_data', `must be at most ${EVENT_DATA_MAX_BYTES} bytes`);
  let occurredAt = now;
  if (input.occurred_at !== undefined) {
    occurredAt = new Date(input.occurred_at);
    if (Number.isNaN(occurredAt.getTime())) throw invalidRequest('occurred_at', 'is not a representable instant');
    if (occurredAt.getTime() > now.getTime() + MAX_FUTURE_MS) throw invalidRequest('occurred_at', 'is in the future');
    if (occurredAt.getTime() < now.getTime() - MAX_PAST_MS) throw invalidRequest('occurred_at', 'is more than 7 days ago');
  }
  return {
    eventId: input.event_id ?? newId('evt', now.getTime()),
    generatedId: input.event_id === undefined,
    userId,
    eventType: input.event_type,
    productCode,
    data,
    occurredAt,
  };
}
