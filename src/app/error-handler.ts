import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isCheckViolation, isDatabaseUnavailable, isDiskFull, isForeignKeyViolation, isUniqueViolation, pgErrorCode } from '../db/errors.js';
import { AppError, isAppError } from '../platform/errors.js';
import type { ErrorBodyType } from '../platform/http/common.schemas.js';
import { type Language, preferredLanguage } from '../platform/http/language.js';
import { localizeError, validationIssueZh } from './error-messages.js';

interface ValidationIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `body./start_time` style paths become `start_time`; query and params keep their part name. */
function fieldOf(context: string | undefined, issue: ValidationIssue): string {
  const extra =
    issue.keyword === 'required'
      ? String(issue.params.missingProperty)
      : issue.keyword === 'additionalProperties'
        ? String(issue.params.additionalProperty)
        : '';
  const path = [...issue.instancePath.split('/').filter(Boolean), ...(extra ? [extra] : [])].join('.');
  if (context === 'body' || !context) return path || 'body';
  return path ? (context === 'headers' ? path : path) : context;
}

function describe(issue: ValidationIssue): string {
  if (issue.keyword === 'additionalProperties') return 'is not a known field';
  if (issue.keyword === 'required') return 'is required';
  if (issue.keyword === 'anyOf' || issue.keyword === 'const') return 'is not one of the allowed values';
  return issue.message ?? 'is invalid';
}

/**
 * Turns a Fastify schema validation failure into 400 invalid_request naming every bad field. The
 * message names the first in `lang`; `details.errors` stays English (the same body for any language).
 */
function fromValidation(err: FastifyError, lang: Language): AppError {
  const context = (err as FastifyError & { validationContext?: string }).validationContext;
  const issues = (err.validation ?? []) as ValidationIssue[];
  // Union branches each add an error for the same field; keep the first per field and keyword kind.
  const seen = new Set<string>();
  const list: { field: string; message: string }[] = [];
  let firstIssue: ValidationIssue | undefined;
  for (const issue of issues) {
    const field = fieldOf(context, issue);
    if (seen.has(field)) continue;
    seen.add(field);
    firstIssue ??= issue;
    list.push({ field, message: describe(issue) });
  }
  const first = list[0] ?? { field: context ?? 'body', message: 'is invalid' };
  const message = lang === 'zh-CN' ? `${first.field} ${firstIssue ? validationIssueZh(firstIssue.keyword, firstIssue.params) : '无效'}` : `${first.field} ${first.message}`;
  return new AppError('invalid', 'invalid_request', message, {
    field: first.field,
    location: context ?? 'body',
    errors: list,
  });
}

/**
 * The longest path parameter the router takes (its `maxParamLength`). Ids are far shorter and
 * their schemas refuse anything past their own maxLength with 400 invalid_request; a longer one is
 * refused by the router before a route is known, with the same status and code (not Fastify's 414,
 * so a client sees one answer for "too long" whatever the length).
 */
export const MAX_PARAM_LENGTH = 1024;

