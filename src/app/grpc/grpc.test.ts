import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { grpcClient, type GrpcTestClient } from '../../../test/helpers/grpc-client.js';
import { createBatch } from '../../../test/helpers/redeem-code-helpers.js';
import { linkedTask, taskCampaign } from '../../../test/helpers/task-helpers.js';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { type GrpcServer, startGrpcServer } from './grpc-server.js';

/**
 * The gRPC server beside HTTP, called with a real @grpc/grpc-js client over the network: the same
 * services, keys, roles, tenant walls, idempotency store and validation as the HTTP routes.
 */
let test: TestApp;
let server: GrpcServer;
let client: GrpcTestClient;

beforeAll(async () => {
  test = await testApp();
  server = await startGrpcServer({ services: test.app.services, host: '127.0.0.1', port: 0, log: { error: () => {} } });
  client = grpcClient(`127.0.0.1:${server.port}`);
});

afterAll(async () => {
  client?.close();
  await server?.stop(1000);
});

async function activeReward(t: TenantFixture, totalStock: number | null = null) {
  const campaign = await newCampaign(t);
  must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
  const reward = must(
    await t.call('POST', '/v1/rewards', {
      reward_name: 'gRPC reward',
      reward_type: 'POINTS',
      product_code: t.productCode,
      campaign_id: campaign.campaign_id,
      total_stock: totalStock,
      config: { generator: { points: 5 } },
    }),
    201,
  ).body as { reward_id: string };
  return { campaignId: campaign.campaign_id as string, rewardId: reward.reward_id };
}

