/**
 * The one error type of the service. Domain code throws it (also inside transactions, so the
 * transaction rolls back); the HTTP error handler maps `kind` to a status code. `code` is the
 * stable, machine-readable snake_case contract with clients: never change an existing one.
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unprocessable'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

export const statusByKind: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

export type ErrorDetails = Record<string, unknown>;

export class AppError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly details: ErrorDetails | undefined;

  constructor(kind: ErrorKind, code: string, message: string, details?: ErrorDetails) {
    // An AppError is an answer to the client, not a bug to trace: skip capturing a stack, which
    // costs more than the rest of a refusal (a sold-out flood is thousands of them a second).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'AppError';
    this.kind = kind;
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return statusByKind[this.kind];
  }
}

export const isAppError = (err: unknown): err is AppError => err instanceof AppError;

/** 400 invalid_request naming the offending field, the shape schema validation errors also use. */
export function invalidRequest(field: string, message: string, extra?: ErrorDetails): AppError {
  return new AppError('invalid', 'invalid_request', `${field}: ${message}`, {
    field,
    ...extra,
  });
}

/** 404 for a resource that does not exist or belongs to another tenant (the two look the same). */
export function notFound(resource: string, id: string): AppError {
  return new AppError('not_found', `${resource}_not_found`, `${resource} ${id} not found`, {
    [`${resource}_id`]: id,
  });
}

/**
 * 429 rate_limited with `details.retry_after_seconds`, which the error handler also sends as the
 * `Retry-After` header (whole seconds, at least 1). `rule` names the limit that refused.
 */
export function rateLimited(result: { retryAfterMs: number; rule: string | null }, message?: string): AppError {
  const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  const text =
    message ??
    (result.rule === 'lockout'
      ? `Too many failed attempts; retry in ${seconds} s`
      : `Too many requests${result.rule ? ` (${result.rule} limit)` : ''}; retry in ${seconds} s`);
  return new AppError('rate_limited', 'rate_limited', text, {
    rule: result.rule,
    retry_after_seconds: seconds,
    retry_after_ms: result.retryAfterMs,
  });
}

/**
 * A module's localizer: the same error with its message from `zh` when the caller prefers
 * Chinese (code, kind and details unchanged); other errors and other languages pass through.
 */
export function localizerOf(zh: Record<string, string>): (err: unknown, chinese: boolean) => unknown {
  return (err, chinese) => {
    if (!chinese || !(err instanceof AppError)) return err;
    const message = zh[err.code];
    return message ? new AppError(err.kind, err.code, message, err.details) : err;
  };
}
