/**
 * Real resources of the fuzz tenant, so a mutated request names ids that exist and reaches the
 * service and the database rather than stopping at a 404. Built lazily: an operation that needs
 * only a campaign does not pay for a redeem-code batch.
 */
import { randomBytes } from 'node:crypto';
import { runTransaction } from '../../src/db/client.js';
import { outreachOf } from '../../src/modules/outreach/testing/outreach-fixture.js';
import { newCampaign } from '../helpers/factories.js';
import { taskBody } from '../helpers/task-helpers.js';
import { type Reply, type TenantFixture, testApp } from '../helpers/test-app.js';

type Producer = () => Promise<unknown>;

export interface FixtureOptions {
  campaign?: 'DRAFT' | 'ACTIVE' | 'PAUSED';
  unlinkedTask?: boolean;
}

export class FixtureSet {
  /** Values by field name (`campaign_id`, `user_id` ...), filled as they are made. */
  readonly known: Record<string, unknown>;
  /** Steps that did not answer 2xx (an operation then meets a 404 instead of its resource). */
  readonly problems: string[] = [];
  private readonly made = new Map<string, Promise<unknown>>();
  private readonly producers: Record<string, Producer>;

  constructor(
    private readonly t: TenantFixture,
    label: string,
    /** The campaign's state (DRAFT to delete or publish it, PAUSED to resume it); the task unlinked to link it. */
    options: FixtureOptions = {},
  ) {
    const user = `fz_user_${label}`;
    this.known = {
      tenant_id: t.tenantId,
      product_code: t.productCode,
      user_id: user,
      user_ids: [user],
      event_type: 'SIGN_IN',
      // Outreach campaigns need a target; the fixture customers are tagged vip.
      target_tags: ['vip'],
      // The string content of POST /api/marketing/campaigns (object contents elsewhere do not take it).
      content: '亲爱的[客户姓名]，详情请访问[链接]',
    };
    const admin = (method: string, url: string, body?: unknown) => t.call(method as any, url, body, { key: t.admin });
    this.producers = {
      campaign_id: async () => {
        const campaign = await newCampaign(t, {});
        if (options.campaign === 'DRAFT') return campaign.campaign_id;
        this.check(`publish campaign`, await admin('POST', `/v1/campaigns/${campaign.campaign_id}/publish`));
        if (options.campaign === 'PAUSED') this.check(`pause campaign`, await admin('POST', `/v1/campaigns/${campaign.campaign_id}/pause`));
        return campaign.campaign_id;
      },
      reward_id: async () => {
        const campaignId = await this.need('campaign_id');
        const reply = await admin('POST', '/v1/rewards', {
          reward_name: 'Fuzz reward',
          reward_type: 'POINTS',
          product_code: t.productCode,
          campaign_id: campaignId,
          // Finite, so reservations work; large, so grants do not run out during a run.
          total_stock: 1_000_000,
          config: { generator: { points: 10 } },
        });
        return this.check('create reward', reply)?.reward_id;
      },
      audience_id: async () => {
        const reply = await admin('POST', '/v1/audiences', { audience_name: 'Fuzz list', audience_type: 'LIST', product_code: t.productCode });
        const id = this.check('create audience', reply)?.audience_id;
        if (id) this.check('add member', await admin('POST', `/v1/audiences/${id}/members`, { user_ids: [user] }));
        return id;
      },
      customer: async () => this.check('put customer', await admin('PUT', `/v1/customers/${user}`, { tags: ['vip'], attributes: { tier: 'gold', age: 30 } })),
      task_id: async () => {
        const campaignId = await this.need('campaign_id');
        await this.need('reward_id');
        const task = this.check('create task', await admin('POST', '/v1/tasks', taskBody({ product_code: t.productCode })));
        if (task && !options.unlinkedTask) this.check('link task', await admin('POST', `/v1/campaigns/${campaignId}/tasks`, { task_id: task.task_id }));
        return task?.task_id;
      },
      batch_id: async () => {
        const campaignId = await this.need('campaign_id');
        const rewardId = await this.need('reward_id');
        // Many uses (each user once), so the redemption routes' valid requests (a new user each) get through.
        const reply = await admin('POST', `/v1/campaigns/${campaignId}/redeem-codes`, { reward_id: rewardId, code_type: 'ALPHANUM', length: 12, count: 20, max_uses: 1_000_000 });
        const batch = this.check('create redeem codes', reply);
        if (batch?.codes?.[0]) this.known.code = batch.codes[0];
        return batch?.batch_id;
      },
      code: async () => {
        await this.need('batch_id');
        return this.known.code;
      },
      grant_id: async () => {
        const rewardId = await this.need('reward_id');
        await this.need('customer');
        return this.check('grant', await admin('POST', '/v1/reward-grants', { reward_id: rewardId, user_id: user }))?.grant_id;
      },
      reservation_id: async () => {
        const rewardId = await this.need('reward_id');
        return this.check('reserve', await admin('POST', '/v1/inventory/reserve', { reward_id: rewardId, user_id: user, quantity: 1, ttl_seconds: 86_400 }))
          ?.reservation_id;
      },
      balance: async () =>
        this.check('credit', await admin('POST', `/v1/users/${user}/ledger/adjust`, { asset: 'POINTS', amount: 1_000_000, reason: 'fuzz' })),
      template_id: async () => {
        const body = { name: 'Fuzz template', channel: 'sms', content: { text: '亲爱的[客户姓名]，详情请访问[链接]' }, defaults: { 'customer.name': '顾客' } };
        return this.check('create template', await admin('POST', '/v1/outreach/templates', body))?.template_id;
      },
      // Outreach: a provider (SMS, unreachable: runs are simulations), a campaign (`id` of the
      // /api/marketing paths, and the `campaign_id` of /v1/outreach/campaigns paths: see fixtureOf
      // in api-fuzz.test.ts), a simulation run and one of its records.
      provider_id: async () => {
        const body = { name: 'Fuzz SMS', kind: 'sms_generic', config: { url: 'http://127.0.0.1:9/sms' }, secrets: { secret: 'fz'.repeat(16) }, is_default: true };
        return this.check('create provider', await admin('POST', '/v1/outreach/providers', body))?.provider_id;
      },
      id: async () => {
        await this.need('customer');
        const body = { name: 'Fuzz outreach', channel: 'sms', target_tags: ['vip'], content: { text: '亲爱的[客户姓名]，详情请访问[链接]' }, link_url: 'https://shop.example.test/fz' };
        return this.check('create outreach campaign', await admin('POST', '/v1/outreach/campaigns', body))?.campaign_id;
      },
      run_id: async () => {
        const campaignId = await this.need('id');
        const run = this.check('simulate', await admin('POST', `/v1/outreach/campaigns/${campaignId}/trigger`, { execution_type: 'simulation' }));
        // The shared app of the fuzz suite: its send loop writes the run's records.
        await outreachOf(await testApp()).dispatcher.drain({ tenantId: t.tenantId });
        return run?.run_id;
      },
      record_id: async () => {
        const runId = await this.need('run_id');
        return this.check('records', await admin('GET', `/v1/outreach/records?run_id=${runId}`))?.records?.[0]?.record_id;
      },
      // WeChat apps: two, so that a sign-in without app_id is refused (ambiguous) rather than sent to WeChat.
      app_id: async () => {
        for (const id of ['wx00000000000000f1', 'wx00000000000000f2']) this.check('put wechat app', await admin('PUT', `/v1/wechat/apps/${id}`, { secret: 'fuzz-secret-0123456789' }));
        return 'wx00000000000000f1';
      },
      // Group-buys: an active activity (groups of 10, a user may join 1000 of them) and one open group.
      activity_id: async () => {
        const now = Date.now();
        const body = {
          name: 'Fuzz group-buy',
          item_id: 'fz-sku',
          group_price: 990,
          original_price: 1990,
          group_size: 10,
          per_user_limit: 1000,
          start_time: new Date(now - 60_000).toISOString(),
          end_time: new Date(now + 86_400_000).toISOString(),
        };
        return this.check('create group-buy activity', await admin('POST', '/v1/group-buys/activities', body))?.activity_id;
      },
      group_id: async () => {
        const activityId = await this.need('activity_id');
        return this.check('open group', await admin('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: `fz_leader_${label}` }))?.group_id;
      },
      coupon_template_id: async () => {
        const body = { name: 'Fuzz coupon', coupon_type: 'discount', value: 100, refund_returns: true };
        return this.check('create coupon template', await admin('POST', '/v1/coupons/templates', body))?.template_id;
      },
      // The fixture user's coupon, so lock / commit / use reach the service with a real owner.
      coupon_id: async () => {
        const templateId = await this.need('coupon_template_id');
        return this.check('claim coupon', await admin('POST', `/v1/coupons/templates/${templateId}/claim`, { user_id: user }))?.coupon_id;
      },
      // Promotions: a flash sale running now (item fz-sku, stock enough for the whole run).
      promotion_id: async () => {
        const now = Date.now();
        const body = {
          name: 'Fuzz promotion',
          promotion_type: 'flash_sale',
          start_time: new Date(now - 60_000).toISOString(),
          end_time: new Date(now + 86_400_000).toISOString(),
          flash_sale: { items: [{ item_id: 'fz-sku', special_price: 990, stock: 1_000_000 }] },
        };
        return this.check('create promotion', await admin('POST', '/v1/promotions', body))?.promotion_id;
      },
      // A checkout order of the fixture user holding nothing (a cart no promotion covers).
      order_id: async () => {
        const cart = { lines: [{ item_id: 'fz-none', unit_price: 500, quantity: 1 }] };
        const quote = this.check('quote', await admin('POST', '/v1/checkout/quote', { user_id: user, cart }));
        const body = { user_id: user, cart, order_id: `fz-order-${label}-${randomBytes(3).toString('hex')}`, quote_hash: quote?.quote_hash };
        const orderId = this.check('checkout', await admin('POST', '/v1/checkout/orders', body))?.order_id as string | undefined;
        // A sync record of the order (kind reward, which no fuzz sync target maps: skipped), so /v1/sync/{status,retry} find it.
        const { app, database } = await testApp();
        if (orderId) await runTransaction(database.db, (trx) => app.services.sync.enqueue(trx, { tenant_id: t.tenantId, kind: 'reward', record_id: `fz-${orderId}`, order_id: orderId, record: {} }));
        return orderId;
      },
      // A sync target on a closed local port: the check and the deliveries fail fast, nothing leaves the machine.
      target_id: async () => {
        const body = { name: 'Fuzz sync', type: 'postgresql', host: '127.0.0.1', port: 9, user: 'fz', password: 'fz', database: 'fz', mappings: { order: { table: 'fz_orders', key_column: 'order_key', fields: { 'orders.phone': 'phone' } } } };
        return this.check('create sync target', await admin('POST', '/v1/sync/targets', body))?.target_id;
      },
      // A pending referral withdrawal of the fixture user (its BALANCE credited first).
      withdrawal_id: async () => {
        this.check('credit balance', await admin('POST', `/v1/users/${user}/ledger/adjust`, { asset: 'BALANCE', amount: 1_000_000, reason: 'fuzz' }));
        return this.check('withdrawal', await admin('POST', '/v1/referrals/withdrawals', { user_id: user, amount: 100 }))?.withdrawal_id;
      },
      // A campaign of the product document's paths (/api/v1/campaigns/{id}): a form, a 10% rate, the sandbox.
      hub_campaign_id: async () => {
        const body = { name: 'Fuzz hub', product_code: t.productCode, form_fields: { type: 'object' }, reward_rule: 0.1, payment: { amount: 1000, provider: 'sandbox' } };
        return this.check('create hub campaign', await admin('POST', '/api/v1/campaigns', body))?.id;
      },
      // The product document's camelCase path parameter of /api/v1/sync/{status,retry}/{orderId}.
      orderId: async () => this.need('order_id'),
      // The terms of a flash sale, so a generated POST /v1/promotions (promotion_type flash_sale) is valid.
      flash_sale: async () => ({ items: [{ item_id: 'fz-sku', special_price: 990, stock: 1_000_000 }] }),
      // Client access: a publishable key and an HS256 user token key of the app.
      publishable_key_id: async () =>
        this.check('publishable key', await admin('POST', `/v1/apps/${t.productCode}/publishable-keys`, { allowed_origins: ['https://fuzz.example.test'] }))?.key_id,
      kid: async () => this.check('user token key', await admin('POST', `/v1/apps/${t.productCode}/user-token-keys`, { alg: 'HS256' }))?.kid,
      // A console operator of the tenant (GET / PATCH / DELETE /v1/operators/{operator_id}).
      operator_id: async () =>
        this.check('operator', await admin('POST', '/v1/operators', { email: `fz-op-${label}-${randomBytes(3).toString('hex')}@fuzz.test`, password: 'fuzz-password-0', role: 'viewer' }))?.operator_id,
      key_id: async () =>
        this.check('spare key', await admin('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: `spare ${randomBytes(3).toString('hex')}`, role: 'readonly' }))
          ?.key_id,
    };
  }

  /** Makes (once) the fixtures behind these field names; unknown names are left alone. */
  async prepare(names: Iterable<string>): Promise<void> {
    const wanted = new Set(names);
    // A user id is worth more with a customer profile and a balance behind it.
    if (wanted.has('user_id') || wanted.has('user_ids')) {
      wanted.add('customer');
      wanted.add('balance');
    }
    for (const name of wanted) if (name in this.producers) await this.need(name);
  }

  private need(name: string): Promise<unknown> {
    let p = this.made.get(name);
    if (!p) {
      p = this.producers[name]!().then((value) => {
        if (value !== undefined && !['customer', 'balance'].includes(name)) this.known[name] = value;
        return value;
      });
      this.made.set(name, p);
    }
    return p;
  }

  private check(step: string, reply: Reply): any {
    if (reply.status >= 200 && reply.status < 300) return reply.body;
    this.problems.push(`${step}: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 200)}`);
    return undefined;
  }
}
