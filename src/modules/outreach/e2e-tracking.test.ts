import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { ReceivedMail, SmtpPeer } from './channels/testing/smtp-peer.js';
import { apiRecord, campaignStats, createCampaign, drain, emailSetup, EMAIL_CONTENT, getRun, pathOf, recordIdOf, recordOf, runCampaign, suppressions } from './testing/e2e-helpers.js';

/**
 * Opens, clicks and one-click unsubscribe, driven by the URLs of the mails the SMTP peer received
 * (not built by the test), through the keyless /t/ routes.
 */

const peers: SmtpPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

/** The tracked URLs of one received mail: the click link, the open pixel and List-Unsubscribe. */
function urlsOf(mail: ReceivedMail) {
  const html = String(mail.parsed.html);
  const click = /<a href="([^"]+)">Our sale<\/a>/.exec(html)?.[1];
  const pixel = /<img src="([^"]+)" width="1"/.exec(html)?.[1];
  const unsubscribe = /<([^>]+)>/.exec(mail.parsed.headerLines.find((h) => h.key === 'list-unsubscribe')?.line ?? '')?.[1];
  if (!click || !pixel || !unsubscribe) throw new Error('a tracked URL is missing from the mail');
  return { click: pathOf(click), pixel: pathOf(pixel), unsubscribe: pathOf(unsubscribe) };
}

const mailTo = (peer: SmtpPeer, address: string) => peer.messages.find((m) => m.envelope.to[0] === address)!;

