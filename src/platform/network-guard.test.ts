import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../app/build-app.js';
import { loadConfig } from '../config/load.js';
import { DELIVERY_QUEUE } from '../modules/grants/index.js';
import { testDatabase } from '../../test/helpers/database.js';
import { must, TEST_MASTER_KEY } from '../../test/helpers/test-app.js';
import { systemClock } from './clock.js';
import { createJobRunner } from './jobs.js';
import { fetch as undiciFetch } from 'undici';
import { isPrivateAddress, PrivateAddressError, privateAddressOf, publicOnlyAgent, publicOnlyLookup } from './network-guard.js';
import { hashSecret } from './secrets.js';
import { sendWebhook, WebhookBlockedError } from './webhook.js';

describe('network guard for tenant-configured URLs', () => {
  it('classifies loopback, private, link-local and mapped addresses as private; public ones not', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:7f00:1', 'ff02::1', '127.1', 'not-an-address']) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '172.32.0.1', '1.1.1.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) {
      expect(isPrivateAddress(a), a).toBe(false);
    }
  });

  it('the connection itself refuses private addresses (no check-then-connect gap for DNS rebinding)', async () => {
    // A receiver on loopback, reached through the guarded agent without any check before: the
    // lookup the socket uses refuses the address it would connect to.
    const server = createServer((_req, res) => res.end('reached'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const refused = await undiciFetch(`http://localhost:${port}/hook`, { dispatcher: publicOnlyAgent }).catch((err: unknown) => err);
      expect((refused as { cause?: unknown }).cause).toBeInstanceOf(PrivateAddressError);
      // The same lookup in both forms Node asks for.
      const one = await new Promise<unknown>((resolve) => publicOnlyLookup('localhost', {}, (err) => resolve(err)));
      const all = await new Promise<unknown>((resolve) => publicOnlyLookup('localhost', { all: true }, (err) => resolve(err)));
      expect(one).toBeInstanceOf(PrivateAddressError);
      expect(all).toBeInstanceOf(PrivateAddressError);
      // Without the guard the receiver is there (the refusal above is the guard's, not a dead port).
      expect(await (await undiciFetch(`http://localhost:${port}/hook`)).text()).toBe('reached');
    } finally {
      server.close();
    }
  });

  it('resolves host names before deciding', async () => {
    expect(await privateAddressOf('http://localhost:9/hook')).toMatch(/^(127\.0\.0\.1|::1)$/);
    expect(await privateAddressOf('http://[::1]:9/hook')).toBe('::1');
    expect(await privateAddressOf('http://8.8.8.8/hook')).toBeNull();
  });

  it('sendWebhook refuses a private destination without making the request', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const send = (allowPrivateNetworks: boolean) => sendWebhook({ url, secret: 'x'.repeat(16), body: '{}', deliveryId: 'd1', allowPrivateNetworks });
      await expect(send(false)).rejects.toBeInstanceOf(WebhookBlockedError);
      expect(hits).toBe(0);
      await expect(send(true)).resolves.toEqual({ status: 200 });
      expect(hits).toBe(1);
    } finally {
      server.close();
    }
  });

  it('a grant whose webhook points into a private network fails at once, with the reason on the grant', async () => {
    const database = await testDatabase();
    const config = loadConfig({ env: {}, file: null, overrides: { 'log.level': 'silent', 'auth.key_cache_seconds': 0 } });
    expect(config.webhooks.allow_private_networks).toBe(false);
    const app = await buildApp({ config, database, masterKeyHash: hashSecret(TEST_MASTER_KEY), logger: false });
    const runner = createJobRunner({ db: database.db, clock: systemClock, log: { info() {}, warn() {}, error() {} } });
    try {
      const call = async (method: 'POST' | 'GET', url: string, key: string, body?: unknown) => {
        const res = await app.inject({ method, url, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });
        return { status: res.statusCode, body: res.json(), headers: res.headers };
      };
      const tenantId = `t_guard_${Date.now().toString(36)}`;
      must(await call('POST', '/v1/tenants', TEST_MASTER_KEY, { tenant_id: tenantId, name: 'guard' }), 201);
      const key = must(await call('POST', `/v1/tenants/${tenantId}/api-keys`, TEST_MASTER_KEY, { name: 'a', role: 'admin' }), 201).body.key as string;
      must(await call('POST', '/v1/apps', key, { product_code: 'app1', name: 'a' }), 201);
      const reward = must(
        await call('POST', '/v1/rewards', key, {
          reward_name: 'hook',
          reward_type: 'POINTS',
          product_code: 'app1',
          config: { generator: { points: 1 }, distributor: { type: 'WEBHOOK', url: 'http://169.254.169.254/latest/meta-data', secret: 'x'.repeat(16) } },
        }),
        201,
      ).body;
      const grant = must(await call('POST', '/v1/reward-grants', key, { reward_id: reward.reward_id, user_id: 'u1' }), 201).body;
      // The grant's delivery job moves to a queue of its own, run by the app's delivery handler: jobs
      // other test files left in the shared database are not this runner's to run.
      const queue = `${DELIVERY_QUEUE}.guard-${tenantId}`;
      await sql`update job set queue = ${queue} where tenant_id = ${tenantId} and queue = ${DELIVERY_QUEUE}`.execute(database.db);
      runner.register(queue, app.services.delivery, { onDead: app.services.deliveryDead });
      expect(await runner.runDue()).toBe(1);
      const after = must(await call('GET', `/v1/reward-grants/${grant.grant_id}`, key), 200).body;
      expect(after.status).toBe('FAILED');
      expect(after.delivery).toMatchObject({ status: 'FAILED', attempts: 1 });
      expect(after.delivery.last_error).toMatch(/private address 169\.254\.169\.254/);
    } finally {
      await runner.stop();
      await app.close();
    }
  });
});
