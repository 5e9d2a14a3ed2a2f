import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { must, type Reply, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { DELIVERY_QUEUE } from './grant.service.js';
import { ManualClock } from '../../platform/clock.js';
import { backoffMs, createJobRunner, DEFAULT_MAX_ATTEMPTS, type JobRunner } from '../../platform/jobs.js';
import { DELIVERY_ID_HEADER, SIGNATURE_HEADER, verifyWebhookSignature, WEBHOOK_USER_AGENT } from '../../platform/webhook.js';

const SECRET = 'whsec_test_0123456789abcdef';
const SECOND = 1000;
const iso = (ms: number) => new Date(ms).toISOString();
const pinnedRandom = () => 0.5;

function expectError(reply: Reply, status: number, code: string, details?: Record<string, unknown>) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
  if (details) expect(reply.body.error.details).toMatchObject(details);
}

interface Delivery {
  deliveryId: string | undefined;
  signature: string | undefined;
  userAgent: string | undefined;
  contentType: string | undefined;
  body: string;
  json: { event: string; delivery_id: string; grant: Record<string, any> };
}

interface Receiver {
  url: string;
  /** Every request received, in order. */
  received: Delivery[];
  /** The requests about one grant (a port may be reused by another test's leftovers). */
  about(grantId: string): Delivery[];
  /** Answers `status` from now on. */
  answer(status: number): void;
  /** Answers 503 to the next `n` requests, then 200. */
  failNext(n: number): void;
  close(): Promise<void>;
}