describe('outreach e2e: e-mail tracking and unsubscribe', () => {
  it('counts human opens and machine opens apart, clicks redirect and count once, forged tokens are 404', async () => {
    const app = await testApp();
    const { t, peer, campaignId } = await emailSetup(app, 3, peers);
    const runId = await runCampaign(app, t, campaignId);
    expect(peer.messages).toHaveLength(3);
    const a = urlsOf(mailTo(peer, 'c0@example.test'));
    const b = urlsOf(mailTo(peer, 'c1@example.test'));

    // A person opens mail A (twice): one open.
    for (let i = 0; i < 2; i += 1) {
      const pixel = await app.call('GET', a.pixel, undefined, { key: null, headers: { 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15' } });
      expect(pixel.status).toBe(200);
      expect(pixel.headers['content-type']).toBe('image/gif');
      expect(pixel.headers['cache-control']).toBe('no-store');
    }
    expect((await recordOf(app, runId, 'u00000')).status).toBe('opened');
    let stats = (await getRun(t, runId)).stats;
    expect(stats).toMatchObject({ delivered: 3, opened: 1, machine_opened: 0, clicked: 0 });
    expect(stats.rates.open_rate).toBe(0.3333);

    // A mail scanner fetches mail B's pixel: counted apart, B is not opened.
    must(await app.call('GET', b.pixel, undefined, { key: null, headers: { 'user-agent': 'Mozilla/5.0 (compatible; Barracuda Sentinel scanner)' } }), 200);
    expect((await recordOf(app, runId, 'u00001')).status).toBe('delivered');
    stats = (await getRun(t, runId)).stats;
    expect(stats).toMatchObject({ opened: 1, machine_opened: 1 });
    expect(stats.rates.open_rate).toBe(0.3333);

    // The click redirects to the original URL and is recorded once (twice clicked, one count).
    for (let i = 0; i < 2; i += 1) {
      const click = await app.call('GET', a.click, undefined, { key: null });
      expect(click.status).toBe(302);
      expect(click.headers.location).toBe('https://shop.example.test/sale');
    }
    const clicked = await recordOf(app, runId, 'u00000');
    expect(clicked.status).toBe('clicked');
    expect(clicked.response).toEqual({ action: 'click', link_id: 'link_0' });
    expect(await apiRecord(t, recordIdOf(runId, clicked.seq))).toMatchObject({ status: 'clicked', response: { action: 'click', link_id: 'link_0' } });
    stats = (await getRun(t, runId)).stats;
    expect(stats).toMatchObject({ delivered: 3, opened: 1, clicked: 1 });
    expect(stats.rates).toMatchObject({ open_rate: 0.3333, click_rate: 0.3333, click_to_open_rate: 1 });
    const campaign = await campaignStats(t, campaignId);
    expect(campaign).toMatchObject({ runs: 1, delivered: 3, opened: 1, machine_opened: 1, clicked: 1 });

    // Forged: the signature of another token, or one character changed.
    const [, , , sig] = a.click.slice(3).split('.');
    const forged = [a.click.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), b.click.replace(/\.[^.]+$/, `.${sig}`), a.pixel.replace('/t/o.', '/t/c.')];
    for (const path of forged) {
      const r = await app.call('GET', path, undefined, { key: null });
      expect(r.status).toBe(404);
      expect(JSON.stringify(r.body)).toContain('tracking_link_invalid');
    }
    expect((await getRun(t, runId)).stats.clicked).toBe(1);
    expect((await recordOf(app, runId, 'u00001')).status).toBe('delivered');
  });

  it('GET of the unsubscribe URL only shows the page; the one-click POST suppresses the address and opts the customer out', async () => {
    const app = await testApp();
    const { t, peer, campaignId } = await emailSetup(app, 3, peers);
    const runId = await runCampaign(app, t, campaignId);
    const b = urlsOf(mailTo(peer, 'c1@example.test'));

    // A link scanner follows the URL: nothing changes.
    const page = await app.call('GET', b.unsubscribe, undefined, { key: null });
    expect(page.status).toBe(200);
    expect(String(page.headers['content-type'])).toMatch(/^text\/html/);
    expect(page.body).toContain('<form method="post"');
    expect(await suppressions(app, t.tenantId, 'email')).toEqual([]);
    expect(must(await t.call('GET', '/v1/customers/u00001'), 200).body.consent.email).toBeNull();

    // The mail client's one-click POST (RFC 8058).
    const done = await app.call('POST', b.unsubscribe, undefined, {
      key: null,
      payload: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(done.status).toBe(200);
    expect(await suppressions(app, t.tenantId, 'email')).toEqual([{ address: 'c1@example.test', reason: 'unsubscribed' }]);
    const customer = must(await t.call('GET', '/v1/customers/u00001'), 200).body;
    expect(customer.consent.email.status).toBe('opt_out');
    expect(customer.consent.sms).toBeNull();
    expect(must(await t.call('GET', '/v1/customers/u00000'), 200).body.consent.email).toBeNull();
    expect((await recordOf(app, runId, 'u00001')).response).toEqual({ action: 'unsubscribe' });
    // A repeat changes nothing.
    must(await app.call('POST', b.unsubscribe, undefined, { key: null, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 200);
    expect(await suppressions(app, t.tenantId, 'email')).toHaveLength(1);
    // A forged unsubscribe token is refused.
    expect((await app.call('POST', b.unsubscribe.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), undefined, { key: null })).status).toBe(404);

    // A second profile with the same address (no consent of its own) is held back by the suppression.
    must(await t.call('PUT', '/v1/customers/twin', { tags: ['news'], attributes: { name: 'Twin', email: 'c1@example.test' } }), 201);
    const second = await createCampaign(t, { channel: 'email', target_tags: ['news'], content: EMAIL_CONTENT });
    const before = peer.messages.length;
    const run2 = await runCampaign(app, t, second.campaign_id);
    expect(peer.messages.slice(before).map((m) => m.envelope.to[0]).sort()).toEqual(['c0@example.test', 'c2@example.test']);
    // The unsubscribed customer: consent is checked first (opted_out); the twin: suppressed.
    expect(await recordOf(app, run2, 'u00001')).toMatchObject({ status: 'skipped', reason: 'opted_out' });
    expect(await recordOf(app, run2, 'twin')).toMatchObject({ status: 'skipped', reason: 'suppressed', address: 'c1@example.test' });
    const stats = (await getRun(t, run2)).stats;
    expect(stats).toMatchObject({ planned: 4, attempted: 2, delivered: 2, skipped: 2, skipped_by_reason: { opted_out: 1, suppressed: 1 }, remaining: 0 });
  });
});

describe('outreach e2e: links with a query string in HTML', () => {
  it('an href written with &amp; (as HTML requires) redirects to the URL with a plain &', async () => {
    const app = await testApp();
    const { t, peer } = await emailSetup(app, 1, peers);
    const html = '<p><a href="https://shop.example.test/sale?utm_source=mail&amp;utm_campaign=june">Sale</a></p>';
    const { campaign_id } = await createCampaign(t, { channel: 'email', target_tags: ['news'], content: { subject: 'Sale', html, text: 'Sale: https://shop.example.test/sale?utm_source=mail&utm_campaign=june' } });
    await runCampaign(app, t, campaign_id);
    const mail = peer.messages.at(-1)!;
    const href = /<a href="([^"]+)">Sale<\/a>/.exec(String(mail.parsed.html))![1]!;
    const text = /(http:\/\/localhost:8105\/t\/\S+)/.exec(String(mail.parsed.text))![1]!;
    for (const url of [href, text]) {
      const click = await app.call('GET', pathOf(url), undefined, { key: null });
      expect(click.status).toBe(302);
      expect(click.headers.location).toBe('https://shop.example.test/sale?utm_source=mail&utm_campaign=june');
    }
  });
});

describe('outreach e2e: links of messages that were never sent', () => {
  it("a click on a simulation sample's link redirects but counts nothing on the simulated record", async () => {
    const app = await testApp();
    const { t, peer, campaignId } = await emailSetup(app, 2, peers);
    const sim = must(await t.call('POST', `/v1/outreach/campaigns/${campaignId}/trigger`, { execution_type: 'simulation' }), 202).body as { run_id: string };
    await drain(app, t);
    expect(peer.messages).toHaveLength(0);
    const run = await getRun(t, sim.run_id);
    expect(run.samples).toHaveLength(2);
    const sample = run.samples[0] as { record_id: string; content: { html: string } };
    const href = /<a href="([^"]+)">Our sale<\/a>/.exec(sample.content.html)![1]!;
    const pixel = /<img src="([^"]+)"/.exec(sample.content.html)![1]!;

    const click = await app.call('GET', pathOf(href), undefined, { key: null });
    expect(click.status).toBe(302);
    must(await app.call('GET', pathOf(pixel), undefined, { key: null }), 200);
    expect(await apiRecord(t, sample.record_id)).toMatchObject({ status: 'would_send' });
    expect((await getRun(t, sim.run_id)).stats).toMatchObject({ would_send: 2, delivered: 0, opened: 0, clicked: 0 });
  });
});

