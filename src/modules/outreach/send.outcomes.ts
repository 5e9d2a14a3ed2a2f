import type { SendOutcome } from './channels/channel.js';
import type { ClaimedRecord, Outcome } from './record.statements.js';
import type { Prepared } from './send.prepare.js';

/**
 * Turns what happened to one claimed record into its row change and counter moves. Counters are
 * milestones (attempted, sent, delivered, failed, skipped:<reason>, would_send) counted once per
 * record, plus `deferred`, the records waiting now (+1 on entry, -1 on leaving).
 */

export interface OutcomeSettings {
  maxAttempts: number;
  /** Wait after a temporary failure, by attempt. */
  backoffMs: (attempt: number) => number;
  now: Date;
}

function base(record: ClaimedRecord, status: string, metrics: string[]): Outcome {
  const wasDeferred = record.old_status === 'deferred';
  const nowDeferred = status === 'deferred';
  const moves = [...metrics];
  if (wasDeferred && !nowDeferred) moves.push('-deferred');
  if (!wasDeferred && nowDeferred) moves.push('deferred');
  return {
    seq: record.seq,
    status,
    reason: null,
    error: null,
    address: null,
    providerMessageId: null,
    nextAttemptAt: null,
    sent: false,
    delivered: false,
    failed: false,
    metrics: moves,
    response: null,
  };
}

/** A record decided before any provider call: skipped or deferred to the end of quiet hours. */
export function preparedOutcome(record: ClaimedRecord, prepared: Exclude<Prepared, { kind: 'send' }>): Outcome {
  if (prepared.kind === 'skip') {
    return { ...base(record, 'skipped', [`skipped:${prepared.reason}`]), reason: prepared.reason, address: prepared.address };
  }
  return { ...base(record, 'deferred', []), reason: prepared.reason, address: prepared.address, nextAttemptAt: prepared.until };
}

/** Skipped at send time because the frequency cap was full. */
export function cappedOutcome(record: ClaimedRecord, address: string): Outcome {
  return { ...base(record, 'skipped', ['skipped:frequency_capped']), reason: 'frequency_capped', address };
}

/** A simulation's verdict for a record that would be sent (reason set when it would wait for quiet hours first). */
export function wouldSendOutcome(record: ClaimedRecord, address: string, reason: string | null): Outcome {
  return { ...base(record, 'would_send', ['would_send']), reason, address };
}

/** What the provider answered. */
export function sentOutcome(record: ClaimedRecord, address: string, answer: SendOutcome, settings: OutcomeSettings): Outcome {
  const { now } = settings;
  switch (answer.kind) {
    case 'accepted': {
      const o = base(record, answer.delivered ? 'delivered' : 'sent', answer.delivered ? ['attempted', 'sent', 'delivered'] : ['attempted', 'sent']);
      return { ...o, address, providerMessageId: answer.providerMessageId ?? null, sent: true, delivered: answer.delivered };
    }
    case 'throttled':
      return {
        ...base(record, 'deferred', []),
        reason: 'throttled',
        error: answer.error,
        address,
        nextAttemptAt: new Date(now.getTime() + Math.max(1000, answer.retryAfterMs ?? 30_000)),
      };
    case 'retry':
      if (record.attempts >= settings.maxAttempts) {
        return { ...base(record, 'failed', ['attempted', 'failed']), reason: 'max_attempts', error: answer.error, address, failed: true };
      }
      return {
        ...base(record, 'deferred', []),
        reason: 'provider_unavailable',
        error: answer.error,
        address,
        nextAttemptAt: new Date(now.getTime() + settings.backoffMs(record.attempts)),
      };
    case 'invalid_address':
      return { ...base(record, 'failed', ['attempted', 'failed']), reason: 'invalid_address', error: answer.error, address, failed: true };
    case 'failed':
      return { ...base(record, 'failed', ['attempted', 'failed']), reason: 'provider_refused', error: answer.error, address, failed: true };
  }
}