describe('gRPC services: happy paths', () => {
  it('campaigns: create, get, list, publish', async () => {
    const t = await test.newTenant();
    const created = await client.call('CampaignService', 'CreateCampaign', {
      campaign_name: 'gRPC launch',
      campaign_type: 'PROMOTION',
      product_code: t.productCode,
      start_time: '2020-01-01T00:00:00Z',
      end_time: '2099-01-01T00:00:00Z',
      metadata: { channel: 'grpc', tags: ['a', 1, true, null], nested: { x: 1.5 } },
    }, { key: t.service });
    expect(created.code, created.message).toBe(status.OK);
    expect(created.body).toMatchObject({ campaign_name: 'gRPC launch', status: 'DRAFT', tenant_id: t.tenantId, metadata: { channel: 'grpc', tags: ['a', 1, true, null], nested: { x: 1.5 } } });
    expect(created.body.description).toBeUndefined();
    const id = created.body.campaign_id as string;

    const got = await client.call('CampaignService', 'GetCampaign', { campaign_id: id }, { key: t.readonly });
    expect(got.body).toEqual(created.body);
    // The same object as HTTP answers (nulls are fields not set over gRPC).
    const http = must(await t.call('GET', `/v1/campaigns/${id}`), 200).body;
    expect(got.body).toEqual(Object.fromEntries(Object.entries(http).filter(([, v]) => v !== null)));

    const published = await client.call('CampaignService', 'UpdateCampaignStatus', { campaign_id: id, action: 'publish' }, { key: t.service });
    expect(published.body.status).toBe('ACTIVE');
    const list = await client.call('CampaignService', 'ListCampaigns', { status: 'ACTIVE', page_size: 5 }, { key: t.readonly });
    expect(list.body.campaigns.map((c: { campaign_id: string }) => c.campaign_id)).toEqual([id]);
    expect(list.body.pagination).toEqual({ total: 1, page: 1, page_size: 5 });
  });

  it('rewards: create, get, list, set stock', async () => {
    const t = await test.newTenant();
    const campaign = await newCampaign(t);
    const created = await client.call('RewardService', 'CreateReward', {
      reward_name: 'Points',
      reward_type: 'POINTS',
      product_code: t.productCode,
      campaign_id: campaign.campaign_id,
      total_stock: 10,
      config: { generator: { points: 7 } },
    }, { key: t.service });
    expect(created.code, created.message).toBe(status.OK);
    expect(created.body).toMatchObject({ reward_type: 'POINTS', total_stock: 10, stock: { total: 10, reserved: 0, used: 0, available: 10 }, config: { generator: { points: 7 } } });
    const id = created.body.reward_id as string;
    expect((await client.call('RewardService', 'GetReward', { reward_id: id }, { key: t.readonly })).body.reward_id).toBe(id);
    expect((await client.call('RewardService', 'ListRewards', {}, { key: t.readonly })).body.rewards).toHaveLength(1);
    const more = await client.call('RewardService', 'SetRewardStock', { reward_id: id, total_stock: 25 }, { key: t.service });
    expect(more.body.stock).toMatchObject({ total: 25, available: 25 });
    const unlimited = await client.call('RewardService', 'SetRewardStock', { reward_id: id }, { key: t.service });
    expect(unlimited.body.total_stock).toBeUndefined();
  });

  it('grants: grant, a replayed cause, check, get, list', async () => {
    const t = await test.newTenant();
    const { rewardId } = await activeReward(t);
    const check = await client.call('GrantService', 'CheckEligibility', { reward_id: rewardId, user_id: 'u1' }, { key: t.service });
    expect(check.body).toEqual({ eligible: true });
    const first = await client.call('GrantService', 'Grant', { reward_id: rewardId, user_id: 'u1', source: 'order', source_id: 'o-1' }, { key: t.service });
    expect(first.code, first.message).toBe(status.OK);
    expect(first.body).toMatchObject({ created: true, grant: { reward_id: rewardId, user_id: 'u1', quantity: 1, status: 'DELIVERED', payload: { points: 5 } } });
    const again = await client.call('GrantService', 'Grant', { reward_id: rewardId, user_id: 'u1', source: 'order', source_id: 'o-1' }, { key: t.service });
    expect(again.body).toEqual({ grant: first.body.grant, created: false });
    const got = await client.call('GrantService', 'GetGrant', { grant_id: first.body.grant.grant_id }, { key: t.readonly });
    expect(got.body).toEqual(first.body.grant);
    const list = await client.call('GrantService', 'ListGrants', { user_id: 'u1' }, { key: t.readonly });
    expect(list.body.grants).toHaveLength(1);
  });

  it('inventory: reserve, confirm, cancel, list', async () => {
    const t = await test.newTenant();
    const { rewardId } = await activeReward(t, 10);
    const held = await client.call('InventoryService', 'Reserve', { reward_id: rewardId, quantity: 3, user_id: 'u1' }, { key: t.service });
    expect(held.body).toMatchObject({ status: 'RESERVED', quantity: 3 });
    const other = await client.call('InventoryService', 'Reserve', { reward_id: rewardId, quantity: 2 }, { key: t.service });
    expect((await client.call('InventoryService', 'Confirm', { reservation_id: held.body.reservation_id }, { key: t.service })).body.status).toBe('CONFIRMED');
    expect((await client.call('InventoryService', 'Cancel', { reservation_id: other.body.reservation_id }, { key: t.service })).body.status).toBe('CANCELLED');
    const list = await client.call('InventoryService', 'ListReservations', { reward_id: rewardId }, { key: t.readonly });
    expect(list.body.reservations).toHaveLength(2);
    expect(must(await t.call('GET', `/v1/rewards/${rewardId}`), 200).body.stock).toMatchObject({ used: 3, reserved: 0, available: 7 });
  });

  it('redeem: a code of a batch', async () => {
    const t = await test.newTenant();
    const { campaignId, rewardId } = await activeReward(t);
    const batch = must(await createBatch(t, campaignId, { reward_id: rewardId }), 201).body as { codes: string[] };
    const longDevice = await client.call('RedeemService', 'Redeem', { code: batch.codes[0]!, user_id: 'u9' }, { key: t.service, metadata: { 'x-device-id': 'd'.repeat(129) } });
    expect([longDevice.code, longDevice.details.error.details.field]).toEqual([status.INVALID_ARGUMENT, 'x-device-id']);
    const redeemed = await client.call('RedeemService', 'Redeem', { code: batch.codes[0]!, user_id: 'u9', client_ip: '203.0.113.7' }, { key: t.service, metadata: { 'x-device-id': 'dev-1' } });
    expect(redeemed.code, redeemed.message).toBe(status.OK);
    expect(redeemed.body).toMatchObject({ redemption: { user_id: 'u9', client_ip: '203.0.113.7', device_id: 'dev-1' }, grant: { reward_id: rewardId, user_id: 'u9' } });
    const twice = await client.call('RedeemService', 'Redeem', { code: batch.codes[0]!, user_id: 'u9' }, { key: t.service });
    expect({ code: twice.code, errorCode: twice.errorCode }).toEqual({ code: status.FAILED_PRECONDITION, errorCode: 'code_already_redeemed' });
  });

  it('tasks: trigger and trigger batch', async () => {
    const t = await test.newTenant();
    const { campaignId, rewardId } = await taskCampaign(t);
    const task = await linkedTask(t, campaignId, { reward_id: rewardId });
    const one = await client.call('TaskService', 'Trigger', { event_type: 'SIGN_IN', user_id: 'u1', product_code: t.productCode, event_id: 'e1', event_data: { source: 'app' } }, { key: t.service });
    expect(one.code, one.message).toBe(status.OK);
    expect(one.body.tasks[0]).toMatchObject({ task_id: task.task_id, progressed: true, completed: [{ grant_status: 'GRANTED' }] });
    const batch = await client.call('TaskService', 'TriggerBatch', {
      events: [
        { event_type: 'SIGN_IN', user_id: 'u2', product_code: t.productCode, event_id: 'e2' },
        { event_type: 'SIGN_IN', user_id: 'u1', product_code: t.productCode, event_id: 'e1' },
      ],
    }, { key: t.service });
    expect(batch.body.results.map((r: { index?: number; ok: boolean; result: { duplicate?: boolean } }) => [r.index ?? 0, r.ok, r.result.duplicate ?? false])).toEqual([
      [0, true, false],
      [1, true, true],
    ]);
  });
});

