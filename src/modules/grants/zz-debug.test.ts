import { it, expect } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';

it('debug', async () => {
  const clock = new ManualClock(new Date());
  const app = await testApp({ clock });
  const t = await app.newTenant();
  for (let i = 0; i < 30; i++) {
    const c = await newCampaign(t);
    must(await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`), 200);
    const reward = must(await t.call('POST', '/v1/rewards', { reward_name: 'r', reward_type: 'POINTS', product_code: t.productCode, total_stock: 3, campaign_id: c.campaign_id, config: { generator: { points: 1 }, validator: { per_user_limit: 2, min_interval_seconds: 60 } } }), 201).body;
    const g = (b: object) => t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, ...b });
    const slots = async () => JSON.stringify((await app.database.db.selectFrom('reward_stock_slot').selectAll().where('reward_id', '=', reward.reward_id).orderBy('slot').execute()).map(s => [s.slot, s.total, s.used, s.reserved]));
    const log: string[] = [];
    const step = async (name: string, b: object) => { const r = await g(b); log.push(`${name}: ${r.status} ${r.body?.error?.code ?? ''} ${await slots()}`); return r; };
    await step('a', { user_id: 'u1', source: 'order', source_id: 'o-1' });
    await step('b', { user_id: 'u1', source: 'order', source_id: 'o-1' });
    await step('c', { user_id: 'u2', source: 'order', source_id: 'o-1' });
    await step('d', { user_id: 'u1' });
    clock.advance(60_000);
    await step('e', { user_id: 'u1' });
    await step('f', { user_id: 'u1' });
    const r = await step('g', { user_id: 'u2' });
    if (r.status !== 201) { console.log(log.join('\n')); expect.fail('reproduced'); }
  }
  await app.app.close();
});
