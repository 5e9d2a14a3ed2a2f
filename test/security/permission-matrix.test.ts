import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { campaignBody, newCampaign } from '../helpers/factories.js';
import { linkedTask, taskBody } from '../helpers/task-helpers.js';
import { must, type Reply, type TenantFixture, type TestApp, testApp } from '../helpers/test-app.js';
import { runTransaction } from '../../src/db/client.js';
import { generateSandboxKeys } from '../../src/modules/payments/index.js';

/**
 * Every operation of /openapi.json (read at test time, so a new route is covered, or fails here
 * until it is classified in RULES) x every kind of caller, against one victim tenant holding one
 * of each resource, all of product p2. Asserted: no 5xx; no key or a revoked key is 401; another
 * tenant's admin never gets the victim's data (a victim resource in the path answers 4xx, and no
 * answer names a victim resource the caller did not send); readonly cannot write and service
 * cannot do admin work (403); a key limited to p1 never sees or changes p2's data (resource paths
 * 4xx, no p2 object in any answer, lists looked at item by item); the master key is refused
 * tenant routes; and nobody replays the victim admin's Idempotency-Key answer of any POST.
 */

type Role = 'readonly' | 'service' | 'admin';
type Caller = 'outsider' | 'readonly' | 'service' | 'limited' | 'revoked' | 'none' | 'master';
const CALLERS: Caller[] = ['outsider', 'readonly', 'service', 'limited', 'revoked', 'none', 'master'];

interface Fixtures {
  tenantId: string;
  userId: string;
  keyId: string;
  campaignId: string;
  rewardId: string;
  reservationId: string;
  grantId: string;
  batchId: string;
  codes: string[];
  audienceId: string;
  taskId: string;
  spareTaskId: string;
  templateId: string;
  outreachCampaignId: string;
  runId: string;
  recordId: string;
  providerId: string;
  activityId: string;
  groupId: string;
  couponTemplateId: string;
  couponId: string;
  promotionId: string;
  orderId: string;
  syncTargetId: string;
  withdrawalId: string;
  /** A campaign of the product document's paths (/api/v1/campaigns/:id), product p2. */
  hubCampaignId: string;
  /** A console operator of the victim tenant. */
  operatorId: string;
}

interface Rule {
  /** Who may call: a tenant key (default), the master key only, either, or anyone. */
  auth?: 'tenant' | 'master' | 'any' | 'public' | 'optional';
  /** The least role of a tenant key: readonly for GET, service otherwise, unless given. */
  role?: Role;
  /** Whether the resource belongs to a product line (a limited key must not see p2's) or to the whole tenant. */
  scope?: 'product' | 'tenant';
  body?: (f: Fixtures) => unknown;
  query?: (f: Fixtures) => Record<string, string>;
  /** A raw upload (imports): content type and payload. */
  upload?: { type: string; payload: (f: Fixtures) => string };
}

const tenantWide: Rule = { scope: 'tenant' };
const matrixKeys = generateSandboxKeys();
const matrixMerchant = {
  mchid: matrixKeys.mchid,
  appid: matrixKeys.appid,
  serial_no: matrixKeys.merchant.serial_no,
  private_key_pem: matrixKeys.merchant.private_key_pem,
  apiv3_key: matrixKeys.apiv3_key,
  platform_certificates: [{ serial_no: matrixKeys.platform.serial_no, public_key_pem: matrixKeys.platform.public_key_pem }],
};
const promotionMatrixBody = () => ({
  name: 'mx',
  promotion_type: 'flash_sale',
  start_time: new Date(Date.now() - 60_000).toISOString(),
  end_time: new Date(Date.now() + 86_400_000).toISOString(),
  flash_sale: { items: [{ item_id: 'sku', special_price: 500, stock: 100_000 }] },
});
const ndjsonUsers = { type: 'application/x-ndjson', payload: () => `${JSON.stringify({ user_id: `mx-${uid()}` })}\n` };