const fastifyCodes: Record<string, () => AppError> = {
  FST_ERR_BAD_URL: () =>
    new AppError('invalid', 'invalid_request', 'The path is not valid percent-encoded UTF-8', { field: 'url', location: 'url' }),
  FST_ERR_MAX_PARAM_LENGTH: () =>
    new AppError('invalid', 'invalid_request', `A path parameter is longer than ${MAX_PARAM_LENGTH} characters`, {
      field: 'params',
      location: 'params',
      max_length: MAX_PARAM_LENGTH,
    }),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new AppError('invalid', 'invalid_json', 'The request body is not valid JSON'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () =>
    new AppError('invalid', 'invalid_json', 'The body is empty but Content-Type is application/json; send {} or no Content-Type'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new AppError('payload_too_large', 'payload_too_large', 'The request body is too large'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new AppError('unsupported_media_type', 'unsupported_media_type', 'Send the body as application/json'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new AppError('invalid', 'invalid_request', 'Content-Length does not match the body'),
};

/**
 * Maps any thrown error onto an AppError; unknown ones become a generic 500. `lang` is the
 * language of a schema validation message (other messages: localizeError).
 */
export function toAppError(err: unknown, lang: Language = 'en'): AppError {
  if (isAppError(err)) return err;
  const fe = err as FastifyError;
  if (fe?.validation) return fromValidation(fe, lang);
  const known = fe?.code ? fastifyCodes[fe.code] : undefined;
  if (known) return known();
  if (fe instanceof SyntaxError && fe.statusCode === 400) return fastifyCodes.FST_ERR_CTP_INVALID_JSON_BODY!();
  // Safety net: repos translate constraint violations, but a missed one is still the client's 4xx.
  if (isUniqueViolation(err)) return new AppError('conflict', 'conflict', 'The resource already exists');
  if (isForeignKeyViolation(err)) return new AppError('invalid', 'invalid_reference', 'A referenced resource does not exist');
  if (isCheckViolation(err)) return new AppError('invalid', 'invalid_request', 'A value breaks a rule of the resource');
  // The database away or its disk full: a clean refusal the client may send again (with the
  // same Idempotency-Key), not an error of ours.
  if (isDatabaseUnavailable(err)) return new AppError('unavailable', 'database_unavailable', 'The database is unavailable; send the request again shortly');
  if (isDiskFull(err)) return new AppError('unavailable', 'database_disk_full', 'The database cannot write: its disk is full');
  const pgCode = pgErrorCode(err);
  if (pgCode === '22P02' || pgCode === '22003' || pgCode === '22007' || pgCode === '22008' || pgCode === '22001') {
    return new AppError('invalid', 'invalid_request', 'A value is out of range or malformed');
  }
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError(fe.statusCode === 404 ? 'not_found' : 'invalid', 'invalid_request', fe.message);
  }
  return new AppError('internal', 'internal_error', 'Something went wrong on our side; the error was logged with the request id');
}

export function errorBody(err: AppError, requestId: string): ErrorBodyType {
  return { error: { code: err.code, message: err.message, details: err.details ?? {} }, requestId };
}

/** The caller's language by Accept-Language (q-values; any zh tag is Chinese); English by default. */
export function requestLanguage(request: FastifyRequest): Language {
  return preferredLanguage(request.headers['accept-language'], 'en');
}

/** Any thrown error as the AppError answered to this request, its message in the caller's language. */
export function answerOf(err: unknown, request: FastifyRequest): AppError {
  const lang = requestLanguage(request);
  const appError = toAppError(err, lang);
  // A schema validation message is made in `lang` already, naming the field and the rule.
  return (err as FastifyError | null)?.validation ? appError : localizeError(appError, lang);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = answerOf(err, request);
    if (appError.status >= 500) {
      request.log.error({ err }, 'request failed');
    } else {
      request.log.info({ code: appError.code, status: appError.status }, 'request refused');
    }
    if (appError.kind === 'rate_limited' && typeof appError.details?.retry_after_seconds === 'number') {
      void reply.header('retry-after', String(appError.details.retry_after_seconds));
    }
    // Also here, not only in the onRequest hook: a refusal can come before that hook has run.
    return reply.code(appError.status).header('x-request-id', request.id).send(errorBody(appError, request.id));
  });

  // While the server drains (SIGTERM), a request that still arrives on an open connection is
  // refused in the one shape (Fastify's own 503 body has another; return503OnClosing is off).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (!closing) return done();
    const err = answerOf(new AppError('unavailable', 'shutting_down', 'The server is shutting down; send the request again (to another instance)'), request);
    // A hook that replied must not call done.
    void reply.code(err.status).header('connection', 'close').header('x-request-id', request.id).send(errorBody(err, request.id));
  });

  app.setNotFoundHandler((request, reply) => {
    const route = new AppError('not_found', 'route_not_found', `No route ${request.method} ${request.url.split('?')[0]}`, {
      method: request.method,
      path: request.url.split('?')[0],
    });
    const err = answerOf(route, request);
    return reply.code(404).send(errorBody(err, request.id));
  });
}

/**
 * Fastify's `frameworkErrors` option: what the router refuses before any route or hook runs (a
 * path that is not valid percent-encoding, a parameter past MAX_PARAM_LENGTH), answered in the
 * one error shape instead of Fastify's own.
 */
export function answerFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const appError = answerOf(err, request);
  request.log.info({ code: appError.code, status: appError.status, fastify_code: err.code }, 'request refused by the router');
  void reply.code(appError.status).header('x-request-id', request.id).send(errorBody(appError, request.id));
}

const clientErrors: Record<string, { status: number; reason: string; code: string; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'Request Timeout', code: 'request_timeout', message: 'The request was not received in time' },
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'Request Header Fields Too Large', code: 'headers_too_large', message: 'The request line and headers are too large' },
};
const notHttp = { status: 400, reason: 'Bad Request', code: 'invalid_request', message: 'The request is not valid HTTP/1.1 (a malformed request line or header)' };

/**
 * Fastify's `clientErrorHandler` option: a request Node's HTTP parser refused (a control character
 * in a header, headers past the size limit, a timeout) never becomes a Fastify request, so it is
 * answered here on the socket, still in the one error shape with a request id of its own.
 */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const known = (err.code && clientErrors[err.code]) || notHttp;
  if (socket.writable) {
    const requestId = randomUUID();
    const body = JSON.stringify({ error: { code: known.code, message: known.message, details: {} }, requestId });
    socket.write(
      `HTTP/1.1 ${known.status} ${known.reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
