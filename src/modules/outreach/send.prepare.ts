import type { CustomerRow } from '../customers/index.js';
import type { OutboundMessage, RenderedContent } from './channels/channel.js';
import { type RenderVariables, renderTemplate, type TemplateChannel } from './template.render.js';
import { rewriteLinks, type Tracker } from './tracking.js';

/** What a run sends, fixed at its trigger: later edits of the campaign, template or settings never change a run. */
export interface RunSnapshot {
  channel: TemplateChannel;
  campaign_name: string;
  provider_id: string | null;
  provider_kind: string | null;
  rate_per_second: number;
  /** Content by variant key ('' without A/B). */
  contents: Record<string, Record<string, unknown>>;
  defaults: Record<string, string | number | boolean>;
  /** Tracked links: [0] is link_url ([链接]) when set, then literal URLs of the content. */
  links: string[];
  link_url: string | null;
  frequency_cap: { count: number; period: 'hour' | 'day' | 'week' } | null;
  quiet_hours: { start: string; end: string } | null;
  default_time_zone: string;
  transactional: boolean;
  end_time: string | null;
  reward_id: string | null;
  goal_event_type: string | null;
  conversion_window_hours: number;
  ab: { metric: string; decide_at: string; keys: string[] } | null;
}

export type SkipReason = 'opted_out' | 'no_address' | 'invalid_address' | 'suppressed' | 'campaign_ended' | 'frequency_capped' | 'no_profile';

export type Prepared =
  | { kind: 'skip'; reason: SkipReason; address: string | null }
  | { kind: 'defer'; reason: 'quiet_hours_deferred'; until: Date; address: string }
  | { kind: 'send'; address: string; message: OutboundMessage };

const CONSENT_KEY: Record<TemplateChannel, string | null> = { sms: 'sms', email: 'email', push_notification: 'push', webhook: null };
const PHONE = /^\+?[1-9][0-9]{5,14}$/;
const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;

const text = (v: unknown) => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '');

/** The customer's address on the channel: '' when they have none, null when it is malformed. */
export function addressOf(channel: TemplateChannel, providerKind: string | null, customerId: string, attributes: Record<string, unknown>): string | null {
  switch (channel) {
    case 'sms': {
      const phone = text(attributes.phone ?? attributes.mobile).replace(/[\s-]/g, '');
      return phone === '' ? '' : PHONE.test(phone) ? phone : null;
    }
    case 'email': {
      const email = text(attributes.email);
      return email === '' ? '' : EMAIL.test(email) && email.length <= 254 ? email : null;
    }
    case 'push_notification': {
      if (providerKind === 'web_push') {
        const sub = attributes.web_push_subscription;
        if (sub === undefined || sub === null || sub === '') return '';
        const json = typeof sub === 'string' ? sub : JSON.stringify(sub);
        return json.includes('endpoint') ? json : null;
      }
      return text(attributes.fcm_token ?? attributes.push_token);
    }
    case 'webhook':
      return customerId;
  }
}

/** Minutes since local midnight in a time zone. */
function localMinutes(now: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? 0);
  const minute = Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
  return hour * 60 + minute;
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** When quiet hours hold now in the time zone: the instant they end; else null. */
export function quietUntil(now: Date, quiet: { start: string; end: string }, timeZone: string): Date | null {
  const start = toMinutes(quiet.start);
  const end = toMinutes(quiet.end);
  if (start === end) return null;
  const local = localMinutes(now, timeZone);
  const inside = start < end ? local >= start && local < end : local >= start || local < end;
  if (!inside) return null;
  const minutesLeft = (end - local + 1440) % 1440;
  const at = new Date(now.getTime() + minutesLeft * 60_000);
  at.setUTCSeconds(0, 0);
  return at;
}

