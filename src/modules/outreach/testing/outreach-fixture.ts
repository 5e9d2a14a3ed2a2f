import { randomBytes } from 'node:crypto';
import { must, type TenantFixture, type TestApp } from '../../../../test/helpers/test-app.js';
import { type SmsPeer, startGenericSmsPeer } from '../channels/testing/sms-peers.js';
import type { Outreach } from '../outreach.module.js';

/** The product document's SMS, verbatim. */
export const PRODUCT_SMS = '亲爱的[客户姓名]，您有一份6月专属好礼待领取！详情请访问[链接]。退订请回复TD。';

export function outreachOf(app: TestApp): Outreach {
  return (app.app as unknown as { services: { outreach: Outreach } }).services.outreach;
}

/** Profiles with a tag, a name and a phone (+861380000xxxx), in one call per customer. */
export async function seedCustomers(t: TenantFixture, count: number, tag: string, extra: (i: number) => Record<string, unknown> = () => ({})) {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = `u${String(i).padStart(5, '0')}`;
    ids.push(id);
    const r = await t.call('PUT', `/v1/customers/${id}`, { tags: [tag], attributes: { name: `客户${i}`, phone: `+86138${String(i).padStart(8, '0')}`, email: `c${i}@example.test`, ...extra(i) } });
    if (r.status !== 200) must(r, 201);
  }
  return ids;
}

/** A generic-JSON SMS peer and a provider of the tenant pointing at it (default for sms). */
export async function smsProvider(t: TenantFixture, options: { rate?: number; peer?: SmsPeer } = {}) {
  const secret = randomBytes(24).toString('hex');
  const peer = options.peer ?? (await startGenericSmsPeer({ secret }));
  const provider = must(
    await t.call(
      'POST',
      '/v1/outreach/providers',
      { name: 'sms', kind: 'sms_generic', config: { url: peer.url }, secrets: { secret }, rate_per_second: options.rate ?? 1000, is_default: true },
      { key: t.admin },
    ),
    201,
  ).body as { provider_id: string };
  return { peer, secret, providerId: provider.provider_id };
}

export async function createSmsCampaign(t: TenantFixture, tag: string, extra: Record<string, unknown> = {}) {
  return must(
    await t.call('POST', '/v1/outreach/campaigns', {
      name: '六月会员关怀短信',
      channel: 'sms',
      target_tags: [tag],
      content: { text: PRODUCT_SMS },
      link_url: 'https://shop.example.test/june',
      ...extra,
    }),
    201,
  ).body as { campaign_id: string; status: string };
}
