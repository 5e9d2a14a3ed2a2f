import { randomUUID } from 'node:crypto';
import { Metadata, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TSchema } from 'typebox';
import type { ApiKeyService } from '../../modules/tenants/index.js';
import { hasRole, type Role, type TenantActor } from '../../platform/actor.js';
import { AppError } from '../../platform/errors.js';
import { preferredLanguage } from '../../platform/http/language.js';
import { IDEMPOTENCY_KEY_PATTERN, type IdempotencyClaim, type IdempotencyStore } from '../../platform/idempotency.js';
import { inputRefusal, textProblem } from '../../platform/input-guard.js';
import { fingerprint } from '../../platform/secrets.js';
import { errorBody, toAppError } from '../error-handler.js';
import { localizeError } from '../error-messages.js';
import { unsafeBody, validatorCompiler } from '../validation.js';
import { appErrorOfRecord, toServiceError } from './grpc-errors.js';
import type { WireCodec } from './wire.js';

/** What a method's `run` gets: the caller, the metadata it reads, and the unit-of-work handles. */
export interface CallContext {
  actor: TenantActor;
  /** The `x-product-code` metadata entry, as HTTP's X-Product-Code header. */
  productHeader: string | undefined;
  /** The peer's address (the socket's; gRPC has no trusted-proxy setting). */
  peerIp(): string;
  /** A metadata entry as text (the HTTP header of the same name). */
  header(name: string): string | undefined;
  /**
   * Stand-ins for the HTTP request and reply that the unit of work (platform/http/unit-of-work.ts)
   * reads: `request.idempotency` (the claimed key) and `reply.code` / `reply.serialize`. With them
   * the gRPC call runs in the same transaction helper, recording its answer in the same way.
   */
  request: FastifyRequest;
  reply: FastifyReply;
  /** The status the unit of work set (201 created, 200 ...), as HTTP would have answered. */
  status(): number;
}

/** One gRPC method: the HTTP call it mirrors, the role it needs, the HTTP schema of its input. */
export interface MethodSpec {
  /** `POST /v1/reward-grants`: the HTTP equivalent (docs, logs). */
  http: string;
  role: Role;
  /** The TypeBox schema of the HTTP body (or query, or params with body) the decoded message must pass. */
  schema: TSchema;
  /** Like an HTTP POST: honours `idempotency-key`. */
  idempotent: boolean;
  run(ctx: CallContext, input: never): Promise<unknown>;
  /** The response message (JSON) of an answer recorded under an idempotency key; default the body itself. */
  replay?: (status: number, body: unknown) => unknown;
}

