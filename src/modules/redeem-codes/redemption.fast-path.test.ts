import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../../../test/helpers/grant-helpers.js';
import { type MirrorApp, mirrorApp } from '../../../test/helpers/mirror-app.js';
import { codeCampaign } from '../../../test/helpers/redeem-code-helpers.js';
import { connectTestRedis, deletePrefix, redisSkipNote, testRedisUrl } from '../../../test/helpers/redis.js';
import { startTcpProxy } from '../../../test/helpers/tcp-proxy.js';
import { must, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';
import { mirrorKeys } from './redeem-code.mirror.js';

const apps: MirrorApp[] = [];
let admin: Redis;
beforeAll(async () => {
  if (testRedisUrl) admin = await connectTestRedis();
});
afterAll(async () => {
  for (const app of apps) {
    await app.api.close();
    if (admin) await deletePrefix(admin, app.prefix);
  }
  await admin?.quit();
});

async function app(o: Parameters<typeof mirrorApp>[0] = {}) {
  const a = await mirrorApp(o);
  apps.push(a);
  return a;
}

/** A tenant, an ACTIVE campaign with a reward, and a batch made through `a` (so mirrored). */
async function mirroredBatch(a: MirrorApp, body: Record<string, unknown> = {}) {
  const t = await (await testApp()).newTenant();
  const { campaignId, rewardId } = await codeCampaign(t);
  const batch = must(await a.call(t, 'POST', `/v1/campaigns/${campaignId}/redeem-codes`, { code_type: 'ALPHANUM', length: 12, count: 5, reward_id: rewardId, ...body }), 201).body;
  return { t, campaignId, rewardId, batch: batch as { batch_id: string; codes: string[]; alphabet: string } };
}

const redeem = (a: MirrorApp, t: TenantFixture, code: string, user = 'u1') => a.call(t, 'POST', '/v1/redeem', { code, user_id: user });

/** A code of the batch's shape that is not one of its codes (last character changed). */
function unknownCode(codes: string[], alphabet: string): string {
  const real = new Set(codes);
  for (const c of alphabet) {
    const guess = codes[0]!.slice(0, -1) + c;
    if (!real.has(guess)) return guess;
  }
  throw new Error('no free guess');
}

/** A metric of the app (each mirror app has its own registry, so values start at zero). */
const metric = async (a: MirrorApp, name: string, labels: Record<string, string>) =>
  metricValue(String((await a.api.inject({ method: 'GET', url: '/metrics' })).body), name, labels) || 0;

describe.skipIf(!testRedisUrl)(`Redis fast path of redemptions${redisSkipNote}`, () => {
  it('refuses unknown, used-up, voided and expired codes from Redis without a database statement', async () => {
    const clock = new ManualClock(new Date());
    const a = await app({ clock, reloadMs: 600_000 });
    const expires = new Date(clock.now().getTime() + 86_400_000).toISOString();
    const { t, batch } = await mirroredBatch(a, { expires_at: expires });
    const unknown = unknownCode(batch.codes, batch.alphabet);
    must(await redeem(a, t, batch.codes[0]!), 201);
    must(await a.call(t, 'POST', `/v1/redeem-codes/${batch.codes[1]}/void`, {}), 200);
    // Warm-up: the key (cached), the tenant's shapes and code count are read once.
    expect((await redeem(a, t, unknown)).status).toBe(404);

    a.queries.on = true;
    const answers = [
      await redeem(a, t, unknown),
      await redeem(a, t, batch.codes[0]!, 'u2'),
      await redeem(a, t, batch.codes[1]!),
    ];
    // Two days on, the API key cache has expired with the clock: read the key again first.
    a.queries.on = false;
    clock.set(new Date(clock.now().getTime() + 2 * 86_400_000));
    expect((await redeem(a, t, unknown)).status).toBe(404);
    a.queries.on = true;
    answers.push(await redeem(a, t, batch.codes[2]!));
    a.queries.on = false;

    expect(answers.map((r) => `${r.status} ${r.body.error?.code}`)).toEqual([
      '404 code_not_found',
      '409 code_already_redeemed',
      '409 code_voided',
      '409 code_expired',
    ]);
    expect(answers[3]!.body.error.details.expires_at).toBe(new Date(expires).toISOString());
    expect(a.queries.count, a.queries.sql.join(',')).toBe(0);
    for (const result of ['refused_unknown', 'refused_used', 'refused_voided', 'refused_expired']) {
      expect(await metric(a, 'marketing_redeem_code_fast_path_total', { result }), result).toBeGreaterThanOrEqual(1);
    }
  });

  it('a code that looks live in Redis still goes through the database, which decides', async () => {
    const a = await app();
    const { t, batch } = await mirroredBatch(a, { count: 2 });
    a.queries.on = true;
    must(await redeem(a, t, batch.codes[0]!), 201);
    a.queries.on = false;
    expect(a.queries.count).toBeGreaterThan(2);
    // The use was written back after the commit: the second attempt ends in Redis.
    a.queries.count = 0;
    a.queries.on = true;
    expect((await redeem(a, t, batch.codes[0]!, 'u2')).body.error.code).toBe('code_already_redeemed');
    a.queries.on = false;
    expect(a.queries.count).toBe(0);
  });

  it('a code Redis passes is not read from the database: the statement verifies what Redis said', async () => {
    const a = await app();
    const { t, batch } = await mirroredBatch(a, { count: 3 });
    must(await redeem(a, t, batch.codes[0]!), 201); // warm-up: key, shapes, reward snapshot
    a.queries.on = true;
    const reply = must(await redeem(a, t, batch.codes[1]!, 'u2'), 201);
    a.queries.on = false;
    expect(a.queries.sql).toEqual(['RawNode']); // mh_redeem_batch, and no read of the code
    expect(reply.body.redemption).toMatchObject({ code: batch.codes[1], batch_id: batch.batch_id, user_id: 'u2' });
    expect(await metric(a, 'marketing_redeem_code_fast_path_total', { result: 'passed' })).toBe(2);
  });

  it('one Redis call per attempt before the database: admission, probe and an unknown code\'s failure count together', async () => {
    const a = await app({ overrides: { 'rate_limits.lockout.failures': 3 } });
    const { t, batch } = await mirroredBatch(a, { count: 3 });
    const unknown = unknownCode(batch.codes, batch.alphabet);
    must(await redeem(a, t, batch.codes[0]!), 201); // warm-up: key, shapes, the tenant's code count
    const monitor = await admin.monitor();
    const seen: string[][] = [];
    // Calls from clients only (MONITOR also shows the commands a script runs, from "lua").
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((x) => x.startsWith(a.prefix))) seen.push(args);
    });
    try {
      expect((await redeem(a, t, unknown, 'guesser')).status).toBe(404);
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.map((c) => c[0]!.toLowerCase())).toEqual(['evalsha']);
      seen.length = 0;
      must(await redeem(a, t, batch.codes[1]!, 'u2'), 201);
      await new Promise((r) => setTimeout(r, 100));
      // The gate, then the use written back after the commit.
      expect(seen.map((c) => c[0]!.toLowerCase())).toEqual(['evalsha', 'evalsha']);
    } finally {
      monitor.disconnect();
    }
    // The failures the gate counted lock the guesser out (3 here), even for a real code.
    expect((await redeem(a, t, unknown, 'guesser')).status).toBe(404);
    expect((await redeem(a, t, unknown, 'guesser')).status).toBe(404);
    const locked = await redeem(a, t, batch.codes[2]!, 'guesser');
    expect({ status: locked.status, rule: locked.body.error?.details?.rule }).toEqual({ status: 429, rule: 'lockout' });
  });

  it('a mirror out of date about a batch or a code key: the statement refuses it, the redemption reads and decides', async () => {
    const a = await app();
    const { t, batch } = await mirroredBatch(a, { count: 4, applicable_products: ['app1'] });
    const keys = mirrorKeys(a.prefix, t.tenantId);
    // The batch's entry claims every product may redeem; the database says only app1, and this
    // redemption names no product.
    const entry = (await admin.hget(keys.batches, batch.batch_id))!;
    await admin.hset(keys.batches, batch.batch_id, entry.replace('"a":["app1"]', '"a":null'));
    expect((await redeem(a, t, batch.codes[0]!)).body.error.code).toBe('product_not_applicable');

    const { t: t2, batch: b2 } = await mirroredBatch(a, { count: 3 });
    const k2 = mirrorKeys(a.prefix, t2.tenantId);
    // The first code's entry names the second code's key: the statement finds another code there.
    const second = (await admin.hget(k2.codes, b2.codes[1]!))!;
    await admin.hset(k2.codes, b2.codes[0]!, second);
    must(await redeem(a, t2, b2.codes[0]!), 201);
    expect(await a.api.services.redeemCodes.getCode(actorOf(t2), b2.codes[0]!)).toMatchObject({ status: 'REDEEMED' });
    expect(await a.api.services.redeemCodes.getCode(actorOf(t2), b2.codes[1]!)).toMatchObject({ status: 'ACTIVE' });
    // An entry of the older form (no key, no reward): the code is read as before.
    await admin.hset(k2.codes, b2.codes[2]!, (await admin.hget(k2.codes, b2.codes[2]!))!.replace(/#\d+\|/, '|'));
    must(await redeem(a, t2, b2.codes[2]!), 201);
  });

  it('a real code is never refused because of a missing or stale mirror', async () => {
    const a = await app({ reloadMs: 100 });
    const { t, batch } = await mirroredBatch(a, { count: 6 });
    const keys = mirrorKeys(a.prefix, t.tenantId);
    const unknown = unknownCode(batch.codes, batch.alphabet);
    expect((await redeem(a, t, unknown)).status).toBe(404);
    // One code's entry gone: the count no longer proves completeness; the database answers.
    await admin.hdel(keys.codes, batch.codes[0]!);
    must(await redeem(a, t, batch.codes[0]!), 201);
    // The whole mirror gone (a flushed or restarted Redis).
    await admin.del(keys.codes, keys.batches);
    must(await redeem(a, t, batch.codes[1]!), 201);
    // A writer holding a pending token (codes about to commit): no "unknown" while it holds it.
    const release = await a.api.services.codeMirror.hold(t.tenantId);
    await a.api.services.codeReconciler.reconcile({ tenantId: t.tenantId });
    expect((await redeem(a, t, unknown)).status).toBe(404);
    await release();

    // A batch made by a process without Redis (nothing mirrored) that crashed before loading:
    // once the count is read again it no longer matches, so its codes go to the database.
    const plain = await testApp();
    const { campaignId, rewardId } = await codeCampaign(t);
    const other = must(await plain.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, { code_type: 'ALPHANUM', length: 12, count: 3, reward_id: rewardId }, { key: t.admin }), 201).body;
    await new Promise((r) => setTimeout(r, 600));
    must(await redeem(a, t, other.codes[0]), 201);
    expect(await a.api.services.redeemCodes.getCode(actorOf(t), other.codes[1])).toMatchObject({ status: 'ACTIVE' });
    must(await redeem(a, t, other.codes[1]), 201);
  });

  it('reconcile repairs drift (the database wins) and reports what it fixed', async () => {
    const a = await app();
    const { t, batch } = await mirroredBatch(a, { count: 5 });
    const keys = mirrorKeys(a.prefix, t.tenantId);
    must(await redeem(a, t, batch.codes[2]!), 201);
    const [live, gone, used] = [batch.codes[0]!, batch.codes[1]!, batch.codes[2]!];
    const stored = await admin.hget(keys.codes, live);
    // A live code marked used, one deleted, a used code marked live, a code that does not exist.
    await admin.hset(keys.codes, live, stored!.replace(/^A\|0\|/, 'R|1|'));
    await admin.hdel(keys.codes, gone);
    await admin.hset(keys.codes, used, (await admin.hget(keys.codes, used))!.replace(/^R\|1\|/, 'A|0|'));
    await admin.hset(keys.codes, 'NOSUCHCODE99', stored!);
    await admin.hset(keys.pending, 'dead-writer', String(Date.now() - 1000));
    // The drift shows: the live code is refused by Redis.
    expect((await redeem(a, t, live)).body.error.code).toBe('code_already_redeemed');

    const report = await a.api.services.codeReconciler.reconcile({ tenantId: t.tenantId });
    expect(report).toMatchObject({ tenants: 1, batches: 1, codes: 5, fixed: { missing: 1, wrong: 2, extra: 1, batches: 0, pending: 1 } });
    expect(await a.api.services.codeReconciler.reconcile({ tenantId: t.tenantId })).toMatchObject({ fixed: { missing: 0, wrong: 0, extra: 0, batches: 0, pending: 0 } });
    must(await redeem(a, t, live), 201);
    must(await redeem(a, t, gone), 201);
    expect((await redeem(a, t, used, 'u9')).body.error.code).toBe('code_already_redeemed');

    // One batch only: its entry and codes, nothing else of the tenant.
    await admin.hdel(keys.batches, batch.batch_id);
    await admin.hdel(keys.codes, batch.codes[3]!);
    expect(await a.api.services.codeReconciler.reconcile({ tenantId: t.tenantId, batchId: batch.batch_id })).toMatchObject({
      batches: 1,
      fixed: { missing: 1, wrong: 0, extra: 0, batches: 1 },
    });
    expect(await metric(a, 'marketing_redeem_code_mirror_fixed_total', { kind: 'missing' })).toBe(2);
  });

  it('Redis going away mid-run: redemptions stay correct (the database answers), and come back to the fast path', async () => {
    const url = new URL(testRedisUrl!.includes('://') ? testRedisUrl! : `redis://${testRedisUrl}`);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 6379) });
    try {
      const a = await app({ redisAddr: `127.0.0.1:${proxy.port}`, overrides: { 'data.redis.command_timeout_ms': 200, 'data.redis.connect_timeout_ms': 200 } });
      const { t, batch } = await mirroredBatch(a, { count: 60, max_uses: 1 });
      const unknown = unknownCode(batch.codes, batch.alphabet);
      const run = (codes: string[], offset: number) => Promise.all(codes.map((c, i) => redeem(a, t, c, `u${offset + i}`)));
      const first = await run(batch.codes.slice(0, 20), 0);
      await proxy.cut();
      const during = await run(batch.codes.slice(0, 40), 100);
      expect((await redeem(a, t, unknown)).status).toBe(404);
      await proxy.restore();
      await new Promise((r) => setTimeout(r, 1500));
      const after = await run(batch.codes, 200);
      const won = [...first, ...during, ...after].filter((r) => r.status === 201).length;
      expect(first.every((r) => r.status === 201)).toBe(true);
      expect(during.map((r) => r.status).sort()).toEqual([...Array(20).fill(201), ...Array(20).fill(409)]);
      expect(won).toBe(60);
      const list = must(await a.call(t, 'GET', '/v1/redemptions', undefined), 200).body;
      expect(list.pagination.total).toBe(60);
      expect(await metric(a, 'marketing_redeem_code_fast_path_total', { result: 'unavailable' })).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });
});

const actorOf = (t: TenantFixture) => ({ kind: 'tenant' as const, tenantId: t.tenantId, keyId: 'test', role: 'admin' as const, productCodes: null });
