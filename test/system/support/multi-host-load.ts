import { Agent, type Dispatcher, fetch as undiciFetch } from 'undici';

/**
 * Requests for the multi-host tests, sent from the test process to the API hosts: plain fetch, a
 * tenant made through the API with the master key, parallel races spread over the hosts, and a
 * closed-loop load that measures throughput and latency percentiles.
 */
export interface Reply {
  status: number;
  body: any;
  /** Which API host answered (its index in the list). */
  host: number;
}

export async function call(
  baseUrl: string,
  method: string,
  path: string,
  key: string,
  body?: unknown,
  headers: Record<string, string> = {},
  dispatcher?: Dispatcher,
): Promise<{ status: number; body: any }> {
  const res = await undiciFetch(`${baseUrl}${path}`, {
    method,
    ...(dispatcher ? { dispatcher } : {}),
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** call() that throws on anything but 2xx. */
export async function must(baseUrl: string, method: string, path: string, key: string, body?: unknown): Promise<any> {
  const reply = await call(baseUrl, method, path, key, body);
  if (reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

export interface Tenant {
  key: string;
  productCode: string;
  campaignId: string;
}

/** A tenant with an admin key, an app and a published campaign, made through the first host. */
export async function createTenant(baseUrl: string, masterKey: string, tenantId: string): Promise<Tenant> {
  await must(baseUrl, 'POST', '/v1/tenants', masterKey, { tenant_id: tenantId, name: tenantId });
  const key = (await must(baseUrl, 'POST', `/v1/tenants/${tenantId}/api-keys`, masterKey, { name: 'multi-host', role: 'admin' })).key as string;
  await must(baseUrl, 'POST', '/v1/apps', key, { product_code: 'app1', name: 'App' });
  const campaign = await must(baseUrl, 'POST', '/v1/campaigns', key, {
    campaign_name: 'Multi-host',
    campaign_type: 'PROMOTION',
    product_code: 'app1',
    start_time: '2020-01-01T00:00:00Z',
    end_time: '2099-12-31T23:59:59Z',
  });
  await must(baseUrl, 'POST', `/v1/campaigns/${campaign.campaign_id}/publish`, key);
  return { key, productCode: 'app1', campaignId: campaign.campaign_id as string };
}

/** A POINTS reward of the tenant's campaign. */
export async function createReward(baseUrl: string, t: Tenant, o: { stock: number | null; points?: number; config?: Record<string, unknown> }): Promise<string> {
  const reward = await must(baseUrl, 'POST', '/v1/rewards', t.key, {
    reward_name: 'Multi-host points',
    reward_type: 'POINTS',
    product_code: t.productCode,
    campaign_id: t.campaignId,
    total_stock: o.stock,
    config: { generator: { points: o.points ?? 10 }, ...o.config },
  });
  return reward.reward_id as string;
}

/** One redeem code with `maxUses` uses, for a fresh unlimited reward. */
export async function createCode(baseUrl: string, t: Tenant, maxUses: number): Promise<{ code: string; rewardId: string }> {
  const rewardId = await createReward(baseUrl, t, { stock: null });
  const batch = await must(baseUrl, 'POST', `/v1/campaigns/${t.campaignId}/redeem-codes`, t.key, { code_type: 'ALPHANUM', length: 12, count: 1, reward_id: rewardId, max_uses: maxUses });
  return { code: (batch.codes as string[])[0]!, rewardId };
}

/**
 * `n` requests at once, request i to host i % hosts, over connections opened for this race: a
 * kept-alive connection left idle since the last test may be closed by the server just as a
 * request goes out on it, and a grant without an Idempotency-Key must not be sent twice.
 */
export async function race(urls: string[], n: number, send: (url: string, i: number, dispatcher: Dispatcher) => Promise<{ status: number; body: any }>): Promise<Reply[]> {
  const agent = new Agent();
  try {
    return await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const host = i % urls.length;
        return { ...(await send(urls[host]!, i, agent)), host };
      }),
    );
  } finally {
    await agent.close();
  }
}

/** Replies counted by `status` or `status code` (refusals): `{201: 100, '409 inventory_exhausted': 300}`. */
export function tally(replies: { status: number; body: any }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status < 400 ? String(r.status) : `${r.status} ${r.body?.error?.code}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** Answers per host index: `[n0, n1]`. */
export function perHost(replies: Reply[], status: number, hosts: number): number[] {
  const counts: number[] = new Array(hosts).fill(0);
  for (const r of replies) if (r.status === status) counts[r.host]! += 1;
  return counts;
}

export interface LoadFigures {
  requests: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers other than 201. */
  failures: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * A closed loop: `concurrency` clients, each sending its next grant (to the hosts in turn) as soon
 * as the last one is answered, until `requests` grants are done.
 */
export async function measureGrants(urls: string[], t: Tenant, rewardId: string, requests: number, concurrency: number, label: string): Promise<LoadFigures> {
  const agent = new Agent();
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const lane = async () => {
    while (next < requests) {
      const i = next++;
      const started = performance.now();
      const reply = await call(urls[i % urls.length]!, 'POST', '/v1/reward-grants', t.key, { reward_id: rewardId, user_id: `${label}-${i}` }, {}, agent);
      latencies.push(performance.now() - started);
      if (reply.status !== 201) failures += 1;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, lane)).finally(() => agent.close());
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return { requests, concurrency, seconds: round(seconds), perSecond: Math.round(requests / seconds), p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)), failures };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** Medians over rounds of requests/s, p50 and p99 without and with the latency, and their ratios. */
export function summarize(runs: { without: LoadFigures[]; with: LoadFigures[] }) {
  const pick = (list: LoadFigures[]) => ({ perSecond: median(list.map((r) => r.perSecond)), p50Ms: median(list.map((r) => r.p50Ms)), p99Ms: median(list.map((r) => r.p99Ms)) });
  const without = pick(runs.without);
  const withLatency = pick(runs.with);
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  return {
    without,
    with: withLatency,
    ratio: { perSecond: ratio(withLatency.perSecond, without.perSecond), p50: ratio(withLatency.p50Ms, without.p50Ms), p99: ratio(withLatency.p99Ms, without.p99Ms) },
  };
}
