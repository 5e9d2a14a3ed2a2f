/**
 * A load of reward grants for fault tests, from a client that behaves as a careful one should:
 * each grant carries its own Idempotency-Key, and a request that gets no final answer (the
 * connection dropped, a 503, 409 request_in_progress, a timeout) is sent again with the same key,
 * to the next server in the list. Every attempt is recorded with its time and outcome, so a test
 * can assert what the service answered and measure how long a fault held the load back.
 */

/** How one attempt ended. `lost` is a dropped connection; `hung` passed the client's timeout. */
export type AttemptKind = 'granted' | 'refused' | 'retry' | 'lost' | 'hung' | 'failed';

export interface Attempt {
  order: number;
  /** Milliseconds since the load started, when the answer (or the error) came. */
  at: number;
  server: number;
  status: number;
  code: string;
  kind: AttemptKind;
}

export interface GrantLoadOptions {
  /** The API servers, tried in turn; an order's first server is `order % servers.length`. */
  servers: string[];
  apiKey: string;
  rewardId: string;
  orders: number;
  concurrency: number;
  /** A request unanswered after this long counts as hung (and is retried). */
  timeoutMs?: number;
  /** Pause before a retry. */
  retryDelayMs?: number;
  /** Give up on an order after this long (the test then fails on it). */
  giveUpMs?: number;
  /** Idempotency-Key prefix, so two loads on one tenant never share keys. */
  keyPrefix?: string;
}

export interface GrantLoadResult {
  attempts: Attempt[];
  /** Per order: the grant id it got, 'exhausted' (stock gone) or null (gave up). */
  finals: (string | 'exhausted' | null)[];
  startedAt: number;
  durationMs: number;
}

/** Codes that mean "not done, send it again": the service's clean refusals of a passing fault. */
const RETRY_CODES = new Set(['request_in_progress', 'database_unavailable', 'shutting_down']);

export interface RunningLoad {
  /** Milliseconds since the load started. */
  elapsed(): number;
  attempts: Attempt[];
  done: Promise<GrantLoadResult>;
}

export function startGrantLoad(options: GrantLoadOptions): RunningLoad {
  const { servers, orders, concurrency } = options;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const retryDelayMs = options.retryDelayMs ?? 100;
  const giveUpMs = options.giveUpMs ?? 90_000;
  const prefix = options.keyPrefix ?? 'load';
  const attempts: Attempt[] = [];
  const finals: (string | 'exhausted' | null)[] = new Array(orders).fill(null);
  const startedAt = Date.now();
  const elapsed = () => Date.now() - startedAt;
  let next = 0;

  async function attempt(order: number, server: number): Promise<Attempt> {
    const record = (status: number, code: string, kind: AttemptKind): Attempt => {
      const a = { order, at: elapsed(), server, status, code, kind };
      attempts.push(a);
      return a;
    };
    try {
      const reply = await postJson(`${servers[server]}/v1/reward-grants`, options.apiKey, `${prefix}-${order}`, { reward_id: options.rewardId, user_id: `user-${order}` }, timeoutMs);
      const code = String(reply.body?.error?.code ?? '');
      if (reply.status === 201 || reply.status === 200) {
        finals[order] = String(reply.body.grant_id);
        return record(reply.status, '', 'granted');
      }
      if (reply.status === 409 && code === 'inventory_exhausted') {
        finals[order] = 'exhausted';
        return record(reply.status, code, 'refused');
      }
      if ((reply.status === 503 || reply.status === 409) && RETRY_CODES.has(code)) return record(reply.status, code, 'retry');
      return record(reply.status, code || String(reply.body).slice(0, 80), 'failed');
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') return record(0, 'timeout', 'hung');
      return record(0, String((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message), 'lost');
    }
  }

  async function runOrder(order: number): Promise<void> {
    const firstAt = Date.now();
    let server = order % servers.length;
    for (;;) {
      const a = await attempt(order, server);
      // A failure (a 500, an unexpected answer) is final: the test reports it.
      if (a.kind === 'granted' || a.kind === 'refused' || a.kind === 'failed') return;
      if (Date.now() - firstAt > giveUpMs) return;
      server = (server + 1) % servers.length;
      await new Promise((r) => setTimeout(r, retryDelayMs));
    }
  }

  async function lane(): Promise<void> {
    while (next < orders) await runOrder(next++);
  }

  const done = Promise.all(Array.from({ length: concurrency }, lane)).then(() => ({ attempts, finals, startedAt, durationMs: elapsed() }));
  return { elapsed, attempts, done };
}

/** One POST; the timeout covers the whole exchange, body included. */
async function postJson(url: string, apiKey: string, idempotencyKey: string, body: unknown, timeoutMs: number): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  } catch {
    return { status: res.status, body: text };
  }
}

/** Counts of attempts by kind, and of answers by status and code, for the log and the docs. */
export function summarize(result: GrantLoadResult) {
  const byKind: Record<AttemptKind, number> = { granted: 0, refused: 0, retry: 0, lost: 0, hung: 0, failed: 0 };
  const byAnswer: Record<string, number> = {};
  for (const a of result.attempts) {
    byKind[a.kind] += 1;
    const answer = a.status ? `${a.status}${a.code ? ` ${a.code}` : ''}` : `no answer (${a.code})`;
    byAnswer[answer] = (byAnswer[answer] ?? 0) + 1;
  }
  const granted = result.finals.filter((f) => f !== null && f !== 'exhausted').length;
  const exhausted = result.finals.filter((f) => f === 'exhausted').length;
  const unfinished = result.finals.filter((f) => f === null).length;
  return { attempts: result.attempts.length, byKind, byAnswer, granted, exhausted, unfinished };
}

/** Orders finished (granted or refused for stock) per second over the whole load, by `bucketMs`. */
function finishTimes(result: GrantLoadResult): number[] {
  return result.attempts.filter((a) => a.kind === 'granted' || a.kind === 'refused').map((a) => a.at).sort((x, y) => x - y);
}

/**
 * Recovery after a fault at `faultAt` (ms since the load started), measured from the client's
 * side: when the first order finished after it, and when the rate of finished orders over a
 * sliding `windowMs` came back to `share` of its rate before the fault (null: it never did).
 */
export function recovery(result: GrantLoadResult, faultAt: number, from = faultAt, windowMs = 1000, share = 0.8) {
  const times = finishTimes(result);
  const before = times.filter((t) => t < faultAt);
  // Leave out the first second (connections and caches warming up).
  const warm = before.filter((t) => t >= Math.min(1000, faultAt / 2));
  const span = faultAt - Math.min(1000, faultAt / 2);
  const rateBefore = span > 0 ? (warm.length / span) * 1000 : 0;
  const firstAfter = times.find((t) => t > from);
  let fullRateAt: number | null = null;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    const t = times[hi]!;
    while (times[lo]! < t - windowMs) lo++;
    if (t - windowMs >= from && ((hi - lo + 1) / windowMs) * 1000 >= share * rateBefore) {
      fullRateAt = t;
      break;
    }
  }
  return {
    ratePerSecondBefore: Math.round(rateBefore),
    firstFinishedAfterMs: firstAfter === undefined ? null : firstAfter - from,
    fullRateAfterMs: fullRateAt === null ? null : fullRateAt - from,
  };
}
