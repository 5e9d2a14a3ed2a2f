/**
 * Pre-generated codes handed out on demand: POST /v1/redeem-code-batches/{batch_id}/assign-next
 * gives the batch's next free code to a user in one statement (FOR UPDATE SKIP LOCKED).
 */
import { describe, expect, it } from 'vitest';
import { expectError, newBatch } from '../../../test/helpers/redeem-code-helpers.js';
import { must, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';

const next = (t: TenantFixture, batchId: string, body: Record<string, unknown>, headers?: Record<string, string>) =>
  t.call('POST', `/v1/redeem-code-batches/${batchId}/assign-next`, body, headers ? { headers } : {});

describe('POST /v1/redeem-code-batches/{batch_id}/assign-next', () => {
  it('500 parallel hand-outs from a pool of 100: exactly 100 distinct codes, 400 refused batch_exhausted', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 100 });
    const replies = await Promise.all(Array.from({ length: 500 }, (_, i) => next(t, batch.batch_id, { user_id: `u${i}` })));
    const ok = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 409);
    expect(ok).toHaveLength(100);
    expect(refused).toHaveLength(400);
    for (const r of refused) expect(r.body.error.code).toBe('batch_exhausted');
    const codes = ok.map((r) => r.body.redeem_code.code as string);
    expect(new Set(codes).size).toBe(100);
    expect(new Set(codes)).toEqual(new Set(batch.codes));
    // Each code went to the user whose call got it, and the database agrees.
    const listed = must(await t.call('GET', '/v1/redeem-codes', undefined, { query: { batch_id: batch.batch_id, page_size: 100 } }), 200).body;
    const assigned = new Map(listed.redeem_codes.map((c: { code: string; assigned_user_id: string }) => [c.code, c.assigned_user_id]));
    for (const r of ok) expect(assigned.get(r.body.redeem_code.code)).toBe(r.body.redeem_code.assigned_user_id);
    expect(new Set(assigned.values()).size).toBe(100);
  }, 120_000);

  it('a one_per_user batch: 50 parallel hand-outs to one user give one code (the repeats reused: true)', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 10, one_per_user: true });
    expect(batch.one_per_user).toBe(true);
    const replies = await Promise.all(Array.from({ length: 50 }, () => next(t, batch.batch_id, { user_id: 'same' })));
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(new Set(replies.map((r) => r.body.redeem_code.code)).size).toBe(1);
    expect(replies.filter((r) => r.body.reused === false)).toHaveLength(1);
    const listed = must(await t.call('GET', '/v1/redeem-codes', undefined, { query: { batch_id: batch.batch_id, user_id: 'same' } }), 200).body;
    expect(listed.pagination.total).toBe(1);
    // Another user gets another code; a batch without one_per_user gives a user a new code each call.
    const other = must(await next(t, batch.batch_id, { user_id: 'other' }), 200).body;
    expect(other.redeem_code.code).not.toBe(replies[0]!.body.redeem_code.code);
    const { batch: plain } = await newBatch(t, { count: 3 });
    const a = must(await next(t, plain.batch_id, { user_id: 'u' }), 200).body;
    const b = must(await next(t, plain.batch_id, { user_id: 'u' }), 200).body;
    expect(a.redeem_code.code).not.toBe(b.redeem_code.code);
  }, 60_000);

  it('keeps extra_data, the code redeems for its user only; 404 unknown batch, 409 batch_closed when voided', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 2 });
    const got = must(await next(t, batch.batch_id, { user_id: 'u1', extra_data: { order_id: 'o1' } }), 200).body;
    expect(got).toMatchObject({ reused: false, redeem_code: { assigned_user_id: 'u1', extra_data: { order_id: 'o1' }, status: 'ACTIVE' } });
    expectError(await t.call('POST', '/v1/redeem', { code: got.redeem_code.code, user_id: 'u2' }), 403, 'code_not_assigned_to_user');
    must(await t.call('POST', '/v1/redeem', { code: got.redeem_code.code, user_id: 'u1' }), 201);
    expectError(await next(t, 'rcb_nope', { user_id: 'u1' }), 404, 'batch_not_found');
    must(await t.call('POST', `/v1/redeem-code-batches/${batch.batch_id}/void`), 200);
    expectError(await next(t, batch.batch_id, { user_id: 'u3' }), 409, 'batch_closed', { reason: 'voided' });
    expect((await next(t, batch.batch_id, {})).status).toBe(400);
    // Another tenant's batch does not exist for this tenant.
    const t2 = await app.newTenant();
    expectError(await next(t2, batch.batch_id, { user_id: 'u1' }), 404, 'batch_not_found');
  });
});
