import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { AppError } from './errors.js';
import { endUserIp, ipLimitKey, normalizeIp, resolveClientIp } from './client-ip.js';

/** A Fastify app with the service's trust_proxy setting and a route that reports what it resolves. */
async function appWith(trustProxy: boolean | string) {
  const app = Fastify({ trustProxy });
  app.post<{ Body: { client_ip?: string; server?: boolean } }>('/ip', async (request) => {
    try {
      return {
        resolved: resolveClientIp(request, request.body?.client_ip),
        endUser: endUserIp(request, request.body?.client_ip, { serverCaller: request.body?.server ?? true }),
      };
    } catch (err) {
      return { error: (err as AppError).code };
    }
  });
  await app.ready();
  return app;
}

async function ask(app: Awaited<ReturnType<typeof appWith>>, remoteAddress: string, body: object, forwardedFor?: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/ip',
    remoteAddress,
    payload: body,
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  });
  return res.json();
}

describe('client IP without a trusted proxy', () => {
  it('ignores X-Forwarded-For: anyone can send one', async () => {
    const app = await appWith(false);
    expect(await ask(app, '203.0.113.7', { server: false }, '198.51.100.1')).toEqual({
      resolved: { ip: '203.0.113.7', source: 'socket' },
      endUser: '203.0.113.7',
    });
    await app.close();
  });

  it('takes client_ip from the body over everything, and refuses one that is not an address', async () => {
    const app = await appWith(false);
    expect(await ask(app, '10.0.0.5', { client_ip: '198.51.100.23' }, '192.0.2.1')).toEqual({
      resolved: { ip: '198.51.100.23', source: 'body' },
      endUser: '198.51.100.23',
    });
    expect(await ask(app, '10.0.0.5', { client_ip: '::ffff:198.51.100.23' })).toMatchObject({ endUser: '198.51.100.23' });
    expect(await ask(app, '10.0.0.5', { client_ip: 'not-an-ip' })).toEqual({ error: 'invalid_request' });
    expect(await ask(app, '10.0.0.5', { client_ip: '' })).toEqual({ error: 'invalid_request' });
    await app.close();
  });

  it('has no end-user IP for a server key that did not pass client_ip: its own address is not a user', async () => {
    const app = await appWith(false);
    expect(await ask(app, '10.0.0.5', { server: true })).toEqual({ resolved: { ip: '10.0.0.5', source: 'socket' }, endUser: null });
    await app.close();
  });
});

describe('client IP behind a trusted proxy', () => {
  it('believes X-Forwarded-For only from the configured proxy addresses', async () => {
    const app = await appWith('10.0.0.0/8,127.0.0.1');
    expect(await ask(app, '10.1.2.3', { server: false }, '198.51.100.9')).toEqual({
      resolved: { ip: '198.51.100.9', source: 'forwarded' },
      endUser: '198.51.100.9',
    });
    // A chain: the right-most address not in the trusted list is the client.
    expect(await ask(app, '10.1.2.3', { server: false }, '192.0.2.66, 198.51.100.9, 10.9.9.9')).toMatchObject({
      resolved: { ip: '198.51.100.9', source: 'forwarded' },
    });
    // From an untrusted peer the header is ignored.
    expect(await ask(app, '203.0.113.50', { server: false }, '198.51.100.9')).toMatchObject({
      resolved: { ip: '203.0.113.50', source: 'socket' },
    });
    await app.close();
  });

  it('still gives no end-user IP for a server key behind the proxy (the forwarded address is the backend)', async () => {
    const app = await appWith('10.0.0.0/8');
    expect(await ask(app, '10.1.2.3', { server: true }, '198.51.100.9')).toMatchObject({ endUser: null });
    expect(await ask(app, '10.1.2.3', { server: true, client_ip: '2001:db8::1' }, '198.51.100.9')).toMatchObject({
      endUser: '2001:db8::1',
    });
    await app.close();
  });
});

describe('addresses', () => {
  it('normalises addresses and limits IPv6 per /64', () => {
    expect(normalizeIp(' 192.0.2.1 ')).toBe('192.0.2.1');
    expect(normalizeIp('::FFFF:192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeIp('2001:DB8::1')).toBe('2001:db8::1');
    expect(normalizeIp('192.0.2.256')).toBeNull();
    expect(ipLimitKey('192.0.2.1')).toBe('192.0.2.1');
    expect(ipLimitKey('2001:db8:0:1:aaaa::1')).toBe('2001:db8:0:1::/64');
    expect(ipLimitKey('2001:db8:0:1:ffff:ffff:ffff:ffff')).toBe('2001:db8:0:1::/64');
    expect(ipLimitKey('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(ipLimitKey('::1')).toBe('0:0:0:0::/64');
    expect(ipLimitKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });

  it('unwraps IPv4-mapped IPv6 in any spelling, and refuses the loose IPv4 forms isIP refused', () => {
    expect(normalizeIp('::ffff:c000:201')).toBe('192.0.2.1');
    expect(ipLimitKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeIp('2001:0db8:0000::0001')).toBe('2001:db8::1');
    for (const loose of ['127.1', '0x7f.0.0.1', '0177.0.0.1', '01.2.3.4', '4294967295', '1::2::3', '[::1]']) expect(normalizeIp(loose), loose).toBeNull();
  });
});
