import { MarketingError } from './errors.js';
import { randomId } from './ids.js';
import type { Transport, TransportRequest, TransportResponse } from './transport.js';

export interface RetryOptions {
  /** Retries after the first attempt (default 3; 0 turns retrying off). */
  retries?: number;
  /** The first backoff; each next one doubles, half of it random (default 200 ms). */
  baseDelayMs?: number;
  /** The longest backoff between two attempts (default 5 s). */
  maxDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the 429 / 503 is answered (default 30 s). */
  maxRetryAfterMs?: number;
  /** Waits `ms` (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends `request` through `transport`, retrying what is safe to retry:
 * - a write (POST, PUT, PATCH, DELETE) gets ONE `Idempotency-Key` (unless it has one), generated
 *   here once per call and sent again by every retry, so the service runs it at most once and
 *   answers a retry with the first answer;
 * - retried: no answer (a network error), 429 (after its Retry-After), 5xx, and 409
 *   `request_in_progress` (the same key still being processed: the service asks to retry shortly);
 * - never retried: any other 4xx;
 * - backoff: exponential from `baseDelayMs` (half of it random), at most `maxDelayMs`, `retries` times.
 */
export async function sendWithRetry(transport: Transport, request: TransportRequest, options: RetryOptions = {}): Promise<TransportResponse> {
  const retries = options.retries ?? 3;
  const sleep = options.sleep ?? defaultSleep;
  const headers = { ...request.headers };
  if (WRITES.has(request.method.toUpperCase()) && !headers['idempotency-key']) headers['idempotency-key'] = randomId();
  const once: TransportRequest = { ...request, headers };

  for (let attempt = 0; ; attempt++) {
    let res: TransportResponse;
    try {
      res = await transport(once);
    } catch (err) {
      if (attempt >= retries) {
        throw new MarketingError({ status: 0, code: 'network_error', message: `No answer from ${request.method} ${request.url} after ${attempt + 1} attempts: ${String(err)}`, cause: err });
      }
      await sleep(backoff(attempt, options));
      continue;
    }
    const wait = retryDelay(res, attempt, options, headers['idempotency-key'] !== undefined);
    if (wait === null || attempt >= retries) return res;
    await sleep(wait);
  }
}

/** How long to wait before retrying this answer, or null when it is final. */
function retryDelay(res: TransportResponse, attempt: number, options: RetryOptions, idempotent: boolean): number | null {
  const { status } = res;
  if (status === 429 || status === 503) {
    const after = retryAfterMs(res.headers['retry-after']);
    if (after === null) return backoff(attempt, options);
    return after <= (options.maxRetryAfterMs ?? 30_000) ? after : null;
  }
  if (status >= 500) return backoff(attempt, options);
  if (status === 409 && idempotent && /"request_in_progress"/.test(res.body)) return backoff(attempt, options);
  return null;
}

/** Retry-After as seconds or an HTTP date, in ms (null when absent or unreadable). */
export function retryAfterMs(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

function backoff(attempt: number, options: RetryOptions): number {
  const base = options.baseDelayMs ?? 200;
  const cap = options.maxDelayMs ?? 5_000;
  const ceiling = Math.min(cap, base * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
