import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelProvider, OutboundMessage, ProviderDeps } from './channel.js';
import { classifySmtpError, isEmailAddress, smtpKind } from './smtp.js';
import { startSmtpPeer, type SmtpPeer, type SmtpPeerOptions } from './testing/smtp-peer.js';

const deps: ProviderDeps = { allowPrivateNetworks: true, timeoutMs: 5_000 };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function peer(options?: SmtpPeerOptions): Promise<SmtpPeer> {
  const p = await startSmtpPeer(options);
  cleanups.push(() => p.close());
  return p;
}

function provider(config: Record<string, unknown>, secrets: Record<string, unknown> = {}, d: ProviderDeps = deps): ChannelProvider {
  const p = smtpKind.create({ from: 'Shop <news@shop.example>', ...config }, secrets, d);
  cleanups.push(async () => p.close?.());
  return p;
}

let seq = 0;
function message(overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  seq += 1;
  return {
    recordId: `rec_${Date.now().toString(36)}_${seq}`,
    tenantId: 'ten_1',
    customerId: 'cus_1',
    campaignId: 'cmp_1',
    address: 'alice@example.com',
    content: { channel: 'email', subject: 'Spring sale', html: '<p>Hello <b>Alice</b></p>', text: 'Hello Alice' },
    ...overrides,
  };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('smtpKind.check', () => {
  const ok = { host: 'smtp.shop.example', port: 587, from: 'Shop <news@shop.example>' };
  it('accepts a valid configuration', () => {
    expect(smtpKind.check(ok, {})).toBeNull();
    expect(smtpKind.check({ ...ok, host: '10.0.0.5', from: 'news@shop.example', secure: true, pool_max_connections: 2 }, { user: 'u', pass: 'p' })).toBeNull();
  });
  it.each([
    [{ ...ok, host: '' }, /host/],
    [{ ...ok, host: 'smtp://x' }, /host/],
    [{ ...ok, port: 0 }, /port/],
    [{ ...ok, port: '25' }, /port/],
    [{ ...ok, from: 'Shop' }, /from/],
    [{ ...ok, from: 'Shop <news@shop.example>\r\nBcc: x@y.z' }, /from/],
    [{ ...ok, reply_to: 'nope' }, /reply_to/],
    [{ ...ok, secure: 'yes' }, /secure/],
    [{ ...ok, pool_max_connections: 0 }, /pool_max_connections/],
  ])('refuses %j', (config, error) => {
    expect(smtpKind.check(config, {})).toMatch(error);
  });
  it('wants user and pass together', () => {
    expect(smtpKind.check(ok, { user: 'u' })).toMatch(/together/);
  });
});

describe('isEmailAddress', () => {
  it('tells addresses from non-addresses', () => {
    for (const good of ['a@b.co', 'first.last+tag@sub.example.org', 'josé@exämple.de']) expect(isEmailAddress(good), good).toBe(true);
    for (const bad of ['', 'plain', 'a@b', '@b.co', 'a@.co', 'a b@c.co', 'a..b@c.co', '<a@b.co>', 'a@b.co\r\nBcc: x@y.z', 'a@1.2']) {
      expect(isEmailAddress(bad), bad).toBe(false);
    }
  });
});

describe('smtp provider against a real SMTP server', () => {
  it('delivers subject, bodies and the outreach headers', async () => {
    const p = await peer();
    const smtp = provider({ host: p.host, port: p.port, reply_to: 'help@shop.example' });
    const msg = message({ unsubscribeUrl: 'https://shop.example/u/tok123' });
    const outcome = await smtp.send(msg);
    expect(outcome).toEqual({ kind: 'accepted', providerMessageId: `<${msg.recordId}@shop.example>`, delivered: true });
    const [mail] = await p.waitFor(1);
    expect(mail!.envelope).toEqual({ from: 'news@shop.example', to: ['alice@example.com'] });
    const parsed = mail!.parsed;
    expect(parsed.subject).toBe('Spring sale');
    expect(parsed.html).toContain('<b>Alice</b>');
    expect(parsed.text?.trim()).toBe('Hello Alice');
    expect(parsed.from?.value).toEqual([{ address: 'news@shop.example', name: 'Shop' }]);
    expect(parsed.replyTo?.value[0]?.address).toBe('help@shop.example');
    expect(parsed.messageId).toBe(`<${msg.recordId}@shop.example>`);
    expect(parsed.headers.get('x-outreach-record')).toBe(msg.recordId);
    expect(mail!.raw.toString()).toMatch(/^List-Unsubscribe: <https:\/\/shop\.example\/u\/tok123>\r?$/m);
    // mailparser folds the List-* headers into one structure; the raw header is what clients read.
    expect(mail!.raw.toString()).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
  });

  it('sends a text-only message without List-Unsubscribe when no URL is given', async () => {
    const p = await peer();
    const smtp = provider({ host: p.host, port: p.port });
    const outcome = await smtp.send(message({ content: { channel: 'email', subject: 'Hi', text: 'Just text' } }));
    expect(outcome.kind).toBe('accepted');
    const [mail] = await p.waitFor(1);
    expect(mail!.parsed.html).toBe(false);
    expect(mail!.parsed.text?.trim()).toBe('Just text');
    expect(mail!.parsed.headers.has('list-unsubscribe')).toBe(false);
  });

  it('keeps the Message-ID of a record on a second attempt', async () => {
    const p = await peer();
    const smtp = provider({ host: p.host, port: p.port });
    const msg = message();
    await smtp.send(msg);
    await smtp.send(msg);
    const mails = await p.waitFor(2);
    expect(mails.map((m) => m.parsed.messageId)).toEqual([`<${msg.recordId}@shop.example>`, `<${msg.recordId}@shop.example>`]);
  });

  it('sends 50 messages in parallel over at most pool_max_connections connections', async () => {
    const p = await peer();
    const smtp = provider({ host: p.host, port: p.port, pool_max_connections: 3 });
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => smtp.send(message({ address: `user${i}@example.com` }))));
    expect(outcomes.every((o) => o.kind === 'accepted')).toBe(true);
    await p.waitFor(50);
    expect(new Set(p.messages.map((m) => m.envelope.to[0])).size).toBe(50);
    expect(p.connections).toBeGreaterThanOrEqual(1);
    expect(p.connections).toBeLessThanOrEqual(3);
  });

  it('logs in with user and pass', async () => {
    const p = await peer({ auth: { user: 'relay-user', pass: 'relay-pass' } });
    const smtp = provider({ host: p.host, port: p.port }, { user: 'relay-user', pass: 'relay-pass' });
    expect((await smtp.send(message())).kind).toBe('accepted');
    const [mail] = await p.waitFor(1);
    expect(mail!.user).toBe('relay-user');

    const wrong = provider({ host: p.host, port: p.port }, { user: 'relay-user', pass: 'wrong' });
    const outcome = await wrong.send(message());
    expect(outcome.kind).toBe('failed');
    expect(p.messages).toHaveLength(1);
  });

  it('talks implicit TLS and STARTTLS', async () => {
    const implicit = await peer({ tls: 'implicit' });
    const a = provider({ host: implicit.host, port: implicit.port, secure: true, tls_reject_unauthorized: false });
    expect((await a.send(message())).kind).toBe('accepted');

    const starttls = await peer({ tls: 'starttls' });
    const b = provider({ host: starttls.host, port: starttls.port, require_tls: true, tls_reject_unauthorized: false });
    expect((await b.send(message())).kind).toBe('accepted');

    // The built-in certificate is self-signed: verified, it is refused.
    const verified = provider({ host: implicit.host, port: implicit.port, secure: true });
    expect(await verified.send(message())).toMatchObject({ kind: 'failed', error: expect.stringMatching(/TLS/) });
    // require_tls against a relay that offers no STARTTLS.
    const plain = await peer();
    const c = provider({ host: plain.host, port: plain.port, require_tls: true });
    expect((await c.send(message())).kind).toBe('failed');
    expect(plain.messages).toHaveLength(0);
  });

  it.each([
    [{ code: 421, at: 'rcpt' as const }, 'throttled'],
    [{ code: 454, at: 'rcpt' as const }, 'throttled'],
    [{ code: 421, at: 'data' as const }, 'throttled'],
    [{ code: 454, at: 'data' as const }, 'throttled'],
    [{ code: 451, at: 'data' as const, text: '4.7.1 Rate limit exceeded, slow down' }, 'throttled'],
    [{ code: 451, at: 'data' as const, text: '4.3.0 Local error in processing' }, 'retry'],
    [{ code: 450, at: 'rcpt' as const, text: '4.2.1 Mailbox busy' }, 'retry'],
    [{ code: 550, at: 'rcpt' as const, text: '5.1.1 No such user' }, 'invalid_address'],
    [{ code: 553, at: 'rcpt' as const, text: 'Mailbox name not allowed' }, 'invalid_address'],
    [{ code: 550, at: 'rcpt' as const, text: '5.7.1 Relaying denied' }, 'failed'],
    [{ code: 554, at: 'data' as const, text: '5.6.0 Content rejected' }, 'failed'],
  ])('classifies %j as %s', async (rule, kind) => {
    const p = await peer();
    p.answer({ ...rule, times: 1 });
    const smtp = provider({ host: p.host, port: p.port });
    const outcome = await smtp.send(message());
    expect(outcome.kind).toBe(kind);
    if (outcome.kind !== 'accepted') expect(outcome.error).toContain(String(rule.code));
    if (outcome.kind === 'throttled') expect(outcome.retryAfterMs).toBe(30_000);
    expect(p.messages).toHaveLength(0);
  });

  it('refuses only the named recipient and keeps the pool working', async () => {
    const p = await peer();
    p.answer({ code: 550, text: '5.1.1 No such user', recipients: ['gone@example.com'] });
    const smtp = provider({ host: p.host, port: p.port, pool_max_connections: 1 });
    expect((await smtp.send(message({ address: 'gone@example.com' }))).kind).toBe('invalid_address');
    expect((await smtp.send(message({ address: 'here@example.com' }))).kind).toBe('accepted');
    expect(p.messages.map((m) => m.envelope.to[0])).toEqual(['here@example.com']);
  });

  it('answers retry when the relay is down', async () => {
    const smtp = provider({ host: '127.0.0.1', port: await closedPort() });
    const outcome = await smtp.send(message());
    expect(outcome).toMatchObject({ kind: 'retry', error: expect.stringContaining('ECONNREFUSED') });
  });

  it('answers invalid_address for a malformed address without connecting', async () => {
    const p = await peer();
    const smtp = provider({ host: p.host, port: p.port });
    for (const address of ['not-an-address', 'a@b', 'alice@example.com>, <bob@example.com']) {
      expect((await smtp.send(message({ address }))).kind).toBe('invalid_address');
    }
    expect(p.connections).toBe(0);
  });

  it('refuses a private relay when private networks are not allowed, without connecting', async () => {
    const p = await peer();
    for (const host of ['127.0.0.1', 'localhost']) {
      const smtp = provider({ host, port: p.port }, {}, { allowPrivateNetworks: false, timeoutMs: 5_000 });
      const outcome = await smtp.send(message());
      expect(outcome).toMatchObject({ kind: 'failed', error: expect.stringMatching(/private address/) });
    }
    expect(p.connections).toBe(0);
  });

  it('fails content of another channel and a misconfigured provider', async () => {
    const smtp = provider({ host: '127.0.0.1', port: 25 });
    expect((await smtp.send(message({ content: { channel: 'sms', text: 'hi' } }))).kind).toBe('failed');
    const broken = smtpKind.create({ host: '', port: 25, from: 'x' }, {}, deps);
    expect(await broken.send(message())).toMatchObject({ kind: 'failed', error: expect.stringContaining('misconfigured') });
  });
});

describe('classifySmtpError', () => {
  it('reads a retry hint from the reply', () => {
    expect(classifySmtpError({ responseCode: 421, response: '421 4.7.0 Too many messages, try again in 2 minutes' })).toMatchObject({
      kind: 'throttled',
      retryAfterMs: 120_000,
    });
  });
  it('fails a connection the network guard refused', () => {
    const refused = Object.assign(new Error('resolves to the private address 10.0.0.1'), { code: 'EPRIVATEADDRESS' });
    expect(classifySmtpError(refused)).toMatchObject({ kind: 'failed', error: expect.stringContaining('10.0.0.1') });
  });
  it('treats network errors as retry', () => {
    for (const code of ['ETIMEDOUT', 'ECONNRESET', 'ECONNECTION', 'ESOCKET']) {
      expect(classifySmtpError(Object.assign(new Error('boom'), { code })).kind).toBe('retry');
    }
  });
});