/** A real HTTP receiver on a free local port. */
async function startReceiver(): Promise<Receiver> {
  const received: Delivery[] = [];
  let status = 200;
  let failures = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      received.push({
        deliveryId: header(DELIVERY_ID_HEADER),
        signature: header(SIGNATURE_HEADER),
        userAgent: header('user-agent'),
        contentType: header('content-type'),
        body,
        json: JSON.parse(body) as Delivery['json'],
      });
      let code = status;
      if (failures > 0) {
        failures--;
        code = 503;
      }
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(code >= 300 ? JSON.stringify({ error: 'receiver is down' }) : '{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/rewards?token=abc`,
    received,
    about: (grantId) => received.filter((d) => d.json.grant?.grant_id === grantId),
    answer: (s) => {
      status = s;
    },
    failNext: (n) => {
      failures = n;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const silentLog = { info: () => {}, warn: () => {}, error: () => {} };

interface Ctx {
  app: TestApp;
  clock: ManualClock;
  t: TenantFixture;
  runner: JobRunner;
  receiver: Receiver;
  /** A published campaign's WEBHOOK reward pointing at the receiver. */
  newWebhookReward(overrides?: Record<string, unknown>): Promise<{ reward_id: string }>;
}

/**
 * An app on a ManualClock (starting at the real time, whole seconds: the job runner claims due
 * jobs of every tenant, so the clock stays near the other suites' time), a job runner with the
 * app's handlers and pinned backoff jitter, and a local receiver.
 */
async function withWebhook(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const clock = new ManualClock(new Date(Math.floor(Date.now() / SECOND) * SECOND));
  const app = await testApp({ clock });
  const receiver = await startReceiver();
  const runner = createJobRunner({ db: app.database.db, clock, log: silentLog, random: pinnedRandom });
  // Only the delivery queue: other suites sharing the database leave jobs of other queues (code
  // generation, ...) that this runner must not claim, or runDue() would count them.
  const { delivery, deliveryDead } = app.app.services;
  runner.register(DELIVERY_QUEUE, delivery, { concurrency: 8, onDead: deliveryDead });
  try {
    const t = await app.newTenant();
    const campaign = await newCampaign(t);
    must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
    const newWebhookReward = async (overrides: Record<string, unknown> = {}) =>
      must(
        await t.call('POST', '/v1/rewards', {
          reward_name: 'Partner voucher',
          reward_type: 'POINTS',
          product_code: t.productCode,
          campaign_id: campaign.campaign_id,
          total_stock: 10,
          config: { generator: { points: 50 }, distributor: { type: 'WEBHOOK', url: receiver.url, secret: SECRET, timeout_ms: 5000 } },
          ...overrides,
        }),
        201,
      ).body;
    await fn({ app, clock, t, runner, receiver, newWebhookReward });
  } finally {
    await runner.stop();
    await receiver.close();
    await app.app.close();
  }
}

const getGrant = async (t: TenantFixture, id: string) => must(await t.call('GET', `/v1/reward-grants/${id}`), 200).body;
const stockOf = async (t: TenantFixture, rewardId: string) => must(await t.call('GET', `/v1/rewards/${rewardId}`), 200).body.stock;

function expectSigned(d: Delivery, grantId: string, event: string) {
  expect(d.deliveryId).toBe(`${grantId}:${event}`);
  expect(d.json.delivery_id).toBe(`${grantId}:${event}`);
  expect(d.json.event).toBe(event);
  expect(d.json.grant.grant_id).toBe(grantId);
  expect(d.userAgent).toBe(WEBHOOK_USER_AGENT);
  expect(d.contentType).toBe('application/json');
  expect(d.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  expect(verifyWebhookSignature(SECRET, d.signature, d.body)).toBe(true);
  expect(verifyWebhookSignature('whsec_some_other_secret_000', d.signature, d.body)).toBe(false);
  expect(verifyWebhookSignature(SECRET, d.signature, `${d.body} `)).toBe(false);
}

describe('grants: webhook delivery', () => {
  it('grants PENDING, retries a failing receiver with backoff, and delivers on the 4th attempt', () =>
    withWebhook(async ({ t, clock, runner, receiver, newWebhookReward }) => {
      const reward = await newWebhookReward();
      receiver.failNext(3);
      const created = must(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }), 201).body;
      expect(created).toMatchObject({
        status: 'PENDING',
        distributor: 'WEBHOOK',
        payload: { points: 50 },
        delivery: { status: 'PENDING', attempts: 0, last_error: null, delivered_at: null },
      });
      const id = created.grant_id as string;
      // Nothing is sent inside the request: delivery is the job's.
      expect(receiver.about(id)).toEqual([]);
      // USED needs a delivered grant.
      expectError(await t.call('PUT', `/v1/reward-grants/${id}/status`, { status: 'USED' }), 409, 'invalid_grant_transition', { status: 'PENDING' });
      // The webhook is the distribution: no ledger credit.
      const balances = must(await t.call('GET', '/v1/users/u1/balances'), 200).body.balances;
      expect(balances.find((b: { asset: string }) => b.asset === 'POINTS').balance).toBe(0);

      for (let attempt = 1; attempt <= 3; attempt++) {
        expect(await runner.runDue()).toBe(1);
        const g = await getGrant(t, id);
        expect(g).toMatchObject({ status: 'PENDING', delivery: { status: 'PENDING', attempts: attempt, delivered_at: null } });
        expect(g.delivery.last_error).toMatch(/HTTP 503/);
        // The error names the host, never the path or query (which may carry tokens).
        expect(g.delivery.last_error).not.toContain('token=abc');
        // Not due before its backoff has passed.
        const wait = backoffMs(attempt, pinnedRandom);
        clock.advance(wait - 1);
        expect(await runner.runDue()).toBe(0);
        clock.advance(1);
      }
      // The fourth attempt gets a 200.
      expect(await runner.runDue()).toBe(1);
      expect(await runner.runDue()).toBe(0);

      const delivered = await getGrant(t, id);
      expect(delivered).toMatchObject({
        status: 'DELIVERED',
        delivery: { status: 'DELIVERED', attempts: 4, last_error: null, delivered_at: iso(clock.now().getTime()) },
      });
      const deliveries = receiver.about(id);
      expect(deliveries).toHaveLength(4);
      for (const d of deliveries) expectSigned(d, id, 'reward_grant.created');
      expect(new Set(deliveries.map((d) => d.deliveryId)).size).toBe(1);
      expect(deliveries[0]!.json.grant).toMatchObject({ grant_id: id, user_id: 'u1', reward_id: reward.reward_id, payload: { points: 50 }, status: 'PENDING' });

      expectError(await t.call('POST', `/v1/reward-grants/${id}/retry-delivery`), 409, 'delivery_not_failed', { delivery_status: 'DELIVERED' });
      expect(must(await t.call('PUT', `/v1/reward-grants/${id}/status`, { status: 'USED' }), 200).body.status).toBe('USED');
      expect(await stockOf(t, reward.reward_id)).toMatchObject({ used: 1 });
    }));

  it('marks the grant FAILED after the last attempt; retry-delivery (202) delivers once the receiver is up', () =>
    withWebhook(async ({ t, clock, runner, receiver, newWebhookReward }) => {
      const reward = await newWebhookReward();
      receiver.answer(503);
      const id = must(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }), 201).body.grant_id as string;

      for (let attempt = 1; attempt <= DEFAULT_MAX_ATTEMPTS; attempt++) {
        expect(await runner.runDue()).toBe(1);
        const g = await getGrant(t, id);
        expect(g.delivery.attempts).toBe(attempt);
        if (attempt < DEFAULT_MAX_ATTEMPTS) {
          expect(g).toMatchObject({ status: 'PENDING', delivery: { status: 'PENDING' } });
          if (attempt === 1) {
            expectError(await t.call('POST', `/v1/reward-grants/${id}/retry-delivery`), 409, 'delivery_not_failed', { delivery_status: 'PENDING' });
          }
          clock.advance(backoffMs(attempt, pinnedRandom));
        }
      }
      const failed = await getGrant(t, id);
      expect(failed).toMatchObject({ status: 'FAILED', delivery: { status: 'FAILED', attempts: DEFAULT_MAX_ATTEMPTS, delivered_at: null } });
      expect(failed.delivery.last_error).toMatch(/HTTP 503/);
      expect(receiver.about(id)).toHaveLength(DEFAULT_MAX_ATTEMPTS);
      // The job is dead: nothing more is sent, however long one waits.
      clock.advance(24 * 3600 * SECOND);
      expect(await runner.runDue()).toBe(0);
      expect(await getGrant(t, id)).toEqual(failed);
      expectError(await t.call('PUT', `/v1/reward-grants/${id}/status`, { status: 'USED' }), 409, 'invalid_grant_transition', { status: 'FAILED' });

      receiver.answer(200);
      const retried = await t.call('POST', `/v1/reward-grants/${id}/retry-delivery`);
      expect(retried.status).toBe(202);
      expect(retried.body).toMatchObject({ grant_id: id, status: 'PENDING', delivery: { status: 'PENDING' } });
      expectError(await t.call('POST', `/v1/reward-grants/${id}/retry-delivery`), 409, 'delivery_not_failed', { delivery_status: 'PENDING' });
      expect(await runner.runDue()).toBe(1);
      const delivered = await getGrant(t, id);
      expect(delivered).toMatchObject({ status: 'DELIVERED', delivery: { status: 'DELIVERED', last_error: null, delivered_at: iso(clock.now().getTime()) } });
      const deliveries = receiver.about(id);
      expect(deliveries).toHaveLength(DEFAULT_MAX_ATTEMPTS + 1);
      for (const d of deliveries) expectSigned(d, id, 'reward_grant.created');
      expect(await runner.runDue()).toBe(0);
    }));

  it('retry-delivery: 409 delivery_not_applicable for an AUTO grant, 404 for an unknown one, readonly keys refused', () =>
    withWebhook(async ({ t }) => {
      const auto = must(
        await t.call('POST', '/v1/rewards', { reward_name: 'Auto', reward_type: 'POINTS', product_code: t.productCode, config: { generator: { points: 1 } } }),
        201,
      ).body;
      const g = must(await t.call('POST', '/v1/reward-grants', { reward_id: auto.reward_id, user_id: 'u1' }), 201).body;
      expectError(await t.call('POST', `/v1/reward-grants/${g.grant_id}/retry-delivery`), 409, 'delivery_not_applicable');
      expectError(await t.call('POST', '/v1/reward-grants/grt_missing/retry-delivery'), 404, 'grant_not_found');
      expectError(await t.call('POST', `/v1/reward-grants/${g.grant_id}/retry-delivery`, undefined, { key: t.readonly }), 403, 'read_only_key');
    }));

  it('revoking a delivered webhook grant sends a signed reward_grant.revoked event', () =>
    withWebhook(async ({ t, runner, receiver, newWebhookReward }) => {
      const reward = await newWebhookReward();
      const id = must(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }), 201).body.grant_id as string;
      expect(await runner.runDue()).toBe(1);
      expect((await getGrant(t, id)).status).toBe('DELIVERED');

      const revoked = must(await t.call('PUT', `/v1/reward-grants/${id}/status`, { status: 'REVOKED', reason: 'chargeback' }), 200).body;
      expect(revoked).toMatchObject({ status: 'REVOKED', revoke_reason: 'chargeback' });
      expect(await stockOf(t, reward.reward_id)).toMatchObject({ used: 0, available: 10 });
      expect(receiver.about(id)).toHaveLength(1);

      expect(await runner.runDue()).toBe(1);
      const deliveries = receiver.about(id);
      expect(deliveries).toHaveLength(2);
      expectSigned(deliveries[0]!, id, 'reward_grant.created');
      expectSigned(deliveries[1]!, id, 'reward_grant.revoked');
      expect(deliveries[1]!.json.grant).toMatchObject({ grant_id: id, status: 'REVOKED', revoke_reason: 'chargeback' });
      const after = await getGrant(t, id);
      expect(after).toMatchObject({ status: 'REVOKED', delivery: { status: 'DELIVERED', attempts: 2, last_error: null } });
      expect(await runner.runDue()).toBe(0);
    }));

  it('a grant revoked before its first delivery is never announced', () =>
    withWebhook(async ({ t, runner, receiver, newWebhookReward }) => {
      const reward = await newWebhookReward();
      const id = must(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }), 201).body.grant_id as string;
      must(await t.call('PUT', `/v1/reward-grants/${id}/status`, { status: 'REVOKED' }), 200);
      expect(await stockOf(t, reward.reward_id)).toMatchObject({ used: 0 });
      expect(await runner.runDue()).toBe(1);
      expect(await runner.runDue()).toBe(0);
      expect(receiver.about(id)).toEqual([]);
      expect((await getGrant(t, id)).status).toBe('REVOKED');
    }));

  it('a FAILED webhook grant can be revoked: its stock comes back and no event is sent', () =>
    withWebhook(async ({ t, clock, runner, receiver, newWebhookReward }) => {
      const reward = await newWebhookReward({ total_stock: 1 });
      receiver.answer(500);
      const id = must(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }), 201).body.grant_id as string;
      for (let attempt = 1; attempt <= DEFAULT_MAX_ATTEMPTS; attempt++) {
        expect(await runner.runDue()).toBe(1);
        clock.advance(backoffMs(attempt, pinnedRandom));
      }
      expect(await getGrant(t, id)).toMatchObject({ status: 'FAILED', delivery: { status: 'FAILED' } });
      expect(await stockOf(t, reward.reward_id)).toMatchObject({ used: 1, available: 0 });
      must(await t.call('PUT', `/v1/reward-grants/${id}/status`, { status: 'REVOKED' }), 200);
      expect(await stockOf(t, reward.reward_id)).toMatchObject({ used: 0, available: 1 });
      expect(await runner.runDue()).toBe(0);
      expect(receiver.about(id)).toHaveLength(DEFAULT_MAX_ATTEMPTS);
    }));
});
