import type { ErrorCode } from './generated/codes.js';
import type { TransportResponse } from './transport.js';

/**
 * The codes a MarketingError can carry: every code the service answers (generated from its source
 * into generated/codes.ts), plus the SDK's own two: `network_error` (no HTTP answer after the
 * retries; status 0) and `invalid_response` (an answer that is not the service's JSON).
 */
export type MarketingErrorCode = ErrorCode | 'network_error' | 'invalid_response';

/** A refusal of the service (status 4xx/5xx with its stable code), or no usable answer at all. */
export class MarketingError extends Error {
  /** The HTTP status; 0 when no answer came back. */
  readonly status: number;
  readonly code: MarketingErrorCode;
  readonly details: Record<string, unknown>;
  /** The service's request id (x-request-id), to quote when asking for help. */
  readonly requestId: string | undefined;

  constructor(init: { status: number; code: MarketingErrorCode; message: string; details?: Record<string, unknown>; requestId?: string | undefined; cause?: unknown }) {
    super(init.message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'MarketingError';
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.requestId = init.requestId;
  }
}

/**
 * Whether `err` is a MarketingError (with this code, when given); narrows `err.code`:
 * `if (isMarketingError(e, 'code_already_redeemed')) ...`.
 */
export function isMarketingError<C extends MarketingErrorCode>(err: unknown, code?: C): err is MarketingError & { code: C } {
  return err instanceof MarketingError && (code === undefined || err.code === code);
}

interface ErrorEnvelope {
  error?: { code?: unknown; message?: unknown; details?: unknown };
  requestId?: unknown;
}

/** The service's error body `{error: {code, message, details}, requestId}` as a MarketingError. */
export function errorFromBody(status: number, body: unknown, requestId?: string): MarketingError {
  const envelope = (typeof body === 'object' && body !== null ? body : {}) as ErrorEnvelope;
  const e = envelope.error;
  if (!e || typeof e.code !== 'string') {
    return new MarketingError({ status, code: 'invalid_response', message: `HTTP ${status} without the service's error body`, details: { body }, requestId });
  }
  const details = typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : {};
  const id = typeof envelope.requestId === 'string' ? envelope.requestId : requestId;
  return new MarketingError({ status, code: e.code as MarketingErrorCode, message: typeof e.message === 'string' ? e.message : e.code, details, requestId: id });
}

/** The response's JSON, or a MarketingError for a refusal or a body that is not JSON. */
export function parseResponse<T>(res: TransportResponse): T {
  let body: unknown = undefined;
  if (res.body !== '') {
    try {
      body = JSON.parse(res.body);
    } catch {
      if (res.status < 400) throw new MarketingError({ status: res.status, code: 'invalid_response', message: 'The answer is not JSON', details: { body: res.body.slice(0, 500) }, requestId: res.headers['x-request-id'] });
      body = res.body;
    }
  }
  if (res.status >= 400) throw errorFromBody(res.status, body, res.headers['x-request-id']);
  return body as T;
}
