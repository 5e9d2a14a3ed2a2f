import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { newPhone, orderBody, referralCampaign } from './testing/referral-fixtures.js';

const keyless = { key: null };

describe('unpaid orders', () => {
  it('are cancelled past referrals.unpaid_timeout_seconds; a payment arriving later is acknowledged, flagged, and rewards nothing', async () => {
    // A clock in the past: the sweep's cutoff never reaches orders other tests make meanwhile.
    const clock = new ManualClock('2025-01-01T00:00:00Z');
    const a = await testApp({ clock });
    try {
      const t = await a.newTenant();
      const { campaignId } = await referralCampaign(t);
      const referrer = `ref-${newPhone()}`;
      const order = must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone(), { u_id: referrer }), keyless), 201).body;
      clock.advance(29 * 60_000);
      expect(await a.app.services.referralPayments.cancelUnpaid()).toBe(0);
      clock.advance(2 * 60_000);
      expect(await a.app.services.referralPayments.cancelUnpaid()).toBeGreaterThanOrEqual(1);
      expect(must(await a.call('GET', `/api/v1/orders/${order.order_id}`, undefined, keyless), 200).body.status).toBe('cancelled');
      expect((await a.call('POST', `/api/v1/orders/${order.order_id}/pay`, {}, keyless)).body.error.code).toBe('order_not_payable');
      const notice = a.app.services.referralSandbox.notice(order.order_id, { amount: 9900 });
      const late = await a.app.inject({ method: 'POST', url: '/api/v1/orders/payment/notify', headers: { ...notice.headers, 'content-type': 'application/json' }, payload: notice.body });
      expect(late.statusCode).toBe(200);
      const stored = await a.database.db.selectFrom('referral_order').selectAll().where('order_id', '=', order.order_id).executeTakeFirstOrThrow();
      expect(stored).toMatchObject({ status: 'cancelled', flagged: true });
      expect(stored.flag_reason).toMatch(/^unexpected_payment/);
      expect(await a.database.db.selectFrom('referral_reward').select('reward_id').where('order_id', '=', order.order_id).execute()).toHaveLength(0);
    } finally {
      await a.app.close();
    }
  });
});