// One rule per operation of the spec. A route missing here fails the test: classify it.
const RULES: Record<string, Rule> = {
  'GET /health': { auth: 'public' },
  'GET /ready': { auth: 'public' },
  'GET /metrics': { auth: 'public' },
  'POST /v1/tenants': { auth: 'master', body: () => ({ tenant_id: `t_mx${uid()}`, name: 'mx' }) },
  'GET /v1/tenants': { auth: 'master' },
  'GET /v1/tenants/{tenant_id}': { auth: 'any', role: 'readonly', scope: 'tenant' },
  'PUT /v1/tenants/{tenant_id}': { auth: 'master', body: () => ({ name: 'mx victim' }) },
  'GET /v1/tenants/{tenant_id}/code-quota': { auth: 'any', role: 'readonly', scope: 'tenant' },
  'PUT /v1/tenants/{tenant_id}/code-quota': { auth: 'master', body: () => ({ daily_limit: null, total_limit: null }) },
  'DELETE /v1/tenants/{tenant_id}/code-quota': { auth: 'master' },
  // The channel partner flow: the victim is a PLATFORM tenant (403 tenant_not_channel for its keys).
  'POST /v1/partner/campaigns': {
    body: (f) => ({ campaign: campaignBody({ product_code: 'p2' }), redeem_codes: { reward_id: f.rewardId, code_type: 'ALPHANUM', length: 12, count: 1 } }),
  },
  'POST /v1/tenants/{tenant_id}/api-keys': { auth: 'any', role: 'admin', scope: 'tenant', body: () => ({ name: 'mx', role: 'admin' }) },
  'GET /v1/tenants/{tenant_id}/api-keys': { auth: 'any', role: 'admin', scope: 'tenant' },
  'DELETE /v1/tenants/{tenant_id}/api-keys/{key_id}': { auth: 'any', role: 'admin', scope: 'tenant' },
  'POST /v1/apps': { role: 'admin', body: () => ({ product_code: 'p2', name: 'mx' }) },
  'GET /v1/apps': {},
  'GET /v1/apps/{product_code}': {},
  'PUT /v1/apps/{product_code}': { role: 'admin', body: () => ({ name: 'mx' }) },
  // Client access (docs/clients.md): an app's publishable keys and user token keys, admin keys only.
  'POST /v1/apps/{product_code}/publishable-keys': { role: 'admin', body: () => ({ allowed_origins: ['https://mx.example.test'] }) },
  'GET /v1/apps/{product_code}/publishable-keys': { role: 'admin' },
  'DELETE /v1/apps/{product_code}/publishable-keys/{key_id}': { role: 'admin' },
  'POST /v1/apps/{product_code}/user-token-keys': { role: 'admin', body: () => ({ alg: 'HS256' }) },
  'GET /v1/apps/{product_code}/user-token-keys': { role: 'admin' },
  'DELETE /v1/apps/{product_code}/user-token-keys/{kid}': { role: 'admin' },
  'POST /v1/campaigns': { body: () => campaignBody({ product_code: 'p2' }) },
  'GET /v1/campaigns': {},
  'GET /v1/campaigns/{campaign_id}': {},
  'PUT /v1/campaigns/{campaign_id}': { body: () => ({ description: 'mx' }) },
  'DELETE /v1/campaigns/{campaign_id}': {},
  'POST /v1/campaigns/{campaign_id}/publish': {},
  'POST /v1/campaigns/{campaign_id}/pause': {},
  'POST /v1/campaigns/{campaign_id}/resume': {},
  'POST /v1/campaigns/{campaign_id}/archive': {},
  'GET /v1/users/{user_id}/balances': tenantWide,
  'GET /v1/users/{user_id}/ledger': tenantWide,
  'POST /v1/users/{user_id}/ledger/debit': { ...tenantWide, body: () => ({ asset: 'POINTS', amount: 1 }) },
  'POST /v1/users/{user_id}/ledger/adjust': { ...tenantWide, role: 'admin', body: () => ({ asset: 'POINTS', amount: 1, reason: 'mx' }) },
  'POST /v1/rewards': {
    body: (f) => ({ reward_name: 'mx', reward_type: 'POINTS', product_code: 'p2', campaign_id: f.campaignId, config: { generator: { points: 1 } } }),
  },
  'GET /v1/rewards': {},
  'GET /v1/rewards/{reward_id}': {},
  'PUT /v1/rewards/{reward_id}': { body: () => ({ reward_name: 'mx' }) },
  'DELETE /v1/rewards/{reward_id}': {},
  'POST /v1/inventory/reserve': { body: (f) => ({ reward_id: f.rewardId, quantity: 1, user_id: f.userId }) },
  'POST /v1/inventory/{reservation_id}/confirm': {},
  'POST /v1/inventory/{reservation_id}/cancel': {},
  'GET /v1/inventory/reservations': {},
  'POST /v1/reward-grants': { body: (f) => ({ reward_id: f.rewardId, user_id: f.userId }) },
  'GET /v1/reward-grants': {},
  'POST /v1/reward-grants/check': { body: (f) => ({ reward_id: f.rewardId, user_id: f.userId }) },
  'POST /v1/reward-grants/batch': { body: (f) => ({ grants: [{ reward_id: f.rewardId, user_id: f.userId }] }) },
  'GET /v1/reward-grants/{grant_id}': {},
  'PUT /v1/reward-grants/{grant_id}/status': { body: () => ({ status: 'USED' }) },
  'POST /v1/reward-grants/{grant_id}/retry-delivery': {},
  'POST /v1/campaigns/{campaign_id}/redeem-codes': { body: (f) => ({ reward_id: f.rewardId, count: 1, code_type: 'ALPHANUM', length: 12 }) },
  'GET /v1/redeem-code-batches': {},
  'GET /v1/redeem-code-batches/{batch_id}': {},
  'POST /v1/redeem-code-batches/{batch_id}/void': { body: () => ({}) },
  'GET /v1/redeem-codes': {},
  'GET /v1/redeem-codes/export': { query: (f) => ({ batch_id: f.batchId }) },
  'GET /v1/redeem-codes/{code}': {},
  'POST /v1/redeem-codes/{code}/assign': { body: (f) => ({ user_id: f.userId }) },
  'POST /v1/redeem-codes/{code}/void': { body: () => ({}) },
  'POST /v1/redeem': { body: (f) => ({ code: f.codes[2], user_id: f.userId }) },
  // Hands the batch's next free code to the fixtures' user (the user every code route here acts for).
  'POST /v1/redeem-code-batches/{batch_id}/assign-next': { body: (f) => ({ user_id: f.userId }) },
  // The product document's redemption path (a tenant key, as /v1/redeem).
  'POST /api/redeem': { body: (f) => ({ code: f.codes[3], userId: f.userId }) },
  'GET /v1/redemptions': {},
  'GET /v1/customers': { ...tenantWide, query: (f) => ({ user_id: f.userId }) },
  'PUT /v1/customers/{user_id}': { ...tenantWide, body: () => ({ attributes: { mx: 1 } }) },
  'GET /v1/customers/{user_id}': tenantWide,
  'DELETE /v1/customers/{user_id}': tenantWide,
  'POST /v1/customers/{user_id}/tags': { ...tenantWide, body: () => ({ add: ['mx'] }) },
  'POST /v1/customers/import': { ...tenantWide, upload: ndjsonUsers },
  'POST /v1/audiences': { body: () => ({ audience_name: 'mx', audience_type: 'LIST', product_code: 'p2' }) },
  'GET /v1/audiences': {},
  'POST /v1/audiences/preview': { ...tenantWide, role: 'readonly', body: () => ({ audience_type: 'TAG', rule: { tags_any: ['vip'] } }) },
  'GET /v1/audiences/{audience_id}': {},
  'PUT /v1/audiences/{audience_id}': { body: () => ({ description: 'mx' }) },
  'DELETE /v1/audiences/{audience_id}': {},
  'GET /v1/audiences/{audience_id}/members': { query: (f) => ({ user_id: f.userId }) },
  'POST /v1/audiences/{audience_id}/members': { body: (f) => ({ user_ids: [f.userId] }) },
  'DELETE /v1/audiences/{audience_id}/members': { body: () => ({ user_ids: ['mx-nobody'] }) },
  'POST /v1/audiences/{audience_id}/members/import': { upload: ndjsonUsers },
  'GET /v1/audiences/{audience_id}/count': {},
  'GET /v1/audiences/{audience_id}/preview': {},
  'POST /v1/tasks': { body: () => taskBody({ product_code: 'p2' }) },
  'GET /v1/tasks': {},
  'GET /v1/tasks/{task_id}': {},
  'PUT /v1/tasks/{task_id}': { body: () => ({ description: 'mx' }) },
  'DELETE /v1/tasks/{task_id}': {},
  'POST /v1/tasks/trigger': { body: (f) => ({ event_type: 'SIGN_IN', user_id: f.userId, product_code: 'p2' }) },
  'POST /v1/tasks/trigger/batch': { body: (f) => ({ events: [{ event_type: 'SIGN_IN', user_id: f.userId, product_code: 'p2' }] }) },
  'GET /v1/tasks/{task_id}/completion-stats': {},
  'GET /v1/task-completion-logs': {},
  'GET /v1/users/{user_id}/tasks': {},
  'POST /v1/campaigns/{campaign_id}/tasks': { body: (f) => ({ task_id: f.spareTaskId }) },
  'GET /v1/campaigns/{campaign_id}/tasks': {},
  'DELETE /v1/campaigns/{campaign_id}/tasks/{task_id}': {},
  'POST /v1/outreach/templates': { ...tenantWide, body: () => ({ name: 'mx', channel: 'sms', content: { text: 'hi {{ customer.name }}' } }) },
  'GET /v1/outreach/templates': tenantWide,
  'GET /v1/outreach/templates/{template_id}': tenantWide,
  'PUT /v1/outreach/templates/{template_id}': { ...tenantWide, body: () => ({ name: 'mx' }) },
  'DELETE /v1/outreach/templates/{template_id}': tenantWide,
  'POST /v1/outreach/templates/preview': { ...tenantWide, body: (f) => ({ user_id: f.userId, channel: 'sms', content: { text: 'hi {{ customer.user_id }}' } }) },
  'POST /v1/outreach/templates/{template_id}/preview': { ...tenantWide, body: (f) => ({ user_id: f.userId, link: 'https://x.test/l' }) },
  // Outreach: tenant-wide; providers (credentials) and settings writes need an admin key.
  'POST /v1/outreach/campaigns': { ...tenantWide, body: () => ({ name: 'mx', channel: 'sms', target_tags: ['vip'], content: { text: 'hi' } }) },
  'GET /v1/outreach/campaigns': tenantWide,
  'GET /v1/outreach/campaigns/{campaign_id}': tenantWide,
  'PUT /v1/outreach/campaigns/{campaign_id}': { ...tenantWide, body: () => ({ name: 'mx' }) },
  'POST /v1/outreach/campaigns/{campaign_id}/archive': tenantWide,
  'POST /v1/outreach/campaigns/{campaign_id}/trigger': { ...tenantWide, body: () => ({ execution_type: 'simulation' }) },
  'GET /v1/outreach/campaigns/{campaign_id}/stats': tenantWide,
  'GET /v1/outreach/runs': tenantWide,
  'GET /v1/outreach/runs/{run_id}': tenantWide,
  'POST /v1/outreach/runs/{run_id}/pause': tenantWide,
  'POST /v1/outreach/runs/{run_id}/resume': tenantWide,
  'POST /v1/outreach/runs/{run_id}/cancel': tenantWide,
  'GET /v1/outreach/records': tenantWide,
  'GET /v1/outreach/records/export': tenantWide,
  'GET /v1/outreach/records/{record_id}': tenantWide,
  'POST /v1/outreach/providers': { ...tenantWide, role: 'admin', body: () => ({ name: 'mx', kind: 'webhook', config: { url: 'http://127.0.0.1:9/mx' }, secrets: { secret: 'mx'.repeat(16) } }) },
  'GET /v1/outreach/providers': { ...tenantWide, role: 'admin' },
  'GET /v1/outreach/providers/{provider_id}': { ...tenantWide, role: 'admin' },
  'PUT /v1/outreach/providers/{provider_id}': { ...tenantWide, role: 'admin', body: () => ({ name: 'mx' }) },
  'DELETE /v1/outreach/providers/{provider_id}': { ...tenantWide, role: 'admin' },
  'GET /v1/outreach/settings': tenantWide,
  'PUT /v1/outreach/settings': { ...tenantWide, role: 'admin', body: () => ({ default_time_zone: 'Asia/Shanghai' }) },
  // Keyless: verified by the provider's signature, not by a key.
  'POST /v1/outreach/callbacks/{provider_id}/status': { auth: 'public', body: () => ({ message_id: 'mx', status: 'delivered' }) },
  'POST /v1/outreach/callbacks/{provider_id}/inbound': { auth: 'public', body: () => ({ from: '+8613800000000', text: 'TD' }) },
  // The product document's paths over the same services.
  'POST /api/marketing/campaigns': {
    ...tenantWide,
    body: () => ({ name: 'mx', type: 'sms', target_tags: ['vip'], content: 'hi', start_time: '2024-06-10T09:00:00Z', end_time: '2024-06-15T23:59:59Z' }),
  },
  'GET /api/marketing/campaigns': tenantWide,
  'GET /api/marketing/campaigns/{id}': tenantWide,
  'PUT /api/marketing/campaigns/{id}': { ...tenantWide, body: () => ({ name: 'mx' }) },
  'POST /api/marketing/campaigns/{id}/trigger': { ...tenantWide, body: () => ({ execution_type: 'simulation' }) },
  'POST /api/marketing/campaigns/{id}/archive': tenantWide,
  'GET /api/marketing/records': { ...tenantWide, query: (f) => ({ campaign_id: f.outreachCampaignId }) },
  // Group-buys (tenant-wide: no product line).
  'POST /v1/group-buys/activities': { ...tenantWide, role: 'admin', body: () => groupBuyActivityBody() },
  'GET /v1/group-buys/activities': tenantWide,
  'GET /v1/group-buys/activities/{activity_id}': tenantWide,
  'GET /v1/group-buys/activities/{activity_id}/stats': tenantWide,
  'PUT /v1/group-buys/activities/{activity_id}': { ...tenantWide, role: 'admin', body: () => ({ name: 'mx' }) },
  'POST /v1/group-buys/activities/{activity_id}/end': { ...tenantWide, role: 'admin' },
  'POST /v1/group-buys/activities/{activity_id}/groups': { ...tenantWide, body: () => ({ user_id: `mx-${uid()}` }) },
  'GET /v1/group-buys/activities/{activity_id}/groups': tenantWide,
  'POST /v1/group-buys/groups/{group_id}/join': { ...tenantWide, body: () => ({ user_id: `mx-${uid()}` }) },
  'GET /v1/group-buys/groups/{group_id}': tenantWide,
  'POST /marketing/group-buy': { ...tenantWide, body: (f) => ({ activity_id: f.activityId, user_id: `mx-${uid()}` }) },
  'POST /marketing/group-buy/{group_id}/join': { ...tenantWide, body: () => ({ user_id: `mx-${uid()}` }) },
  'POST /v1/coupons/templates': { ...tenantWide, role: 'admin', body: () => ({ name: 'mx', coupon_type: 'discount', value: 100 }) },
  'GET /v1/coupons/templates': tenantWide,
  'GET /v1/coupons/templates/{coupon_template_id}': tenantWide,
  'GET /v1/coupons/templates/{coupon_template_id}/stats': tenantWide,
  'PUT /v1/coupons/templates/{coupon_template_id}': { ...tenantWide, role: 'admin', body: () => ({ name: 'mx' }) },
  'POST /v1/coupons/templates/{coupon_template_id}/disable': { ...tenantWide, role: 'admin' },
  'POST /v1/coupons/templates/{coupon_template_id}/claim': { ...tenantWide, body: () => ({ user_id: `mx-${uid()}` }) },
  'POST /v1/coupons/templates/{coupon_template_id}/issue': { ...tenantWide, role: 'admin', body: () => ({ user_id: `mx-${uid()}` }) },
  'GET /v1/coupons': { ...tenantWide, query: (f) => ({ user_id: f.userId }) },
  'GET /v1/coupons/available': { ...tenantWide, query: (f) => ({ user_id: f.userId }) },
  'POST /v1/coupons/available': { ...tenantWide, role: 'readonly', body: (f) => ({ user_id: f.userId, cart: { lines: [{ item_id: 'sku', unit_price: 1000, quantity: 1 }] } }) },
  'GET /v1/coupons/{coupon_id}': tenantWide,
  'POST /v1/coupons/{coupon_id}/void': { ...tenantWide, role: 'admin', body: () => ({}) },
  'POST /v1/coupons/{coupon_id}/lock': { ...tenantWide, body: (f) => ({ order_id: `mx-${uid()}`, user_id: f.userId, cart: { lines: [{ item_id: 'sku', unit_price: 1000, quantity: 1 }] } }) },
  'POST /v1/coupons/{coupon_id}/commit': { ...tenantWide, body: () => ({ order_id: 'mx-order' }) },
  'POST /v1/coupons/{coupon_id}/release': { ...tenantWide, body: () => ({ order_id: 'mx-order' }) },
  'POST /v1/coupons/{coupon_id}/refund': { ...tenantWide, body: () => ({ order_id: 'mx-order' }) },
  'POST /v1/promotions': { ...tenantWide, role: 'admin', body: () => promotionMatrixBody() },
  'GET /v1/promotions': tenantWide,
  'GET /v1/promotions/{promotion_id}': tenantWide,
  'PUT /v1/promotions/{promotion_id}': { ...tenantWide, role: 'admin', body: () => ({ name: 'mx' }) },
  'POST /v1/promotions/{promotion_id}/end': { ...tenantWide, role: 'admin' },
  'POST /v1/promotions/{promotion_id}/eligibility': { ...tenantWide, role: 'readonly', body: (f) => ({ user_id: f.userId, item_id: 'sku' }) },
  'POST /v1/promotions/{promotion_id}/discount': { ...tenantWide, role: 'readonly', body: (f) => ({ user_id: f.userId, cart: { lines: [{ item_id: 'sku', unit_price: 1000, quantity: 1 }] } }) },
  'POST /v1/promotions/{promotion_id}/reserve': { ...tenantWide, body: (f) => ({ user_id: f.userId, order_id: `mx-${uid()}`, item_id: 'sku', quantity: 1 }) },
  'POST /v1/promotions/{promotion_id}/commit': { ...tenantWide, body: () => ({ order_id: 'mx-order' }) },
  'POST /v1/promotions/{promotion_id}/release': { ...tenantWide, body: () => ({ order_id: 'mx-order' }) },
  'POST /v1/promotions/{promotion_id}/refund': { ...tenantWide, body: () => ({ order_id: 'mx-order' }) },
  'POST /v1/checkout/quote': { ...tenantWide, role: 'readonly', body: (f) => ({ user_id: f.userId, cart: { lines: [{ item_id: 'sku', unit_price: 1000, quantity: 1 }] } }) },
  'POST /v1/checkout/orders': { ...tenantWide, body: (f) => ({ user_id: f.userId, order_id: `mx-${uid()}`, cart: { lines: [{ item_id: 'sku', unit_price: 1000, quantity: 1 }] }, quote_hash: 'mx' }) },
  'GET /v1/checkout/orders/{order_id}': tenantWide,
  'POST /v1/checkout/orders/{order_id}/commit': tenantWide,
  'POST /v1/checkout/orders/{order_id}/release': tenantWide,
  'POST /v1/checkout/orders/{order_id}/refund': tenantWide,
  'GET /v1/checkout/stats': tenantWide,
  'POST /v1/sync/targets': { ...tenantWide, role: 'admin', body: () => syncTargetBody() },
  'GET /v1/sync/targets': tenantWide,
  'GET /v1/sync/targets/{target_id}': tenantWide,
  'PUT /v1/sync/targets/{target_id}': { ...tenantWide, role: 'admin', body: () => ({ name: 'mx' }) },
  'DELETE /v1/sync/targets/{target_id}': { ...tenantWide, role: 'admin' },
  'POST /v1/sync/targets/{target_id}/check': { ...tenantWide, role: 'admin' },
  'GET /v1/sync/status/{order_id}': tenantWide,
  'POST /v1/sync/retry/{order_id}': tenantWide,
  'GET /v1/sync/records': tenantWide,
  'GET /api/v1/sync/status/{orderId}': tenantWide,
  'POST /api/v1/sync/retry/{orderId}': tenantWide,
  // Referral posters: the victim's campaign (product p2); nothing is written, readonly keys may.
  // Also keyless for a campaign the referral hub publishes (scoped by the referral module, not by a key).
  'POST /api/v1/qrcode/generate': { auth: 'optional', role: 'readonly', body: (f) => ({ campaign_id: f.campaignId, user_id: f.userId, channel_id: 'mx' }) },
  'POST /v1/posters': { role: 'readonly', body: (f) => ({ campaign_id: f.campaignId, user_id: f.userId }) },
  // WeChat sign-in names an app no tenant configured (404): the matrix never calls WeChat.
  'POST /api/v1/auth/wechat': { ...tenantWide, auth: 'optional', body: () => ({ code: 'mx-code', app_id: 'wx00000000000000aa' }) },
  'POST /v1/auth/wechat': { ...tenantWide, body: () => ({ code: 'mx-code', app_id: 'wx00000000000000aa' }) },
  'PUT /v1/wechat/apps/{app_id}': { ...tenantWide, role: 'admin', body: () => ({ secret: 'mx-secret-0123456789' }) },
  'GET /v1/wechat/apps/{app_id}': { ...tenantWide, role: 'admin' },
  // WeChat Pay merchant credentials: the key's own tenant's, admin keys only (they hold secrets).
  'PUT /v1/payments/wechat-pay': { ...tenantWide, role: 'admin', body: () => matrixMerchant },
  'GET /v1/payments/wechat-pay': { ...tenantWide, role: 'admin' },
  // Uploaded images: the upload and the listing are the tenant's; the image itself is public (its URL is its content hash).
  'POST /v1/media': { ...tenantWide, role: 'admin', upload: { type: 'image/png', payload: () => 'not an image' } },
  'GET /v1/media': tenantWide,
  'GET /media/{file}': { auth: 'public' },
  'DELETE /v1/payments/wechat-pay': { ...tenantWide, role: 'admin' },
  // Referral hub: settings and funnel of the victim's campaign (product p2); rewards of a user of the tenant.
  'PUT /v1/campaigns/{campaign_id}/referral': { role: 'admin', body: () => ({ reward_rule: { type: 'fixed', amount: 100 }, payment: { amount: 1000, currency: 'CNY', provider: 'sandbox' } }) },
  'GET /v1/campaigns/{campaign_id}/referral': {},
  'GET /v1/campaigns/{campaign_id}/funnel': {},
  'GET /v1/referrals/rewards/balance/{userId}': tenantWide,
  'GET /v1/referrals/rewards/{userId}': tenantWide,
  // The referral landing page's keyless routes: scoped to a published campaign by id, never by key.
  'GET /api/v1/campaigns/{id}/form': { auth: 'public' },
  'POST /api/v1/campaigns/{id}/views': { auth: 'public', body: () => ({ c_id: 'mx' }) },
  'POST /api/v1/orders': { auth: 'public', body: (f) => ({ campaign_id: f.campaignId, phone: '13900000000', form_data: {} }) },
  'GET /api/v1/orders/{id}': { auth: 'public' },
  'POST /api/v1/orders/{id}/pay': { auth: 'public', body: () => ({}) },
  'POST /api/v1/orders/{id}/sandbox-pay': { auth: 'public' },
  'POST /api/v1/orders/payment/callback': { auth: 'public', body: () => ({ id: 'mx' }) },
  'POST /api/v1/orders/payment/notify': { auth: 'public', body: () => ({ id: 'mx' }) },
  'GET /api/v1/rewards/balance/{userId}': tenantWide,
  // The document's campaign paths: a campaign with referral settings (p2); writes are admin's, as the settings PUT.
  'POST /api/v1/campaigns': { role: 'admin', body: () => ({ name: 'mx', product_code: 'p2', form_fields: { type: 'object' }, reward_rule: 0.1, payment: { amount: 1000, provider: 'sandbox' } }) },
  'GET /api/v1/campaigns': {},
  'GET /api/v1/campaigns/{id}': {},
  'PUT /api/v1/campaigns/{id}': { role: 'admin', body: () => ({ name: 'mx' }) },
  'DELETE /api/v1/campaigns/{id}': { role: 'admin' },
  'GET /api/v1/rewards/{userId}': { ...tenantWide, query: (f) => ({ campaign_id: f.campaignId }) },
  // Referral withdrawals (the tenant's backend requests, admin keys decide) and refunds (admin keys).
  'POST /v1/referrals/withdrawals': { ...tenantWide, body: (f) => ({ user_id: f.userId, amount: 1 }) },
  'GET /v1/referrals/withdrawals': tenantWide,
  'GET /v1/referrals/withdrawals/{withdrawal_id}': tenantWide,
  'POST /v1/referrals/withdrawals/{withdrawal_id}/approve': { ...tenantWide, role: 'admin', body: () => ({ note: 'mx' }) },
  'POST /v1/referrals/withdrawals/{withdrawal_id}/reject': { ...tenantWide, role: 'admin', body: () => ({ reason: 'mx' }) },
  'POST /api/v1/rewards/withdraw': { ...tenantWide, body: (f) => ({ user_id: f.userId, amount: 1 }) },
  'POST /v1/referrals/orders/{order_id}/refund': { ...tenantWide, role: 'admin', body: () => ({}) },
  'GET /v1/referrals/orders': tenantWide,
  'GET /v1/referrals/orders/{order_id}': tenantWide,
  'GET /marketing/coupons/available': { ...tenantWide, query: (f) => ({ user_id: f.userId }) },
  // Console sign-in: cookie sessions, no key (a wrong password is 401; no cookie is 401).
  'POST /v1/console/session': { auth: 'public', body: () => ({ email: 'nobody@mx.test', password: 'not a password' }) },
  'GET /v1/console/session': { auth: 'public' },
  'DELETE /v1/console/session': { auth: 'public' },
  'POST /v1/console/password': { auth: 'public', body: () => ({ current_password: 'not a password', new_password: 'mx-new-password' }) },
  // Operators and the audit log: a tenant's admin for its tenant, the master key for any.
  'POST /v1/operators': { auth: 'any', role: 'admin', scope: 'tenant', body: () => ({ email: `mx-${uid()}@mx.test`, password: 'mx-password-1' }) },
  'GET /v1/operators': { auth: 'any', role: 'admin', scope: 'tenant' },
  'GET /v1/operators/{operator_id}': { auth: 'any', role: 'admin', scope: 'tenant' },
  'PATCH /v1/operators/{operator_id}': { auth: 'any', role: 'admin', scope: 'tenant', body: () => ({ name: 'mx' }) },
  'DELETE /v1/operators/{operator_id}': { auth: 'any', role: 'admin', scope: 'tenant' },
  'GET /v1/audit-log': { auth: 'any', role: 'admin', scope: 'tenant' },
  'POST /marketing/coupons/{coupon_id}/use': { ...tenantWide, body: (f) => ({ order_id: `mx-${uid()}`, user_id: f.userId, order_amount: 1000 }) },
};