describe('gRPC: authentication, roles and tenant walls', () => {
  it('no key, a wrong key, a readonly key writing, the master key', async () => {
    const t = await test.newTenant();
    const body = { campaign_name: 'x', campaign_type: 'PROMOTION', product_code: t.productCode };
    const none = await client.call('CampaignService', 'CreateCampaign', body, {});
    expect([none.code, none.errorCode]).toEqual([status.UNAUTHENTICATED, 'unauthorized']);
    const wrong = await client.call('CampaignService', 'CreateCampaign', body, { key: 'mk_not_a_real_key_0123456789' });
    expect(wrong.code).toBe(status.UNAUTHENTICATED);
    expect(wrong.details.http_status).toBe(401);
    const readonly = await client.call('CampaignService', 'CreateCampaign', body, { key: t.readonly });
    expect([readonly.code, readonly.errorCode]).toEqual([status.PERMISSION_DENIED, 'read_only_key']);
    expect(readonly.details.error.details).toEqual({ required_role: 'service', key_role: 'readonly' });
    const master = await client.call('CampaignService', 'ListCampaigns', {}, { key: test.master });
    expect([master.code, master.errorCode]).toEqual([status.PERMISSION_DENIED, 'tenant_key_required']);
  });

  it('another tenant\'s objects are NOT_FOUND; a foreign tenant_id is refused', async () => {
    const a = await test.newTenant();
    const b = await test.newTenant();
    const { rewardId, campaignId } = await activeReward(a);
    const granted = await client.call('GrantService', 'Grant', { reward_id: rewardId, user_id: 'u1' }, { key: a.service });
    for (const [service, method, request] of [
      ['CampaignService', 'GetCampaign', { campaign_id: campaignId }],
      ['CampaignService', 'UpdateCampaignStatus', { campaign_id: campaignId, action: 'pause' }],
      ['RewardService', 'GetReward', { reward_id: rewardId }],
      ['GrantService', 'GetGrant', { grant_id: granted.body.grant.grant_id }],
      ['GrantService', 'Grant', { reward_id: rewardId, user_id: 'u1' }],
      ['InventoryService', 'Reserve', { reward_id: rewardId, quantity: 1 }],
    ] as const) {
      const reply = await client.call(service, method, request, { key: b.admin });
      expect({ method, code: reply.code }).toEqual({ method, code: status.NOT_FOUND });
    }
    const mismatch = await client.call('GrantService', 'ListGrants', { tenant_id: a.tenantId }, { key: b.admin });
    expect([mismatch.code, mismatch.errorCode]).toEqual([status.PERMISSION_DENIED, 'tenant_mismatch']);
  });
});

