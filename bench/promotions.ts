/**
 * bench/promotions: the quote and the checkout on PostgreSQL, printed as ratios to baselines
 * measured in the same run (absolute figures on a shared 2-core machine are noise; ratios are not).
 *
 *   npx tsx bench/promotions.ts        (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 *
 * 1. HTTP ceiling: a bare Fastify process (bench/http-ceiling.ts) answering a small 409 to the
 *    same 20-line cart body: what one Node process can answer at all on this machine.
 * 2. Quote: POST /v1/checkout/quote of a 20-line cart against 50 live promotions, with the
 *    user's wallet of 10 coupons (use_wallet), distinct users of one wallet-holding pool.
 * 3. Hot grant: POST /v1/reward-grants on one reward, distinct users (the hot case of bench/grants).
 * 4. Checkout: POST /v1/checkout/orders of one flash-sale item, distinct users and orders, each
 *    holding one unit of the item's stock in its transaction.
 * Only 200s count for quotes and checkouts, only 201s for grants; other answers are printed.
 */
import autocannon from 'autocannon';
import pg from 'pg';
import { admin, apiCaller, startProcess, startServer, withDatabase } from './support.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const DURATION = Number(process.env.BENCH_SECONDS ?? 15);
const POOL = Number(process.env.BENCH_POOL ?? 32);
const MASTER = 'bench-master-key-0123456789abcdefghij';
const WALLET_USERS = 50;

interface Result {
  name: string;
  ok: number;
  other: number;
  perSecond: number;
  p50: number;
  p99: number;
  codes: string;
}

const HOUR = 3_600_000;

function cart() {
  return {
    lines: Array.from({ length: 20 }, (_, i) => ({ item_id: `sku-${i}`, category_id: `cat-${i % 4}`, unit_price: 1000 + i * 137, quantity: 1 + (i % 3) })),
    shipping_fee: 800,
  };
}

