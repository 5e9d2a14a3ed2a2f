import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { ReceivedMail, SmtpPeer } from './channels/testing/smtp-peer.js';
import {
  drain,
  emailSetup,
  getRun,
  makeDue,
  PUBLIC_BASE,
  recordIdOf,
  recordOf,
  recordsOf,
  runCampaign,
  sleep,
  statusCounts,
} from './testing/e2e-helpers.js';

/**
 * E-mail end to end through the pipeline: campaign -> trigger -> dispatcher -> SMTP provider ->
 * a real SMTP server (smtp-server) -> records and counters.
 */

const peers: SmtpPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

/** A header line as sent, unfolded (long lines are folded onto a second line). */
const headerLine = (mail: ReceivedMail, name: string) => mail.parsed.headerLines.find((h) => h.key === name)?.line.replace(/\r?\n[ \t]+/g, ' ');
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('outreach e2e: e-mail over SMTP', () => {
  it('delivers the rendered mail with a tracked link, the open pixel and one-click unsubscribe headers', async () => {
    const app = await testApp();
    const { t, peer, campaignId } = await emailSetup(app, 3, peers);
    const runId = await runCampaign(app, t, campaignId);

    expect(peer.messages).toHaveLength(3);
    expect(peer.messages.map((m) => m.envelope.to[0]).sort()).toEqual(['c0@example.test', 'c1@example.test', 'c2@example.test']);
    const records = await recordsOf(app, runId);
    expect(records.map((r) => [r.customer_id, r.status, r.address])).toEqual([
      ['u00000', 'delivered', 'c0@example.test'],
      ['u00001', 'delivered', 'c1@example.test'],
      ['u00002', 'delivered', 'c2@example.test'],
    ]);

    const first = records[0]!;
    const rid = recordIdOf(runId, first.seq);
    const mail = peer.messages.find((m) => m.envelope.to[0] === 'c0@example.test')!;
    expect(mail.envelope.from).toBe('news@shop.example.test');
    expect(mail.parsed.subject).toBe('Hello 客户0');
    expect(mail.parsed.messageId).toBe(`<${rid}@shop.example.test>`);
    const html = String(mail.parsed.html);
    const text = String(mail.parsed.text);
    const click = new RegExp(`${escapeRe(PUBLIC_BASE)}/t/c\\.${escapeRe(rid)}\\.0\\.[A-Za-z0-9_-]{16}`);
    expect(html).toContain('Dear 客户0,');
    expect(html).toMatch(new RegExp(`<a href="${click.source}">Our sale</a>`));
    // The original link is only reachable through the tracker.
    expect(html).not.toContain('https://shop.example.test/sale');
    expect(text).toMatch(new RegExp(`^Dear 客户0, our sale: ${click.source}\\s*$`));
    expect(html).toMatch(new RegExp(`<img src="${escapeRe(PUBLIC_BASE)}/t/o\\.${escapeRe(rid)}\\.0\\.[A-Za-z0-9_-]{16}" width="1" height="1"`));
    expect(headerLine(mail, 'list-unsubscribe')).toMatch(new RegExp(`^List-Unsubscribe: <${escapeRe(PUBLIC_BASE)}/t/u\\.${escapeRe(rid)}\\.0\\.[A-Za-z0-9_-]{16}>$`));
    expect(headerLine(mail, 'list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    // Each customer's mail carries their own name and their own record's links.
    const second = peer.messages.find((m) => m.envelope.to[0] === 'c1@example.test')!;
    expect(second.parsed.subject).toBe('Hello 客户1');
    expect(String(second.parsed.html)).toContain(`/t/c.${recordIdOf(runId, records[1]!.seq)}.0.`);

    const run = await getRun(t, runId);
    expect(run.status).toBe('completed');
    expect(run.stats).toMatchObject({ planned: 3, attempted: 3, sent: 3, delivered: 3, failed: 0, skipped: 0, deferred: 0, remaining: 0 });
    expect(run.stats.rates).toMatchObject({ send_success_rate: 1, delivery_rate: 1, open_rate: 0 });
  });

  it('an SMTP 421 defers the record (throttled); once due it is delivered, and no mail is lost or sent twice', async () => {
    const app = await testApp();
    const { t, peer, campaignId } = await emailSetup(app, 4, peers);
    // The relay throttles the transaction for one recipient, once.
    peer.answer({ code: 421, text: '4.7.0 Too many messages, try again in 1 seconds', at: 'rcpt', recipients: ['c2@example.test'], times: 1 });
    const runId = await runCampaign(app, t, campaignId);

    expect(peer.messages.map((m) => m.envelope.to[0]).sort()).toEqual(['c0@example.test', 'c1@example.test', 'c3@example.test']);
    const deferred = (await recordsOf(app, runId)).find((r) => r.customer_id === 'u00002')!;
    // A throttled claim is no failed attempt: it does not count toward max_attempts.
    expect(deferred).toMatchObject({ status: 'deferred', reason: 'throttled', address: 'c2@example.test', attempts: 0 });
    expect(deferred.error_message).toMatch(/421/);
    expect(deferred.next_attempt_at.getTime()).toBeGreaterThan(Date.now() - 1000);
    const during = await getRun(t, runId);
    expect(during.status).toBe('sending');
    expect(during.stats).toMatchObject({ planned: 4, attempted: 3, sent: 3, delivered: 3, deferred: 1, failed: 0, remaining: 1 });

    // The provider cools down for the relay's hint (1 s); then the record is due again.
    await sleep(1100);
    expect(await makeDue(app, runId)).toBe(1);
    await drain(app, t);

    expect(peer.messages).toHaveLength(4);
    expect(peer.messages.map((m) => m.envelope.to[0]).sort()).toEqual(['c0@example.test', 'c1@example.test', 'c2@example.test', 'c3@example.test']);
    expect(await statusCounts(app, runId)).toEqual({ delivered: 4 });
    const after = (await recordsOf(app, runId)).find((r) => r.customer_id === 'u00002')!;
    expect(after).toMatchObject({ status: 'delivered', attempts: 1 });
    const run = await getRun(t, runId);
    expect(run.status).toBe('completed');
    expect(run.stats).toMatchObject({ planned: 4, attempted: 4, sent: 4, delivered: 4, deferred: 0, failed: 0, remaining: 0 });
  });

  it('a name with markup is HTML-escaped in the HTML part only; a customer opted out of e-mail is skipped', async () => {
    const app = await testApp();
    const { t, peer, campaignId } = await emailSetup(app, 1, peers);
    must(await t.call('PUT', '/v1/customers/tom', { tags: ['news'], attributes: { name: 'Tom & <Jerry>', email: 'tom@example.test' } }), 201);
    must(await t.call('PUT', '/v1/customers/quiet', { tags: ['news'], attributes: { name: 'Quiet', email: 'quiet@example.test' }, consent: { email: 'opt_out' } }), 201);
    const runId = await runCampaign(app, t, campaignId);

    expect(peer.messages.map((m) => m.envelope.to[0]).sort()).toEqual(['c0@example.test', 'tom@example.test']);
    const mail = peer.messages.find((m) => m.envelope.to[0] === 'tom@example.test')!;
    expect(mail.parsed.subject).toBe('Hello Tom & <Jerry>');
    expect(String(mail.parsed.html)).toContain('<p>Dear Tom &amp; &lt;Jerry&gt;,</p>');
    expect(String(mail.parsed.text)).toMatch(/^Dear Tom & <Jerry>, our sale: http:\/\/localhost:8105\/t\/c\./);
    expect(await recordOf(app, runId, 'quiet')).toMatchObject({ status: 'skipped', reason: 'opted_out' });
    expect((await getRun(t, runId)).stats).toMatchObject({ planned: 3, delivered: 2, skipped: 1, skipped_by_reason: { opted_out: 1 } });
  });

  it('a mailbox the relay refuses (550 5.1.1) fails invalid_address; the other mails are delivered', async () => {
    const app = await testApp();
    const { t, peer, campaignId } = await emailSetup(app, 3, peers);
    peer.answer({ code: 550, text: '5.1.1 No such user', at: 'rcpt', recipients: ['c1@example.test'] });
    const runId = await runCampaign(app, t, campaignId);
    expect(peer.messages.map((m) => m.envelope.to[0]).sort()).toEqual(['c0@example.test', 'c2@example.test']);
    const refused = await recordOf(app, runId, 'u00001');
    expect(refused).toMatchObject({ status: 'failed', reason: 'invalid_address', address: 'c1@example.test' });
    expect(refused.error_message).toMatch(/550 5\.1\.1 No such user/);
    expect((await getRun(t, runId)).stats).toMatchObject({ planned: 3, attempted: 3, sent: 2, delivered: 2, failed: 1, remaining: 0 });
  });
});