function groupBuyActivityBody() {
  const now = Date.now();
  return { name: 'G', item_id: 'sku', group_price: 100, original_price: 200, group_size: 10, start_time: new Date(now - 60_000).toISOString(), end_time: new Date(now + 86_400_000).toISOString() };
}

const uid = () => randomBytes(5).toString('hex');
// A sync target on a closed local port (the check answers ok: false; nothing is ever delivered).
const syncTargetBody = () => ({
  name: 'mx', type: 'postgresql', host: '127.0.0.1', port: 9, user: 'mx', password: `pw-${uid()}`, database: 'mx',
  mappings: { order: { table: 'mx_orders', key_column: 'order_key', fields: { 'orders.phone': 'phone' } } },
});
const RANK: Record<Role, number> = { readonly: 0, service: 1, admin: 2 };

describe('permission matrix: every route x every caller', () => {
  it('leaks nothing: another tenant, readonly, service, product-limited, revoked, no key, master, idempotent replays', async () => {
    const app = await testApp();
    const spec = must(await app.call('GET', '/openapi.json'), 200).body as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.filter((op) => !RULES[op]), 'operations of /openapi.json without a rule in the matrix: classify them').toEqual([]);
    expect(Object.keys(RULES).filter((op) => !operations.includes(op) && !op.startsWith('GET /health') && !op.startsWith('GET /metrics')), 'rules of no route').toEqual([]);

    const victim = await app.newTenant({ productCodes: ['p2', 'p1'] });
    const f = await buildFixtures(app, victim);
    const outsider = await app.newTenant({ productCodes: ['p1'] });
    const keyOf = async (body: Record<string, unknown>) => must(await app.call('POST', `/v1/tenants/${victim.tenantId}/api-keys`, body), 201).body.key as string;
    const limited = await keyOf({ name: 'p1 only', role: 'service', product_codes: ['p1'] });
    const revokedKey = must(await app.call('POST', `/v1/tenants/${victim.tenantId}/api-keys`, { name: 'gone', role: 'admin' }), 201).body;
    must(await app.call('DELETE', `/v1/tenants/${victim.tenantId}/api-keys/${revokedKey.key_id}`), 200);
    const keys: Record<Caller, string | null> = {
      outsider: outsider.admin,
      readonly: victim.readonly,
      service: victim.service,
      limited,
      revoked: revokedKey.key as string,
      none: null,
      master: app.master,
    };
    const productMarkers = [f.userId, f.campaignId, f.hubCampaignId, f.rewardId, f.reservationId, f.grantId, f.batchId, f.audienceId, f.taskId, f.spareTaskId, ...f.codes];
    const tenantMarkers = [f.tenantId, f.keyId, f.userSecret, f.templateId, f.outreachCampaignId, f.runId, f.recordId, f.providerId, f.activityId, f.groupId, f.couponTemplateId, f.couponId, f.promotionId, f.orderId, f.syncTargetId, f.withdrawalId, f.operatorId, ...productMarkers];

    // Reads first, destructive calls last (a sub-resource before its parent), so the fixtures
    // exist for as long as possible.
    const weight = (op: string) => (op.startsWith('GET') ? 0 : op.startsWith('DELETE') ? 2 : 1);
    const ordered = [...operations].sort((a, b) => weight(a) - weight(b) || (weight(a) === 2 ? b.length - a.length : 0));
    const failures: string[] = [];
    let requests = 0;

    for (const op of ordered) {
      const rule = RULES[op]!;
      const [method, template] = op.split(' ') as [string, string];
      const url = fillPath(template, f);
      const request = buildRequest(rule, f);
      const sent = `${url} ${JSON.stringify(request.query ?? {})} ${request.payload ?? ''}`;
      const idemKey = method === 'POST' && !rule.upload ? `mx-${uid()}` : undefined;
      let original: Reply | undefined;
      if (idemKey && rule.auth !== 'public') {
        original = await app.call(method as 'POST', url, undefined, { key: victim.admin, ...withHeaders(request, { 'idempotency-key': idemKey }) });
        requests += 1;
      }
      for (const caller of CALLERS) {
        // Once on its own (the route's checks decide), and for a POST once more resending the
        // victim admin's Idempotency-Key and body (the stored answer must not come back).
        for (const headers of (idemKey ? [{}, { 'idempotency-key': idemKey }] : [{}]) as Record<string, string>[]) {
          const reply = await app.call(method as 'GET', url, undefined, { key: keys[caller], ...withHeaders(request, headers) });
          requests += 1;
          const problem = judge({ op, rule, method, caller, reply, sent, original, tenantMarkers, productMarkers, template });
          const how = 'idempotency-key' in headers ? ' (replay)' : '';
          if (problem) failures.push(`${op} as ${caller}${how}: ${problem} -> ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
        }
      }
    }
    console.log(`permission matrix: ${requests} requests, ${operations.length} operations x ${CALLERS.length} callers, ${failures.length} leaks`);
    expect(failures).toEqual([]);
  }, 120_000);
});

interface Judged {
  op: string;
  rule: Rule;
  method: string;
  caller: Caller;
  reply: Reply;
  sent: string;
  original: Reply | undefined;
  tenantMarkers: string[];
  productMarkers: string[];
  template: string;
}

/** The leak or wrong answer in one reply, or undefined. */
function judge(j: Judged): string | undefined {
  const { rule, method, caller, reply } = j;
  const auth = rule.auth ?? 'tenant';
  const role = rule.role ?? (method === 'GET' ? 'readonly' : 'service');
  const ok = reply.status >= 200 && reply.status < 300;
  if (reply.status >= 500) return 'server error';
  if (reply.headers['idempotent-replayed']) return "replayed another key's Idempotency-Key answer";
  // A created resource (201) is new each time: the same body again is the stored answer.
  if (ok && j.original?.status === 201 && JSON.stringify(reply.body) === JSON.stringify(j.original.body)) return "got another key's stored answer";
  if (auth === 'public') return undefined;
  // `optional`: without a key the route scopes the call to a published campaign itself; a key is checked as for `tenant`.
  if (auth === 'optional' && caller === 'none') return undefined;
  if (caller === 'none' || caller === 'revoked') return reply.status === 401 ? undefined : 'expected 401';
  if (caller === 'master') {
    if (auth === 'tenant' || auth === 'optional') return reply.status === 403 ? undefined : 'master key on a tenant route: expected 403';
    return undefined;
  }
  if (auth === 'master') return reply.status === 403 ? undefined : 'tenant key on a master route: expected 403';

  const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? null);
  // A victim resource named in the answer that the caller did not send is a leak.
  const named = (markers: string[]) => markers.find((m) => body.includes(m) && !j.sent.includes(m));
  // Path parameters other than a user id or a product code (names in each tenant's own namespace)
  // point at victim resources.
  // A WeChat AppID (app_id) is issued by WeChat, not named by the victim: another tenant may configure the same one.
  const victimInPath = /\{(?!user_id\}|userId\}|product_code\}|app_id\})[A-Za-z_]+\}/.test(j.template);

  if (caller === 'outsider') {
    if (victimInPath && ok) return "another tenant's key reached a victim resource";
    const leaked = named(j.tenantMarkers);
    return leaked ? `another tenant's key saw ${leaked}` : undefined;
  }
  const keyRole: Role = caller === 'readonly' ? 'readonly' : 'service';
  if (RANK[keyRole] < RANK[role]) return reply.status === 403 ? undefined : `${caller} key below the ${role} role: expected 403`;
  if (caller === 'limited' && (rule.scope ?? 'product') === 'product') {
    if (victimInPath && ok) return 'product-limited key reached a p2 resource';
    const leaked = named(j.productMarkers);
    if (leaked) return `product-limited key saw ${leaked}`;
    if (ok && hasProduct(reply.body, 'p2')) return 'product-limited key got an item of p2';
  }
  return undefined;
}

/** Whether any object in `value` has product_code === `code` (every item of a list is looked at). */
function hasProduct(value: unknown, code: string): boolean {
  if (Array.isArray(value)) return value.some((v) => hasProduct(v, code));
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o.product_code === code) return true;
    return Object.values(o).some((v) => hasProduct(v, code));
  }
  return false;
}

function fillPath(template: string, f: Fixtures): string {
  // Outreach campaigns are not the campaigns of /v1/campaigns.
  const outreach = template.startsWith('/v1/outreach/') || template.startsWith('/api/marketing/');
  const values: Record<string, string> = {
    tenant_id: f.tenantId,
    key_id: f.keyId,
    kid: 'kid_mx',
    product_code: 'p2',
    campaign_id: outreach ? f.outreachCampaignId : f.campaignId,
    id: template === '/api/v1/campaigns/{id}' ? f.hubCampaignId : f.outreachCampaignId,
    run_id: f.runId,
    record_id: f.recordId,
    provider_id: f.providerId,
    reward_id: f.rewardId,
    reservation_id: f.reservationId,
    grant_id: f.grantId,
    batch_id: f.batchId,
    code: f.codes[1]!,
    user_id: f.userId,
    audience_id: f.audienceId,
    template_id: f.templateId,
    task_id: f.taskId,
    activity_id: f.activityId,
    group_id: f.groupId,
    coupon_template_id: f.couponTemplateId,
    coupon_id: f.couponId,
    promotion_id: f.promotionId,
    order_id: f.orderId,
    app_id: 'wx00000000000000bb',
    // The product document's camelCase path parameters.
    orderId: f.orderId,
    userId: f.userId,
    target_id: f.syncTargetId,
    withdrawal_id: f.withdrawalId,
    operator_id: f.operatorId,
    file: `${'0'.repeat(64)}.png`,
  };
  return template.replace(/\{([A-Za-z_]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no fixture for path parameter {${name}}: add one`);
    return encodeURIComponent(value);
  });
}

interface Built {
  payload?: string;
  headers: Record<string, string>;
  query?: Record<string, string>;
}

function buildRequest(rule: Rule, f: Fixtures): Built {
  const query = rule.query?.(f);
  if (rule.upload) return { payload: rule.upload.payload(f), headers: { 'content-type': rule.upload.type }, ...(query ? { query } : {}) };
  const body = rule.body?.(f);
  return { ...(body !== undefined ? { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : { headers: {} }), ...(query ? { query } : {}) };
}

function withHeaders(b: Built, extra: Record<string, string>) {
  return { headers: { ...b.headers, ...extra }, ...(b.payload !== undefined ? { payload: b.payload } : {}), ...(b.query ? { query: b.query } : {}) };
}

/** One of each resource in the victim tenant, all of product p2 (the victim's first product). */
async function buildFixtures(app: TestApp, t: TenantFixture): Promise<Fixtures & { userSecret: string }> {
  const userId = `vu-${uid()}`;
  const userSecret = `secret-${uid()}`;
  const keyId = must(await app.call('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: 'target', role: 'service' }), 201).body.key_id as string;
  const campaign = await newCampaign(t, { product_code: 'p2' });
  must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
  const rewardBody = { reward_name: 'R', reward_type: 'POINTS', product_code: 'p2', campaign_id: campaign.campaign_id, total_stock: 1000, config: { generator: { points: 5 } } };
  const rewardId = must(await t.call('POST', '/v1/rewards', rewardBody), 201).body.reward_id as string;
  const reservationId = must(await t.call('POST', '/v1/inventory/reserve', { reward_id: rewardId, quantity: 1, user_id: userId }), 201).body.reservation_id as string;
  const grantId = must(await t.call('POST', '/v1/reward-grants', { reward_id: rewardId, user_id: userId }), 201).body.grant_id as string;
  const batch = must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/redeem-codes`, { reward_id: rewardId, count: 4, code_type: 'ALPHANUM', length: 12 }), 201).body;
  const codes = batch.codes as string[];
  must(await t.call('POST', '/v1/redeem', { code: codes[0], user_id: userId }), 201);
  must(await t.call('PUT', `/v1/customers/${userId}`, { attributes: { note: userSecret }, tags: ['vip'] }), 201);
  const audienceId = must(await t.call('POST', '/v1/audiences', { audience_name: 'A', audience_type: 'LIST', product_code: 'p2' }), 201).body.audience_id as string;
  must(await t.call('POST', `/v1/audiences/${audienceId}/members`, { user_ids: [userId] }), 200);
  const task = await linkedTask(t, campaign.campaign_id, { product_code: 'p2', reward_id: rewardId });
  must(await t.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: userId, product_code: 'p2' }), 200);
  const spare = must(await t.call('POST', '/v1/tasks', taskBody({ product_code: 'p2', task_name: 'spare' })), 201).body.task_id as string;
  const templateBody = { name: 'T', channel: 'sms', content: { text: '[客户姓名] {{ customer.attributes.note }}' } };
  const templateId = must(await t.call('POST', '/v1/outreach/templates', templateBody), 201).body.template_id as string;
  const providerBody = { name: 'P', kind: 'webhook', config: { url: 'http://127.0.0.1:9/p' }, secrets: { secret: 'p'.repeat(32) } };
  const providerId = must(await t.call('POST', '/v1/outreach/providers', providerBody, { key: t.admin }), 201).body.provider_id as string;
  const outreachBody = { name: 'O', channel: 'sms', target_tags: ['vip'], content: { text: '[客户姓名] {{ customer.attributes.note }}' } };
  const outreachCampaignId = must(await t.call('POST', '/v1/outreach/campaigns', outreachBody), 201).body.campaign_id as string;
  // A simulation: one record (the user is tagged vip), sent to nobody.
  const runId = must(await t.call('POST', `/v1/outreach/campaigns/${outreachCampaignId}/trigger`, { execution_type: 'simulation' }), 202).body.run_id as string;
  await (app.app.services.outreach as { dispatcher: { drain(o: { tenantId: string }): Promise<number> } }).dispatcher.drain({ tenantId: t.tenantId });
  const recordId = must(await t.call('GET', '/v1/outreach/records', undefined, { query: { run_id: runId } }), 200).body.records[0].record_id as string;
  const activityId = must(await t.call('POST', '/v1/group-buys/activities', groupBuyActivityBody(), { key: t.admin }), 201).body.activity_id as string;
  const groupId = must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: userId }), 201).body.group_id as string;
  const couponTemplateId = must(await t.call('POST', '/v1/coupons/templates', { name: 'C', coupon_type: 'discount', value: 100, refund_returns: true }, { key: t.admin }), 201).body.template_id as string;
  const couponId = must(await t.call('POST', `/v1/coupons/templates/${couponTemplateId}/claim`, { user_id: userId }), 201).body.coupon_id as string;
  // A flash sale running now (ends in a day) with stock enough for every request of the matrix.
  const promotionId = must(await t.call('POST', '/v1/promotions', promotionMatrixBody(), { key: t.admin }), 201).body.promotion_id as string;
  // A checkout order holding nothing (a cart no promotion covers).
  const orderCart = { lines: [{ item_id: 'mx-none', unit_price: 500, quantity: 1 }] };
  const orderQuote = must(await t.call('POST', '/v1/checkout/quote', { user_id: userId, cart: orderCart }), 200).body;
  const orderId = must(await t.call('POST', '/v1/checkout/orders', { user_id: userId, cart: orderCart, order_id: `mx-order-${uid()}`, quote_hash: orderQuote.quote_hash }), 200).body.order_id as string;
  // A sync target, and sync records of the order (skipped ones, as a payment without a target would write).
  const syncTargetId = must(await t.call('POST', '/v1/sync/targets', syncTargetBody(), { key: t.admin }), 201).body.target_id as string;
  // A pending referral withdrawal of the user (its BALANCE credited first).
  must(await t.call('POST', `/v1/users/${userId}/ledger/adjust`, { asset: 'BALANCE', amount: 100_000, reason: 'mx' }, { key: t.admin }), 201);
  const withdrawalId = must(await t.call('POST', '/v1/referrals/withdrawals', { user_id: userId, amount: 100 }), 201).body.withdrawal_id as string;
  const hubBody = { name: 'H', product_code: 'p2', form_fields: { type: 'object' }, reward_rule: 0.1, payment: { amount: 1000, provider: 'sandbox' } };
  const hubCampaignId = must(await t.call('POST', '/api/v1/campaigns', hubBody, { key: t.admin }), 201).body.id as string;
  await runTransaction(app.database.db, (trx) => app.app.services.sync.enqueue(trx, { tenant_id: t.tenantId, kind: 'reward', record_id: `mx-${uid()}`, order_id: orderId, record: {} }));
  const operatorId = must(await t.call('POST', '/v1/operators', { email: `victim-${uid()}@mx.test`, password: 'victim-password', role: 'admin' }, { key: t.admin }), 201).body.operator_id as string;
  const dashless = codes.map((c) => c.replaceAll('-', ''));
  return {
    operatorId,
    activityId,
    groupId,
    couponTemplateId,
    couponId,
    promotionId,
    orderId,
    syncTargetId,
    withdrawalId,
    hubCampaignId,
    templateId,
    outreachCampaignId,
    runId,
    recordId,
    providerId,
    tenantId: t.tenantId,
    userId,
    userSecret,
    keyId,
    campaignId: campaign.campaign_id,
    rewardId,
    reservationId,
    grantId,
    batchId: batch.batch_id,
    codes: [...codes, ...dashless.filter((c) => !codes.includes(c))],
    audienceId,
    taskId: task.task_id,
    spareTaskId: spare,
  };
}