function validZone(tz: unknown): tz is string {
  if (typeof tz !== 'string' || tz === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function renderedContent(channel: TemplateChannel, body: Record<string, unknown>, links: readonly string[], tracked: (i: number) => string, openPixel: string | null): RenderedContent {
  const rw = (v: unknown) => rewriteLinks(typeof v === 'string' ? v : '', links, tracked);
  switch (channel) {
    case 'sms':
      return { channel, text: rw(body.text) };
    case 'email': {
      const html = typeof body.html === 'string' && body.html !== '' ? rw(body.html) + (openPixel ? `<img src="${openPixel}" width="1" height="1" alt="" style="display:none">` : '') : undefined;
      return { channel, subject: String(body.subject ?? ''), html, text: typeof body.text === 'string' && body.text !== '' ? rw(body.text) : undefined };
    }
    case 'push_notification':
      return { channel, title: String(body.title ?? ''), body: rw(body.body), data: (body.data ?? undefined) as Record<string, string> | undefined };
    case 'webhook':
      return { channel, json: body.json };
  }
}

export interface PrepareContext {
  snapshot: RunSnapshot;
  tenantId: string;
  campaignId: string;
  now: Date;
  tracker: Tracker;
  suppressed: ReadonlySet<string>;
}

/** Decides one record at send time: skip (why), defer (quiet hours), or the rendered message. */
export function prepare(ctx: PrepareContext, record: { recordId: string; customerId: string; variant: string | null }, customer: CustomerRow | undefined): Prepared {
  const { snapshot, now } = ctx;
  if (snapshot.end_time && now >= new Date(snapshot.end_time)) return { kind: 'skip', reason: 'campaign_ended', address: null };
  const attributes = (customer?.attributes ?? {}) as Record<string, unknown>;
  if (!customer && snapshot.channel !== 'webhook') return { kind: 'skip', reason: 'no_profile', address: null };
  const consentKey = CONSENT_KEY[snapshot.channel];
  const consent = (customer?.consent ?? {}) as Record<string, { status?: string } | undefined>;
  if (consentKey && consent[consentKey]?.status === 'opt_out') return { kind: 'skip', reason: 'opted_out', address: null };
  const address = addressOf(snapshot.channel, snapshot.provider_kind, record.customerId, attributes);
  if (address === '') return { kind: 'skip', reason: 'no_address', address: null };
  if (address === null) return { kind: 'skip', reason: 'invalid_address', address: text(attributes.phone ?? attributes.email) || null };
  if (ctx.suppressed.has(address)) return { kind: 'skip', reason: 'suppressed', address };
  if (snapshot.quiet_hours && !snapshot.transactional) {
    const zone = validZone(attributes.time_zone) ? attributes.time_zone : snapshot.default_time_zone;
    const until = quietUntil(now, snapshot.quiet_hours, zone);
    if (until) return { kind: 'defer', reason: 'quiet_hours_deferred', until, address };
  }
  const tracked = (link: number) => ctx.tracker.url({ action: 'c', recordId: record.recordId, link });
  const unsubscribeUrl = ctx.tracker.url({ action: 'u', recordId: record.recordId, link: 0 });
  const variables: RenderVariables = {
    customer: {
      user_id: record.customerId,
      name: text(attributes.name) || undefined,
      phone: text(attributes.phone) || undefined,
      email: text(attributes.email) || undefined,
      attributes,
      tags: customer?.tags ?? [],
    },
    link: snapshot.link_url ? tracked(0) : undefined,
    campaign: { name: snapshot.campaign_name },
    unsubscribe_url: unsubscribeUrl,
  };
  const body = snapshot.contents[record.variant ?? ''] ?? snapshot.contents[''] ?? Object.values(snapshot.contents)[0]!;
  const rendered = renderTemplate(snapshot.channel, body, snapshot.defaults, variables);
  const openPixel = snapshot.channel === 'email' ? ctx.tracker.url({ action: 'o', recordId: record.recordId, link: 0 }) : null;
  const content = renderedContent(snapshot.channel, rendered, snapshot.links, tracked, openPixel);
  return {
    kind: 'send',
    address,
    message: { recordId: record.recordId, tenantId: ctx.tenantId, customerId: record.customerId, campaignId: ctx.campaignId, address, content, unsubscribeUrl },
  };
}
