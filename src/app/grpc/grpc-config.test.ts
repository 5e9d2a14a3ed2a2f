import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { AppError } from '../../platform/errors.js';
import { grpcStatusOf, toServiceError } from './grpc-errors.js';
import { grpcAddress } from './grpc-server.js';

const config = (env: Record<string, string>, overrides: Record<string, unknown> = {}) => loadConfig({ env, file: null, overrides });

describe('where gRPC listens', () => {
  it('9105 by default, MARKETING_GRPC_PORT / server.grpc.port, 0 = off, any free port beside an HTTP port 0', () => {
    expect(grpcAddress(config({}))).toEqual({ host: '0.0.0.0', port: 9105 });
    expect(grpcAddress(config({ MARKETING_GRPC_PORT: '9200', MARKETING_GRPC_HOST: '127.0.0.1' }))).toEqual({ host: '127.0.0.1', port: 9200 });
    expect(grpcAddress(config({ MARKETING_GRPC_PORT: '0' }))).toBeNull();
    expect(grpcAddress(config({ PORT: '0' }))).toEqual({ host: '0.0.0.0', port: 0 });
    expect(grpcAddress(config({ PORT: '0', MARKETING_GRPC_PORT: '9300' }))).toEqual({ host: '0.0.0.0', port: 9300 });
    // The Go service's config.yaml spelling.
    expect(grpcAddress(config({}, { 'server.grpc.addr': '127.0.0.2:9400' }))).toEqual({ host: '127.0.0.2', port: 9400 });
  });
});

describe('AppError to gRPC status', () => {
  const of = (kind: ConstructorParameters<typeof AppError>[0], code: string) => grpcStatusOf(new AppError(kind, code, 'm'));
  it('maps by HTTP status, and 409 by its code', () => {
    expect(of('invalid', 'invalid_request')).toBe(status.INVALID_ARGUMENT);
    expect(of('unauthorized', 'unauthorized')).toBe(status.UNAUTHENTICATED);
    expect(of('forbidden', 'read_only_key')).toBe(status.PERMISSION_DENIED);
    expect(of('not_found', 'reward_not_found')).toBe(status.NOT_FOUND);
    expect(of('conflict', 'inventory_exhausted')).toBe(status.FAILED_PRECONDITION);
    expect(of('conflict', 'tenant_already_exists')).toBe(status.ALREADY_EXISTS);
    expect(of('conflict', 'event_id_reused')).toBe(status.ALREADY_EXISTS);
    expect(of('conflict', 'request_in_progress')).toBe(status.ABORTED);
    expect(of('unprocessable', 'idempotency_key_reused')).toBe(status.FAILED_PRECONDITION);
    expect(of('rate_limited', 'rate_limited')).toBe(status.RESOURCE_EXHAUSTED);
    expect(of('unavailable', 'shutting_down')).toBe(status.UNAVAILABLE);
    expect(of('internal', 'internal_error')).toBe(status.INTERNAL);
  });

  it('sends the code and the error body in trailers, and retry-after for rate_limited', () => {
    const sent = toServiceError(new AppError('rate_limited', 'rate_limited', 'slow down', { retry_after_seconds: 3 }), 'req-1');
    expect(sent.metadata!.get('error-code')).toEqual(['rate_limited']);
    expect(sent.metadata!.get('retry-after')).toEqual(['3']);
    const body = JSON.parse((sent.metadata!.get('error-details-bin')[0] as Buffer).toString('utf8'));
    expect(body).toEqual({ error: { code: 'rate_limited', message: 'slow down', details: { retry_after_seconds: 3 } }, requestId: 'req-1', http_status: 429 });
  });
});