export interface CallDeps {
  apiKeys: ApiKeyService;
  idempotency: IdempotencyStore;
  wire: WireCodec;
  log: { error(obj: unknown, message: string): void };
  observe(method: string, code: string, seconds: number): void;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;
/** Refusals whose message is in the caller's language already. */
const localized = new WeakSet<AppError>();

function firstString(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

/** The API key of `authorization: Bearer <key>`, through the same ApiKeyService (and cache) as HTTP. */
async function authenticate(apiKeys: ApiKeyService, metadata: Metadata, role: Role): Promise<TenantActor> {
  if (metadata.get('x-publishable-key').length > 0) {
    throw new AppError('forbidden', 'client_route_not_allowed', 'gRPC takes server API keys only; a publishable key is for the HTTP client routes');
  }
  const header = firstString(metadata, 'authorization');
  const match = header ? BEARER.exec(header) : null;
  if (!match) throw new AppError('unauthorized', 'unauthorized', 'Send an API key as `Authorization: Bearer <key>`');
  const actor = apiKeys.knownActor(match[1]!) ?? (await apiKeys.authenticate(match[1]!));
  if (actor.kind !== 'tenant') {
    throw new AppError('forbidden', 'tenant_key_required', 'This call needs an API key of a tenant, not the master key');
  }
  if (!hasRole(actor, role)) {
    throw new AppError(
      'forbidden',
      role === 'service' && actor.role === 'readonly' ? 'read_only_key' : 'insufficient_role',
      `This call needs a key with the ${role} role; this key is ${actor.role}`,
      { required_role: role, key_role: actor.role },
    );
  }
  return actor;
}

/** The peer of a call (`ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678`) as an address. */
function peerAddress(peer: string): string {
  const m = /^ipv6:\[(.*)\]:\d+$/.exec(peer) ?? /^ipv4:(.*):\d+$/.exec(peer);
  return m ? m[1]! : peer;
}

/**
 * A unary handler for one method: authentication, the input rules and the HTTP schema's
 * validation, the idempotency key (claimed, replayed or refused as HTTP's hooks do), the method's
 * service call, and the error as a gRPC status with the stable code in the trailers.
 */
export function unaryHandler(deps: CallDeps, name: string, spec: MethodSpec, requestType: string, responseType: string) {
  const validate = validatorCompiler({ schema: spec.schema, httpPart: 'body', method: 'POST', url: name }) as ValidateFunction;
  return (call: ServerUnaryCall<Record<string, unknown>, unknown>, callback: sendUnaryData<unknown>) => {
    const started = process.hrtime.bigint();
    const lang = preferredLanguage(firstString(call.metadata, 'accept-language'), 'en');
    let claim: IdempotencyClaim | null = null;
    const finish = (code: string) => deps.observe(name, code, Number(process.hrtime.bigint() - started) / 1e9);

    const run = async () => {
      const actor = await authenticate(deps.apiKeys, call.metadata, spec.role);
      const productHeader = firstString(call.metadata, 'x-product-code');
      const headerProblem = productHeader === undefined ? null : textProblem(productHeader);
      if (headerProblem !== null) throw inputRefusal('headers', { field: 'x-product-code', message: headerProblem });
      const input = deps.wire.fromWire(call.request ?? {}, requestType);
      const unsafe = unsafeBody(input);
      if (unsafe) throw unsafe;
      if (!validate(input)) {
        // Made in the caller's language already, naming the field and the rule (as HTTP's).
        const refusal = toAppError({ validation: validate.errors as ErrorObject[], validationContext: 'body' }, lang);
        localized.add(refusal);
        throw refusal;
      }
      if (input.tenant_id !== undefined && input.tenant_id !== actor.tenantId) {
        throw new AppError('forbidden', 'tenant_mismatch', 'tenant_id does not match the tenant of the API key', { field: 'tenant_id' });
      }
      const key = spec.idempotent ? call.metadata.get('idempotency-key')[0] : undefined;
      if (key !== undefined) {
        if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
          throw new AppError('invalid', 'invalid_request', 'Idempotency-Key must be 1-255 printable ASCII characters', { field: 'idempotency-key', location: 'headers' });
        }
        const outcome = await deps.idempotency.claim({
          scope: actor.tenantId,
          key,
          method: 'GRPC',
          route: name,
          // As HTTP's: the key belongs to the API key that made it, and the same key with
          // another input is refused (422 idempotency_key_reused).
          requestHash: fingerprint({ method: 'GRPC', caller: actor.keyId, route: name, body: input, product: productHeader ?? null }),
        });
        if (outcome.kind === 'replay') {
          if (outcome.status >= 400) throw appErrorOfRecord(outcome.status, outcome.body);
          const replayed = new Metadata();
          replayed.set('idempotent-replayed', 'true');
          call.sendMetadata(replayed);
          return spec.replay ? spec.replay(outcome.status, outcome.body) : outcome.body;
        }
        claim = outcome.claim;
      }
      let status = 200;
      const reply = {
        code(value: number) {
          status = value;
          return reply;
        },
        // The unit of work serializes the answer before the commit; JSON is what the record keeps.
        serialize: (value: unknown) => JSON.stringify(value),
      };
      const ctx: CallContext = {
        actor,
        productHeader,
        peerIp: () => peerAddress(call.getPeer()),
        header: (headerName) => firstString(call.metadata, headerName),
        request: { idempotency: claim } as unknown as FastifyRequest,
        reply: reply as unknown as FastifyReply,
        status: () => status,
      };
      return spec.run(ctx, input as never);
    };

    run().then(
      (answer) => {
        let message: unknown;
        try {
          message = deps.wire.toWire(answer, responseType);
        } catch (err) {
          return fail(err);
        }
        finish('OK');
        callback(null, message);
      },
      (err: unknown) => fail(err),
    );

    function fail(err: unknown): void {
      const requestId = randomUUID();
      const appError = err instanceof AppError && localized.has(err) ? err : localizeError(toAppError(err, lang), lang);
      if (appError.status >= 500) deps.log.error({ err, grpc_method: name, request_id: requestId }, 'gRPC call failed');
      const sent = toServiceError(appError, requestId);
      const settle = claim && !claim.settled ? settleRefusal(deps.idempotency, claim, appError, requestId) : Promise.resolve();
      void settle.then(() => {
        finish(grpcCodeName(sent.code ?? 13));
        callback(sent);
      });
    }
  };
}

/** As HTTP's onSend: a refusal is recorded for the retry, a failure of ours (or a 429) releases the key. */
async function settleRefusal(store: IdempotencyStore, claim: IdempotencyClaim, err: AppError, requestId: string): Promise<void> {
  try {
    if (err.status >= 500 || err.status === 429) await store.release(claim);
    else await store.completeAlone(claim, err.status, errorBody(err, requestId));
  } catch {
    // The key stays claimed until its lock expires, as for HTTP.
  }
}

const CODE_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

export function grpcCodeName(code: number): string {
  return CODE_NAMES[code] ?? String(code);
}
