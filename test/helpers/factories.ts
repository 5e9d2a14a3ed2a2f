import type { TenantFixture } from './test-app.js';
import { must } from './test-app.js';

/** A valid campaign body; override any field. */
export function campaignBody(overrides: Record<string, unknown> = {}) {
  return {
    campaign_name: 'Singles Day',
    campaign_type: 'PROMOTION',
    product_code: 'app1',
    start_time: '2020-01-01T00:00:00Z',
    end_time: '2099-12-31T23:59:59Z',
    ...overrides,
  };
}

/** Creates a campaign for the tenant and returns it. */
export async function newCampaign(t: TenantFixture, overrides: Record<string, unknown> = {}) {
  return must(await t.call('POST', '/v1/campaigns', campaignBody({ product_code: t.productCode, ...overrides })), 201).body;
}
