import { sql } from 'kysely';
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import type { JobQueue } from '../../platform/jobs.js';
import { optOutByAddress } from '../customers/index.js';
import type { CallbackRequest, StatusEvent } from './channels/channel.js';
import type { OutreachMetrics } from './outreach.metrics.js';
import { outreachErrors } from './outreach.errors.js';
import type { ProviderService } from './provider.service.js';
import { type AppliedEvent, applyEvent, parseRecordId, type RecordEvent, type RecordLocator } from './record.events.js';
import { REWARD_QUEUE } from './run.dispatch.js';
import * as runRepo from './run.repo.js';
import type { RunSnapshot } from './send.prepare.js';
import { suppress } from './send.limits.js';
import type { Tracker } from './tracking.js';

/** Replies that unsubscribe (the product document's "回复TD退订", and the usual English words). */
const UNSUBSCRIBE_REPLY = /^\s*(td|t|退订|取消|stop|unsubscribe|stopall|end|quit)\s*[。.!！]?\s*$/i;

/** Which profile attribute holds the channel's address. */
const ADDRESS_ATTRIBUTE: Record<string, string | null> = { sms: 'phone', email: 'email', push_notification: null, webhook: null };
const CONSENT_CHANNEL: Record<string, string | null> = { sms: 'sms', email: 'email', push_notification: 'push', webhook: null };

export interface EventsServiceDeps {
  db: Database;
  clock: Clock;
  providers: ProviderService;
  jobs: JobQueue;
  tracker: Tracker;
  metrics: OutreachMetrics;
}

export type EventsService = ReturnType<typeof createEventsService>;

/**
 * The forms a replying number may have on profiles and records: as the provider reported it
 * (E.164), and for a mainland China mobile also the 11 national digits (how profiles often
 * store it, and what the send path then uses as the address).
 */
function phoneForms(from: string): string[] {
  const national = /^\+86(1\d{10})$/.exec(from)?.[1];
  return national ? [from, national] : [from];
}

function eventOf(e: StatusEvent): RecordEvent {
  switch (e.status) {
    case 'delivered':
      return { kind: 'delivered' };
    case 'failed':
    case 'bounced':
      return { kind: e.status, error: e.error };
    case 'opened':
      return { kind: 'opened', machine: e.machine };
    case 'clicked':
      return { kind: 'clicked', linkId: 'provider' };
  }
}