async function prepare(base: string) {
  const call = apiCaller(base);
  await call('POST', '/v1/tenants', MASTER, { tenant_id: 'bench', name: 'Bench' });
  const key = (await call('POST', '/v1/tenants/bench/api-keys', MASTER, { name: 'bench', role: 'admin' })).key as string;
  await call('POST', '/v1/apps', key, { product_code: 'app1', name: 'App' });
  const start = new Date(Date.now() - HOUR).toISOString();
  const end = new Date(Date.now() + 24 * HOUR).toISOString();
  const window = { start_time: start, end_time: end };
  // 50 live promotions: 10 flash sales (3 on cart items), 30 bulk discounts over categories and
  // items (in 5 stacking groups and ungrouped), 10 gifts. Some apply to the cart, most do not.
  for (let i = 0; i < 10; i++) {
    await call('POST', '/v1/promotions', key, { name: `flash ${i}`, promotion_type: 'flash_sale', ...window, priority: i, flash_sale: { items: [{ item_id: i < 3 ? `sku-${i * 5}` : `other-${i}`, discount_rate: 0.8, stock: 1_000_000_000 }] } });
  }
  for (let i = 0; i < 30; i++) {
    const scope = i % 3 === 0 ? { all: true } : i % 3 === 1 ? { category_ids: [`cat-${i % 4}`] } : { item_ids: [`other-${i}`] };
    await call('POST', '/v1/promotions', key, {
      name: `bulk ${i}`,
      promotion_type: 'bulk_discount',
      ...window,
      scope,
      priority: i % 7,
      ...(i % 2 === 0 ? { stacking_group: `store-${i % 5}` } : {}),
      bulk_discount: { tiers: [{ threshold: 5000 + i * 1000, off: 300 + i * 20 }, { threshold: 20000 + i * 1000, off: 1500 + i * 20 }] },
    });
  }
  for (let i = 0; i < 10; i++) {
    await call('POST', '/v1/promotions', key, { name: `gift ${i}`, promotion_type: 'gift', ...window, stacking_group: 'gifts', gift: { min_amount: 10000 + i * 5000, gift_item_id: `gift-${i}`, gift_stock: 1_000_000 } });
  }
  // 10 coupon templates; every wallet user holds one of each.
  const templates: string[] = [];
  for (let i = 0; i < 10; i++) {
    const body =
      i % 3 === 0
        ? { name: `fixed ${i}`, coupon_type: 'discount', value: 200 + i * 50, min_amount: 3000 * i, stacking_group: 'platform' }
        : i % 3 === 1
          ? { name: `percent ${i}`, coupon_type: 'discount', discount_kind: 'percent', value: 5 + i, max_discount: 2000, stacking_group: 'platform' }
          : { name: `shipping ${i}`, coupon_type: 'shipping', value: 0, min_amount: 1000 * i, stacking_group: 'shipping' };
    templates.push((await call('POST', '/v1/coupons/templates', key, body)).template_id as string);
  }
  for (let u = 0; u < WALLET_USERS; u++) for (const t of templates) await call('POST', `/v1/coupons/templates/${t}/issue`, key, { user_id: `wallet-${u}` });
  // The checkout's flash-sale item and the grant's hot reward.
  const flash = (await call('POST', '/v1/promotions', key, { name: 'checkout flash', promotion_type: 'flash_sale', ...window, flash_sale: { items: [{ item_id: 'hot-item', special_price: 1, stock: 1_000_000_000 }] } })).promotion_id as string;
  const campaign = await call('POST', '/v1/campaigns', key, { product_code: 'app1', campaign_name: 'Bench', campaign_type: 'FLASH_SALE' });
  await call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`, key);
  const reward = (await call('POST', '/v1/rewards', key, { reward_name: 'points', reward_type: 'POINTS', product_code: 'app1', campaign_id: campaign.campaign_id, total_stock: 1_000_000_000, config: { generator: { points: 10 }, validator: { per_user_limit: 1 } } })).reward_id as string;
  const checkoutCart = { lines: [{ item_id: 'hot-item', unit_price: 9900, quantity: 1 }] };
  const q = await call('POST', '/v1/checkout/quote', key, { user_id: 'probe', cart: checkoutCart });
  const sample = await call('POST', '/v1/checkout/quote', key, { user_id: 'wallet-0', cart: cart(), use_wallet: true });
  return { key, reward, flash, checkoutCart, quoteHash: q.quote_hash as string, sample };
}

async function load(name: string, url: string, key: string, body: () => string, expect: number, duration = DURATION): Promise<Result> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration,
    requests: [{ method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: body() }) }],
  });
  const ok = result.statusCodeStats?.[String(expect) as '200']?.count ?? 0;
  const codes = Object.entries(result.statusCodeStats ?? {})
    .map(([code, s]) => `${code}:${(s as { count: number }).count}`)
    .join(' ');
  return { name, ok, other: result.requests.total - ok, perSecond: ok / result.duration, p50: result.latency.p50, p99: result.latency.p99, codes };
}

async function main(): Promise<void> {
  const dbName = `mh_bench_${Date.now().toString(36)}`;
  await admin(ADMIN_URL, `create database ${dbName}`);
  const url = withDatabase(ADMIN_URL, dbName);
  const server = await startServer({ DATABASE_URL: url, MARKETING_MASTER_KEY: MASTER, MARKETING_DB_POOL_SIZE: String(POOL) });
  let n = 0;
  try {
    const s = await prepare(server.url);
    const applied = (s.sample as unknown as { applied: unknown[]; not_applied: unknown[] }).applied.length;
    const notApplied = (s.sample as unknown as { not_applied: unknown[] }).not_applied.length;
    console.log(`setup: 51 promotions, ${WALLET_USERS} users x 10 coupons; a wallet quote of the 20-line cart applies ${applied} offers and lists ${notApplied} not applied`);
    const quoteBody = () => JSON.stringify({ user_id: `wallet-${n++ % WALLET_USERS}`, cart: cart(), use_wallet: true });
    const results: Result[] = [];
    const bare = await startProcess(['--import', 'tsx', 'bench/http-ceiling.ts']);
    try {
      results.push(await load('http ceiling (bare Fastify, same body)', `${bare.url}/v1/reward-grants`, 'none', quoteBody, 409));
    } finally {
      await bare.stop();
    }
    // Warm-up, not counted: JIT, caches, the pool.
    await load('warm-up', `${server.url}/v1/checkout/quote`, s.key, quoteBody, 200, Math.min(5, DURATION));
    results.push(await load('quote (20 lines, 50 promotions, 10 coupons)', `${server.url}/v1/checkout/quote`, s.key, quoteBody, 200));
    await load('warm-up', `${server.url}/v1/reward-grants`, s.key, () => JSON.stringify({ reward_id: s.reward, user_id: `warm-${n++}` }), 201, Math.min(5, DURATION));
    results.push(await load('hot grant (1 reward)', `${server.url}/v1/reward-grants`, s.key, () => JSON.stringify({ reward_id: s.reward, user_id: `g-${n++}` }), 201));
    const checkoutBody = () => {
      const i = n++;
      return JSON.stringify({ user_id: `c-${i}`, order_id: `order-${i}`, cart: s.checkoutCart, quote_hash: s.quoteHash });
    };
    await load('warm-up', `${server.url}/v1/checkout/orders`, s.key, checkoutBody, 200, Math.min(5, DURATION));
    results.push(await load('checkout (1 flash-sale item)', `${server.url}/v1/checkout/orders`, s.key, checkoutBody, 200));
    report(results, await verify(url, s.flash));
  } finally {
    await server.stop();
    if (process.env.BENCH_KEEP) console.log(`kept database ${dbName} (BENCH_KEEP)`);
    else await admin(ADMIN_URL, `drop database if exists ${dbName} with (force)`);
  }
}

/** The flash item's sold count must equal its reserved units and the checkout orders that hold it (read in one statement, after the last request settled). */
async function verify(url: string, promotionId: string): Promise<string> {
  await new Promise((r) => setTimeout(r, 2000));
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const { rows } = await c.query(
    `select (select sold from promotion_item where promotion_id = $1) as sold,
            (select coalesce(sum(quantity), 0) from promotion_reservation where promotion_id = $1 and status = 'reserved') as reserved,
            (select count(*) from checkout_order_offer where offer_id = $1) as orders`,
    [promotionId],
  );
  await c.end();
  const [sold, reserved, orders] = [Number(rows[0].sold), Number(rows[0].reserved), Number(rows[0].orders)];
  return sold === reserved && reserved === orders ? `consistent (checkout item: ${sold} sold = ${reserved} reserved units = ${orders} orders)` : `INCONSISTENT: sold ${sold}, reserved ${reserved}, orders ${orders}`;
}

function report(results: Result[], consistency: string): void {
  const [bare, quote, grant, checkout] = results as [Result, Result, Result, Result];
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
  console.log(`\nbench/promotions  ${CONNECTIONS} connections, ${DURATION} s each, server pool ${POOL}, one API process, PostgreSQL\n`);
  console.log('case                                          ok/s     p50 ms  p99 ms   ok      other  statuses');
  for (const r of results) console.log(`${r.name.padEnd(44)} ${f(r.perSecond).padStart(6)}  ${String(r.p50).padStart(7)} ${String(r.p99).padStart(7)}  ${String(r.ok).padStart(7)} ${String(r.other).padStart(7)}  ${r.codes}`);
  const check = (label: string, value: number, target: number) => console.log(`  ${label.padEnd(44)} ${value.toFixed(2)}x  (target >= ${target}x)  ${value >= target ? 'met' : 'NOT met'}`);
  console.log('\nratios');
  check('quotes/s / http ceiling', quote.perSecond / bare.perSecond, 0.5);
  console.log(`  ${'quote p99'.padEnd(44)} ${quote.p99} ms  (target < 10 ms)  ${quote.p99 < 10 ? 'met' : 'NOT met'}`);
  check('checkouts/s / hot grants/s', checkout.perSecond / grant.perSecond, 1);
  console.log(`\n${consistency}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
