/**
 * Load for fault tests: request loops that record every answer (status, error code, latency,
 * when it was sent), a clock of named moments (fault, recovery), and the summaries the tests
 * assert on and the docs quote.
 */

/**
 * A request that took longer than this counts as hung (status 0, code `hung`). A request stuck on a
 * broken dependency waits for ever; 8 s is well above the scheduling noise of a shared machine.
 */
export const HUNG_MS = 8000;

export interface Outcome {
  kind: string;
  status: number;
  code: string | null;
  /** Milliseconds since the recorder started, when the request was sent. */
  at: number;
  ms: number;
  body: any;
}

export class Recorder {
  readonly started = performance.now();
  readonly outcomes: Outcome[] = [];
  readonly marks: Record<string, number> = {};

  now(): number {
    return performance.now() - this.started;
  }

  mark(name: string): number {
    this.marks[name] = this.now();
    return this.marks[name];
  }

  /** Sends one JSON request with a hang deadline and records its answer. */
  async send(kind: string, url: string, init: { method: string; key: string; body?: unknown }): Promise<Outcome> {
    const at = this.now();
    let outcome: Outcome;
    try {
      const res = await fetch(url, {
        method: init.method,
        headers: { authorization: `Bearer ${init.key}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal: AbortSignal.timeout(HUNG_MS),
      });
      const text = await res.text();
      let body: any = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: kept as text
      }
      outcome = { kind, status: res.status, code: res.status >= 400 ? (body?.error?.code ?? 'no_code') : null, at, ms: this.now() - at, body };
    } catch (err) {
      const hung = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      outcome = { kind, status: 0, code: hung ? 'hung' : `network: ${String(err)}`, at, ms: this.now() - at, body: undefined };
    }
    this.outcomes.push(outcome);
    return outcome;
  }

  /** Outcomes sent in [from, to) (recorder milliseconds), optionally of one kind. */
  between(from: number, to: number, kind?: string): Outcome[] {
    return this.outcomes.filter((o) => o.at >= from && o.at < to && (!kind || o.kind === kind));
  }
}

/** `status code` -> count, e.g. { '201': 40, '409 code_already_redeemed': 3 }. */
export function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.code ? `${o.status} ${o.code}` : String(o.status);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/**
 * Answers that are not clean: a 5xx other than a 503 with the API's error code, a request that
 * hung or failed on the network, or an error without the API's error body.
 */
export function unclean(outcomes: readonly Outcome[]): Outcome[] {
  return outcomes.filter((o) => o.status === 0 || (o.status >= 500 && !(o.status === 503 && o.code && o.code !== 'no_code')) || o.code === 'no_code');
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface LatencySummary {
  requests: number;
  p50: number;
  p99: number;
  max: number;
}

export function latency(outcomes: readonly Outcome[]): LatencySummary {
  const ms = outcomes.map((o) => o.ms);
  return { requests: ms.length, p50: Math.round(percentile(ms, 50)), p99: Math.round(percentile(ms, 99)), max: Math.round(Math.max(0, ...ms)) };
}

/** Runs `concurrency` loops of `step` until `stop()` says so; resolves when all have finished. */
export async function loops(concurrency: number, stop: () => boolean, step: (worker: number) => Promise<unknown>): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (!stop()) await step(worker);
    }),
  );
}

/**
 * Samples a counter every `everyMs` while `stop()` is false: [recorder ms, value] pairs, for
 * telling when a fallback counter stopped rising.
 */
export async function sampleCounter(recorder: Recorder, read: () => Promise<number>, stop: () => boolean, everyMs = 100): Promise<[number, number][]> {
  const samples: [number, number][] = [];
  while (!stop()) {
    const at = recorder.now();
    const value = await read().catch(() => Number.NaN);
    if (!Number.isNaN(value)) samples.push([at, value]);
    await sleep(everyMs);
  }
  return samples;
}

/** The last moment (recorder ms) at which the sampled counter rose; -Infinity when it never did. */
export function lastRise(samples: readonly [number, number][]): number {
  let last = -Infinity;
  for (let i = 1; i < samples.length; i++) if (samples[i]![1] > samples[i - 1]![1]) last = samples[i]![0];
  return last;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The first sample at or after `from` from which the counter stays flat for `quietMs` (recorder
 * ms): when a fallback counter shows the service using Redis again. Infinity when it never does.
 */
export function quietFrom(samples: readonly [number, number][], from: number, quietMs = 1000): number {
  for (let i = 0; i < samples.length; i++) {
    const [at, value] = samples[i]!;
    if (at < from) continue;
    let j = i;
    while (j + 1 < samples.length && samples[j + 1]![1] === value) j++;
    if (samples[j]![0] - at >= quietMs) return at;
  }
  return Infinity;
}

/** How much the counter rose between two moments (recorder ms). */
export function riseBetween(samples: readonly [number, number][], from: number, to: number): number {
  const inside = samples.filter(([at]) => at >= from && at <= to);
  return inside.length < 2 ? 0 : inside.at(-1)![1] - inside[0]![1];
}
