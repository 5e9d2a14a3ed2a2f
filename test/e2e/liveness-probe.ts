/**
 * How a running server answers while it generates a large batch of redeem codes: a fresh tenant,
 * campaign and reward through the API, then POST .../redeem-codes with `count` codes (a job), and
 * meanwhile GET /health and GET /v1/redeem-code-batches/{id} every `pollMs`, each sent on its own
 * timer whether or not the previous answer came back (as a liveness probe and a watching client
 * do), until the batch is DONE. Shared by bench/pglite-liveness.ts and the e2e test.
 */
import { client } from './server-process.js';

export interface LivenessReport {
  /** From the 202 of the create to the first status poll that saw DONE, in ms. */
  generationMs: number;
  health: LatencySummary;
  status: LatencySummary;
  /** The `generated` values status polls saw, in the order the answers were sent. */
  progress: number[];
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(latencies: number[]): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
}

/** Sets up a tenant with `masterKey` on the server at `url`, generates `count` codes and watches. */
export async function probeGeneration(url: string, masterKey: string, options: { count: number; pollMs?: number; timeoutMs?: number }): Promise<LivenessReport> {
  const pollMs = options.pollMs ?? 100;
  const http = client(url);
  const must = async (method: string, path: string, key: string, body?: unknown, status = 201) => {
    const r = await http(method, path, { key, ...(body !== undefined ? { body } : {}) });
    if (r.status !== status) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Record<string, any>;
  };
  const tenant = `live${Date.now().toString(36)}`;
  await must('POST', '/v1/tenants', masterKey, { tenant_id: tenant, name: tenant });
  const key = (await must('POST', `/v1/tenants/${tenant}/api-keys`, masterKey, { name: 'admin', role: 'admin' })).key as string;
  await must('POST', '/v1/apps', key, { product_code: 'app1', name: 'App' });
  const campaign = await must('POST', '/v1/campaigns', key, {
    campaign_name: 'Liveness',
    campaign_type: 'PROMOTION',
    product_code: 'app1',
    start_time: '2020-01-01T00:00:00Z',
    end_time: '2099-12-31T23:59:59Z',
  });
  await must('POST', `/v1/campaigns/${campaign.campaign_id}/publish`, key, undefined, 200);
  const reward = await must('POST', '/v1/rewards', key, {
    reward_name: 'points',
    reward_type: 'POINTS',
    product_code: 'app1',
    campaign_id: campaign.campaign_id,
    total_stock: null,
    config: { generator: { points: 1 } },
  });

  const started = Date.now();
  const batch = await must('POST', `/v1/campaigns/${campaign.campaign_id}/redeem-codes`, key, { reward_id: reward.reward_id, code_type: 'ALPHANUM', length: 12, count: options.count }, 202);
  const health: number[] = [];
  const status: number[] = [];
  const seen: { sentAt: number; generated: number }[] = [];
  const inflight = new Set<Promise<void>>();
  let done = false;
  let failure: Error | undefined;

  const timed = (path: string, into: number[], onBody?: (body: any, sentAt: number) => void) => {
    const sentAt = Date.now();
    const p = http('GET', path, { key })
      .then((r) => {
        if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
        into.push(Date.now() - sentAt);
        onBody?.(r.body, sentAt);
      })
      .catch((err: unknown) => {
        failure ??= err as Error;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };

  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (failure || Date.now() - started > (options.timeoutMs ?? 30 * 60_000)) {
        clearInterval(timer);
        reject(failure ?? new Error(`batch not DONE in ${options.timeoutMs} ms`));
        return;
      }
      if (done) {
        clearInterval(timer);
        resolve();
        return;
      }
      timed('/health', health);
      timed(`/v1/redeem-code-batches/${batch.batch_id}`, status, (body, sentAt) => {
        seen.push({ sentAt, generated: body.generated as number });
        if (body.status === 'DONE') done = true;
      });
    }, pollMs);
  });
  const generationMs = Date.now() - started;
  await Promise.all([...inflight]);
  return {
    generationMs,
    health: summarize(health),
    status: summarize(status),
    progress: seen.sort((a, b) => a.sentAt - b.sentAt).map((s) => s.generated),
  };
}