describe('gRPC: validation and idempotency', () => {
  it('bad input is INVALID_ARGUMENT with the HTTP code and field', async () => {
    const t = await test.newTenant();
    const missing = await client.call('GrantService', 'Grant', { user_id: 'u1' }, { key: t.service });
    expect([missing.code, missing.errorCode, missing.details.error.details.field]).toEqual([status.INVALID_ARGUMENT, 'invalid_request', 'reward_id']);
    const http = await t.call('POST', '/v1/reward-grants', { user_id: 'u1' });
    expect(missing.details.error.message).toBe(http.body.error.message);
    const tooMany = await client.call('GrantService', 'Grant', { reward_id: 'r', user_id: 'u1', quantity: 5000 }, { key: t.service });
    expect([tooMany.code, tooMany.details.error.details.field]).toEqual([status.INVALID_ARGUMENT, 'quantity']);
    const badAction = await client.call('CampaignService', 'UpdateCampaignStatus', { campaign_id: 'c', action: 'explode' }, { key: t.service });
    expect([badAction.code, badAction.details.error.details.field]).toEqual([status.INVALID_ARGUMENT, 'action']);
    const nul = await client.call('GrantService', 'Grant', { reward_id: 'r\u0000', user_id: 'u1' }, { key: t.service });
    expect([nul.code, nul.errorCode]).toEqual([status.INVALID_ARGUMENT, 'invalid_request']);
    const zh = await client.call('GrantService', 'Grant', { user_id: 'u1' }, { key: t.service, metadata: { 'accept-language': 'zh-CN' } });
    expect(zh.details.error.message).toBe((await t.call('POST', '/v1/reward-grants', { user_id: 'u1' }, { headers: { 'accept-language': 'zh-CN' } })).body.error.message);
  });

  it('the same idempotency-key replays the first grant: one grant; another body is refused', async () => {
    const t = await test.newTenant();
    const { rewardId } = await activeReward(t, 10);
    const md = { 'idempotency-key': 'grant-once-1' };
    const replies = await Promise.all(Array.from({ length: 5 }, () => client.call('GrantService', 'Grant', { reward_id: rewardId, user_id: 'u1' }, { key: t.service, metadata: md })));
    const ok = replies.filter((r) => r.code === status.OK);
    // Parallel repeats wait for the first or are told it is in progress; never a second grant.
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of replies.filter((x) => x.code !== status.OK)) expect([r.code, r.errorCode]).toEqual([status.ABORTED, 'request_in_progress']);
    const later = await client.call('GrantService', 'Grant', { reward_id: rewardId, user_id: 'u1' }, { key: t.service, metadata: md });
    expect(later.headers['idempotent-replayed']).toBe('true');
    expect(later.body).toEqual(ok[0]!.body);
    expect(later.body.created).toBe(true);
    for (const r of ok) expect(r.body.grant.grant_id).toBe(later.body.grant.grant_id);
    const list = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: rewardId } }), 200).body;
    expect(list.pagination.total).toBe(1);
    const reused = await client.call('GrantService', 'Grant', { reward_id: rewardId, user_id: 'u2' }, { key: t.service, metadata: md });
    expect([reused.code, reused.errorCode]).toEqual([status.FAILED_PRECONDITION, 'idempotency_key_reused']);
    // A refusal is replayed too: the key that was refused stays refused with the same answer.
    const refusedKey = { 'idempotency-key': 'grant-refused-1' };
    const refused = await client.call('GrantService', 'Grant', { reward_id: 'rwd_missing', user_id: 'u1' }, { key: t.service, metadata: refusedKey });
    const refusedAgain = await client.call('GrantService', 'Grant', { reward_id: 'rwd_missing', user_id: 'u1' }, { key: t.service, metadata: refusedKey });
    expect([refused.code, refusedAgain.code, refusedAgain.errorCode]).toEqual([status.NOT_FOUND, status.NOT_FOUND, refused.errorCode]);
  });
});

describe('gRPC: message size', () => {
  it('a request past the HTTP body limit is RESOURCE_EXHAUSTED before any of our code runs', async () => {
    const t = await test.newTenant();
    const small = await startGrpcServer({ services: test.app.services, host: '127.0.0.1', port: 0, log: { error: () => {} }, maxMessageBytes: 1024 });
    const smallClient = grpcClient(`127.0.0.1:${small.port}`);
    try {
      const big = await smallClient.call('CampaignService', 'CreateCampaign', { campaign_name: 'x', campaign_type: 'PROMOTION', metadata: { blob: 'x'.repeat(2048) } }, { key: t.service });
      expect(big.code).toBe(status.RESOURCE_EXHAUSTED);
      const fits = await smallClient.call('CampaignService', 'CreateCampaign', { campaign_name: 'x', campaign_type: 'PROMOTION', product_code: t.productCode }, { key: t.service });
      expect(fits.code, fits.message).toBe(status.OK);
    } finally {
      smallClient.close();
      await small.stop(1000);
    }
  });
});

describe('gRPC under concurrency', () => {
  it('200 parallel grants on a reward with stock 50: exactly 50 granted, 150 inventory_exhausted', async () => {
    const t = await test.newTenant();
    const { rewardId } = await activeReward(t, 50);
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => client.call('GrantService', 'Grant', { reward_id: rewardId, user_id: `u${i}` }, { key: t.service })));
    const tally: Record<string, number> = {};
    for (const r of replies) tally[r.errorCode ?? 'OK'] = (tally[r.errorCode ?? 'OK'] ?? 0) + 1;
    expect(tally).toEqual({ OK: 50, inventory_exhausted: 150 });
    expect(replies.filter((r) => r.code === status.FAILED_PRECONDITION)).toHaveLength(150);
    expect(must(await t.call('GET', `/v1/rewards/${rewardId}`), 200).body.stock).toMatchObject({ used: 50, available: 0 });
    const list = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: rewardId, page_size: 500 } }), 200).body;
    expect(list.pagination.total).toBe(50);
  });

  it('counts calls by method and status in the app\'s metrics', async () => {
    const metrics = (await test.call('GET', '/metrics', undefined, { key: null })).body as string;
    expect(metrics).toMatch(/grpc_server_handled_total\{grpc_service="marketing_hub.v1.GrantService",grpc_method="Grant",grpc_code="OK"\} \d+/);
    expect(metrics).toMatch(/grpc_code="FAILED_PRECONDITION"/);
  });
});
