import { describe, expect, it } from 'vitest';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { newPhone, orderBody, referralCampaign } from './testing/referral-fixtures.js';

const keyless = { key: null };

async function signUp(a: TestApp, campaignId: string, phone: string, uId?: string): Promise<string> {
  return must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, phone, uId === undefined ? {} : { u_id: uId }), keyless), 201).body.order_id as string;
}
const pay = async (a: TestApp, orderId: string) => must(await a.call('POST', `/api/v1/orders/${orderId}/sandbox-pay`, undefined, keyless), 200);
const referrerOf = async (a: TestApp, orderId: string) =>
  (await a.database.db.selectFrom('referral_order').select('referrer_id').where('order_id', '=', orderId).executeTakeFirstOrThrow()).referrer_id;
const balance = async (t: TenantFixture, userId: string) => must(await t.call('GET', `/api/v1/rewards/balance/${userId}`), 200).body.balance as number;

describe('referrer resolution (the share link carries the referrer order id as u_id)', () => {
  it("resolves a paid order's id to its phone; refuses it as self-referral; keeps any other u_id; the second level follows", async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t, { second_level: { percent: 5 } });
    const phoneA = newPhone();
    const orderA = await signUp(a, campaignId, phoneA);
    await pay(a, orderA);
    // B comes through A's link: the referrer is A's phone, and A is rewarded.
    const phoneB = newPhone();
    const orderB = await signUp(a, campaignId, phoneB, orderA);
    expect(await referrerOf(a, orderB)).toBe(phoneA);
    await pay(a, orderB);
    expect(await balance(t, phoneA)).toBe(1000);
    // C through B's link: B level 1, A level 2 (5% of 9900).
    const orderC = await signUp(a, campaignId, newPhone(), orderB);
    await pay(a, orderC);
    expect(await balance(t, phoneB)).toBe(1000);
    expect(await balance(t, phoneA)).toBe(1000 + 495);
    // A's own link used by A: self-referral, before the one-per-phone check.
    const self = await a.call('POST', '/api/v1/orders', orderBody(campaignId, phoneA, { u_id: orderA }), keyless);
    expect(self.status).toBe(400);
    expect(self.body.error.code).toBe('self_referral');
    // An unpaid order's id, another campaign's paid order id, a tenant's own user id: kept as given.
    const pendingD = await signUp(a, campaignId, newPhone());
    const orderE = await signUp(a, campaignId, newPhone(), pendingD);
    expect(await referrerOf(a, orderE)).toBe(pendingD);
    const other = await referralCampaign(t);
    const orderF = await signUp(a, other.campaignId, newPhone(), orderA);
    expect(await referrerOf(a, orderF)).toBe(orderA);
    const orderG = await signUp(a, campaignId, newPhone(), 'crm-user-42');
    expect(await referrerOf(a, orderG)).toBe('crm-user-42');
  });
});
