import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { AppError, type ErrorKind, statusByKind } from '../../platform/errors.js';

/** A 409's code that says "this already exists / this id was used for something else". */
const ALREADY_EXISTS = /^conflict$|already_exists$|_reused$|already_linked$|^already_/;
/** A 409 that a plain retry may get past: another request holds the same thing right now. */
const ABORTED = new Set(['request_in_progress', 'concurrent_update', 'busy']);

/**
 * The gRPC status of an AppError: by its HTTP status, and for 409 by its code (a refusal of the
 * grant flow such as inventory_exhausted is FAILED_PRECONDITION; a duplicate, ALREADY_EXISTS; a
 * concurrent request with the same key, ABORTED).
 */
export function grpcStatusOf(err: AppError): GrpcStatus {
  switch (err.status) {
    case 400:
    case 415:
      return GrpcStatus.INVALID_ARGUMENT;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.NOT_FOUND;
    case 409:
      if (ABORTED.has(err.code)) return GrpcStatus.ABORTED;
      return ALREADY_EXISTS.test(err.code) ? GrpcStatus.ALREADY_EXISTS : GrpcStatus.FAILED_PRECONDITION;
    case 413:
    case 429:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 422:
      return GrpcStatus.FAILED_PRECONDITION;
    case 503:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.INTERNAL;
  }
}

/**
 * What a failed call sends: the status, the message as the status details, and trailers
 * `error-code` (the stable code), `error-details-bin` (the HTTP error body as UTF-8 JSON:
 * `{"error": {code, message, details}, "requestId", "http_status"}`), `x-request-id` and, for
 * rate_limited, `retry-after` (seconds).
 */
export function toServiceError(err: AppError, requestId: string): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set('error-code', err.code);
  metadata.set('x-request-id', requestId);
  const body = { error: { code: err.code, message: err.message, details: err.details ?? {} }, requestId, http_status: err.status };
  metadata.set('error-details-bin', Buffer.from(JSON.stringify(body), 'utf8'));
  if (err.kind === 'rate_limited' && typeof err.details?.retry_after_seconds === 'number') {
    metadata.set('retry-after', String(err.details.retry_after_seconds));
  }
  return { code: grpcStatusOf(err), details: err.message, metadata };
}

const kindByStatus = new Map<number, ErrorKind>(Object.entries(statusByKind).map(([kind, status]) => [status, kind as ErrorKind]));

/** A refusal recorded under an idempotency key (the stored error body), as the AppError to answer again. */
export function appErrorOfRecord(status: number, body: unknown): AppError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  const kind = kindByStatus.get(status) ?? (status >= 500 ? 'internal' : 'invalid');
  return new AppError(
    kind,
    typeof error?.code === 'string' ? error.code : 'invalid_request',
    typeof error?.message === 'string' ? error.message : 'The first request with this key was refused',
    (error?.details as Record<string, unknown> | undefined) ?? {},
  );
}
