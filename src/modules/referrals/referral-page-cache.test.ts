import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { createPageCache, type PageRows } from './referral.page-cache.js';
import { newPhone, orderBody, referralCampaign, SETTINGS } from './testing/referral-fixtures.js';

const keyless = { key: null };
// referrals.page_cache_ms, the default the test apps run with: an entry is kept through TTL ms, gone at TTL + 1.
const TTL = 1000;

describe('the landing page cache (referrals.page_cache_ms)', () => {
  it('a page disabled through this process refuses at once; through another process, once the TTL has passed', async () => {
    const clock = new ManualClock('2026-06-01T00:00:00Z');
    const a = await testApp({ clock });
    // A second app over the same database: another process, with its own cache.
    const b = await testApp({ clock: new ManualClock('2026-06-01T00:00:00Z') });
    try {
      const t = await a.newTenant();
      const { campaignId } = await referralCampaign(t);
      const signUp = async () => (await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone()), keyless)).status;
      expect(await signUp()).toBe(201); // a now keeps the page's rows

      // Disabled through b: a keeps taking sign-ups until its entry expires (the documented trade-off), not after.
      must(await b.call('PUT', `/v1/campaigns/${campaignId}/referral`, { ...SETTINGS, status: 'disabled' }, { key: t.admin }), 200);
      expect((await b.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone()), keyless)).status).toBe(404);
      expect(await signUp()).toBe(201);
      clock.advance(TTL);
      expect(await signUp()).toBe(201);
      clock.advance(1);
      expect(await signUp()).toBe(404);
      expect((await a.call('GET', `/api/v1/campaigns/${campaignId}/form`, undefined, keyless)).status).toBe(404);

      // Through a itself: at once, both ways.
      must(await a.call('PUT', `/v1/campaigns/${campaignId}/referral`, SETTINGS, { key: t.admin }), 200);
      expect(await signUp()).toBe(201);
      must(await a.call('PUT', `/v1/campaigns/${campaignId}/referral`, { ...SETTINGS, status: 'disabled' }, { key: t.admin }), 200);
      expect(await signUp()).toBe(404);
      expect((await a.call('GET', `/api/v1/campaigns/${campaignId}/form`, undefined, keyless)).status).toBe(404);
      must(await a.call('PUT', `/v1/campaigns/${campaignId}/referral`, SETTINGS, { key: t.admin }), 200);
      expect(await signUp()).toBe(201);

      // Paused: the campaigns module has no change hook, so even this process sees it after the TTL.
      must(await a.call('POST', `/v1/campaigns/${campaignId}/pause`, undefined, { key: t.admin }), 200);
      clock.advance(TTL + 1);
      expect(await signUp()).toBe(404);
      expect((await a.call('GET', `/api/v1/campaigns/${campaignId}/form`, undefined, keyless)).status).toBe(404);
    } finally {
      await a.app.close();
      await b.app.close();
    }
  });

  it('a campaign whose end_time passes closes at that moment, its rows cached or not', async () => {
    const clock = new ManualClock('2026-06-01T00:00:00Z');
    const a = await testApp({ clock });
    try {
      const t = await a.newTenant();
      const { campaignId } = await referralCampaign(t, {}, { start_time: '2026-05-01T00:00:00Z', end_time: '2026-06-01T00:00:00.500Z' });
      must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone()), keyless), 201);
      clock.advance(499);
      must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone()), keyless), 201);
      clock.advance(1); // inside the TTL, at end_time
      expect((await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone()), keyless)).status).toBe(404);
    } finally {
      await a.app.close();
    }
  });

  it('reads once for many callers at once; a drop during a read keeps that read from being stored; ttl 0 reads every time', async () => {
    let now = 1_000_000;
    let loads = 0;
    let release: () => void = () => {};
    const rows = { settings: { status: 'enabled' }, campaign: { campaign_id: 'c' } } as unknown as PageRows;
    const load = async () => {
      loads++;
      await new Promise<void>((r) => (release = r));
      return rows;
    };
    const cache = createPageCache({ ttlMs: TTL, now: () => now, load });
    const many = Array.from({ length: 100 }, () => cache.get('c'));
    release();
    expect(new Set(await Promise.all(many)).size).toBe(1);
    expect(loads).toBe(1);
    await cache.get('c');
    expect(loads).toBe(1);
    now += TTL + 1;
    const during = cache.get('c');
    cache.drop('c');
    release();
    await during;
    const after = cache.get('c');
    expect(loads).toBe(3); // the read the drop overtook was not kept
    release();
    await after;
    await cache.get('c');
    expect(loads).toBe(3);

    const uncached = createPageCache({ ttlMs: 0, now: () => now, load: async () => (loads++, rows) });
    await uncached.get('c');
    await uncached.get('c');
    expect(loads).toBe(5);
  });
});
