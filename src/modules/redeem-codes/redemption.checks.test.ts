import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { newBatch, redeem } from '../../../test/helpers/redeem-code-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { TenantActor } from '../../platform/actor.js';
import { AppError } from '../../platform/errors.js';
import type { GrantService } from '../grants/index.js';
import { createRedemptionService, createShapeCache, listShapesForCache, redeemCodeMetrics } from './index.js';

/**
 * The checks of a code are decided in one order with one error per code (redemption.checks.ts),
 * whether the service refuses the code on its read or the database under the code's row lock. A
 * code whose state changes between the read and the lock is refused exactly as a later attempt,
 * which reads the new state, is refused on the read.
 */
async function setup() {
  const app = await testApp();
  const t = await app.newTenant();
  const { batch } = await newBatch(t, { count: 3 });
  const services = app.app.services;
  // What happens between the read of the code and the statement that locks it: another request
  // changes the code and commits (through the real routes and database).
  let between: (() => Promise<void>) | null = null;
  const grants: GrantService = {
    ...services.grants,
    async grantReward(...args) {
      const change = between;
      between = null;
      if (change) await change();
      return services.grants.grantReward(...args);
    },
  };
  const redemptions = createRedemptionService({
    db: services.db,
    clock: services.clock,
    campaigns: services.campaigns,
    grants,
    shapes: createShapeCache({ load: listShapesForCache(services.db), reloadMs: 0 }),
    metrics: redeemCodeMetrics(new Registry()),
  });
  const actor: TenantActor = { kind: 'tenant', tenantId: t.tenantId, keyId: 'test', role: 'service', productCodes: null };
  /** The error (code, message, details) an attempt by `userId` is refused with, after `change` ran mid-way if given. */
  const refusal = async (code: string, userId: string, change?: () => Promise<void>) => {
    between = change ?? null;
    const attempt = redemptions.attemptOf(actor, { code, user_id: userId }, undefined, undefined);
    const err = await redemptions.redeem(actor, attempt).then(
      () => null,
      (e: unknown) => e,
    );
    expect(between).toBeNull(); // the change ran between the read and the lock
    expect(err).toBeInstanceOf(AppError);
    const e = err as AppError;
    return { code: e.code, message: e.message, details: e.details };
  };
  return { t, batch, refusal };
}

describe('a code refused under the lock is refused as on a fresh read', () => {
  it('voided meanwhile: code_voided, the same message and details', async () => {
    const { t, batch, refusal } = await setup();
    const code = batch.codes[0]!;
    const underLock = await refusal(code, 'u1', async () => void must(await t.call('POST', `/v1/redeem-codes/${code}/void`, {}), 200));
    const onRead = await refusal(code, 'u1');
    expect(underLock.code).toBe('code_voided');
    expect(underLock).toEqual(onRead);
  });

  it('used up meanwhile: code_already_redeemed, the same message and details', async () => {
    const { t, batch, refusal } = await setup();
    const code = batch.codes[1]!;
    const underLock = await refusal(code, 'u1', async () => void must(await redeem(t, { code, user_id: 'u2' }), 201));
    const onRead = await refusal(code, 'u3');
    expect(underLock.code).toBe('code_already_redeemed');
    expect(underLock).toEqual(onRead);
  });

  it('assigned to another user meanwhile: code_not_assigned_to_user, the same message and details', async () => {
    const { t, batch, refusal } = await setup();
    const code = batch.codes[2]!;
    const underLock = await refusal(code, 'u1', async () => void must(await t.call('POST', `/v1/redeem-codes/${code}/assign`, { user_id: 'u2' }), 200));
    const onRead = await refusal(code, 'u1');
    expect(underLock.code).toBe('code_not_assigned_to_user');
    expect(underLock).toEqual(onRead);
  });
});