export function createEventsService(deps: EventsServiceDeps) {
  const { db, clock, metrics } = deps;

  /** After an event in `trx`: a reward for a first delivery, a suppression for a bounce or an unsubscribe. */
  async function follow(trx: Executor, applied: AppliedEvent, now: Date) {
    for (const m of applied.moved) metrics.events.inc({ kind: m });
    if (applied.delivered) {
      const run = await runRepo.findRun(trx, applied.tenantId, applied.runId);
      const rewardId = (run?.snapshot as RunSnapshot | undefined)?.reward_id;
      if (rewardId) {
        await deps.jobs.enqueue(trx, {
          tenantId: applied.tenantId,
          queue: REWARD_QUEUE,
          payload: { reward_id: rewardId, record_id: `${applied.runId}-${applied.seq}`, user_id: applied.customerId },
        });
      }
    }
    if ((applied.moved.includes('bounced') || applied.moved.includes('unsubscribed')) && applied.address) {
      const reason = applied.moved.includes('bounced') ? 'bounced' : 'unsubscribed';
      await suppress(trx, { tenantId: applied.tenantId, channel: applied.channel, address: applied.address, reason, now });
    }
    if (applied.moved.includes('unsubscribed') && applied.address) {
      const attribute = ADDRESS_ATTRIBUTE[applied.channel];
      const channel = CONSENT_CHANNEL[applied.channel];
      if (attribute && channel) await optOutByAddress(trx, { tenantId: applied.tenantId, attribute, address: applied.address, channel, source: 'outreach_unsubscribe', now });
    }
  }

  async function apply(at: RecordLocator, event: RecordEvent): Promise<AppliedEvent | undefined> {
    return inTransaction(db, async (trx) => {
      const now = clock.now();
      const applied = await applyEvent(trx, at, event, now);
      if (applied) await follow(trx, applied, now);
      return applied;
    });
  }

  async function provider(providerId: string) {
    const live = await deps.providers.liveById(providerId);
    if (!live) throw outreachErrors.callbackUnverified();
    return live;
  }

  return {
    /** A provider's status report (signature checked by the provider's kind): records move, unknown ones are ignored. */
    async statusCallback(providerId: string, request: CallbackRequest): Promise<{ applied: number; ignored: number }> {
      const live = await provider(providerId);
      const events = live.kind.parseStatus?.(request, live.config, live.secrets) ?? null;
      if (events === null) throw outreachErrors.callbackUnverified();
      let applied = 0;
      for (const e of events) {
        const tenantId = live.row.tenant_id;
        const parsed = e.recordId ? parseRecordId(e.recordId) : null;
        // Only records of this provider's tenant can move.
        const at: RecordLocator | null = parsed ? { ...parsed, tenantId } : e.providerMessageId ? { providerMessageId: e.providerMessageId, tenantId } : null;
        if (!at) continue;
        if (await apply(at, eventOf(e))) applied += 1;
      }
      return { applied, ignored: events.length - applied };
    },

    /** Inbound messages (SMS replies): "TD" and the like unsubscribe the sender's number. */
    async inbound(providerId: string, request: CallbackRequest): Promise<{ received: number; unsubscribed: number }> {
      const live = await provider(providerId);
      const messages = live.kind.parseInbound?.(request, live.config, live.secrets) ?? null;
      if (messages === null) throw outreachErrors.callbackUnverified();
      let unsubscribed = 0;
      for (const m of messages) {
        if (!UNSUBSCRIBE_REPLY.test(m.text)) continue;
        const forms = phoneForms(m.from);
        await inTransaction(db, async (trx) => {
          const now = clock.now();
          const customers: string[] = [];
          for (const address of forms) {
            await suppress(trx, { tenantId: live.row.tenant_id, channel: 'sms', address, reason: 'reply_td', now });
            customers.push(...(await optOutByAddress(trx, { tenantId: live.row.tenant_id, attribute: 'phone', address, channel: 'sms', source: 'sms_reply', now })));
          }
          // The customers' SMS records say why they stopped (found by customer, which is indexed).
          await sql`
            update outreach_record set response = ${JSON.stringify({ action: 'unsubscribe', via: 'sms_reply' })}::jsonb, updated_at = ${now}
            where tenant_id = ${live.row.tenant_id} and customer_id = any(${customers}::text[]) and channel = 'sms'
              and address = any(${forms}::text[]) and response is null`.execute(trx);
        });
        metrics.events.inc({ kind: 'unsubscribed' });
        unsubscribed += 1;
      }
      return { received: messages.length, unsubscribed };
    },

    /** A click: counted once, then the redirect target (the run's link list at the token's index). */
    async click(token: string): Promise<string> {
      const t = deps.tracker.verify(token);
      const at = t && t.action === 'c' ? parseRecordId(t.recordId) : null;
      if (!t || !at) throw outreachErrors.trackingInvalid();
      const run = await db.selectFrom('outreach_run').select(['snapshot']).where('run_id', '=', at.runId).executeTakeFirst();
      const target = (run?.snapshot as RunSnapshot | undefined)?.links[t.link];
      if (!target) throw outreachErrors.trackingInvalid();
      await apply(at, { kind: 'clicked', linkId: t.link === 0 && (run!.snapshot as RunSnapshot).link_url ? 'link' : `link_${t.link}` });
      // A link found in HTML is stored as written there: its &amp; is a plain & of the URL.
      return target.replace(/&amp;/gi, '&');
    },

    /** An open (the e-mail pixel). Invalid tokens are ignored: the pixel answers the same. */
    async open(token: string, machine: boolean): Promise<void> {
      const t = deps.tracker.verify(token);
      const at = t && t.action === 'o' ? parseRecordId(t.recordId) : null;
      if (at) await apply(at, { kind: 'opened', machine });
    },

    /** One-click unsubscribe (RFC 8058 POST, or the confirm page's button). */
    async unsubscribe(token: string): Promise<void> {
      const t = deps.tracker.verify(token);
      const at = t && t.action === 'u' ? parseRecordId(t.recordId) : null;
      if (!at) throw outreachErrors.trackingInvalid();
      await apply(at, { kind: 'unsubscribed' });
    },

    /** For the API: apply an event to a record of the tenant (tests of goal tracking use it too). */
    async applyToRecord(tenantId: string, recordId: string, event: RecordEvent): Promise<AppliedEvent> {
      const at = parseRecordId(recordId);
      const applied = at ? await apply({ ...at, tenantId }, event) : undefined;
      if (!applied) throw outreachErrors.recordNotFound(recordId);
      return applied;
    },
  };
}
