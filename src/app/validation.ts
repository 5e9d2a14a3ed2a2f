import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { findJsonProblem, findTextMapProblem, inputRefusal, textProblem } from '../platform/input-guard.js';
import type { AppError } from '../platform/errors.js';

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, removeAdditional: false, strict: false, ...options });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv;
}

// Bodies are JSON with real types: "5" is not 5, and unknown fields are refused rather than
// silently dropped (a typo such as `campain_name` must not vanish).
const bodyAjv = makeAjv({ coerceTypes: false });
// Query strings, path params and headers are text by nature: coerce "2" to 2 and "true" to true.
const textAjv = makeAjv({ coerceTypes: 'array' });

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object);

/** The refusal of a parsed JSON body that breaks the input rules (platform/input-guard.ts), or null. */
export function unsafeBody(value: unknown): AppError | null {
  const problem = findJsonProblem(value);
  return problem ? inputRefusal('body', problem) : null;
}

// The request headers the API itself reads. The HTTP parser refuses a NUL in a header of a real
// connection, but an injected request (tests, tools) is not parsed, and these reach the database.
const READ_HEADERS = ['authorization', 'x-product-code', 'idempotency-key'] as const;

/**
 * The input rules for every route, beyond the body (which the JSON parser checks): headers the API
 * reads before authentication uses them (onRequest), path parameters and query strings after it
 * (preValidation), so an anonymous caller still learns nothing about a route's input but `401`.
 * Register after the hook that sets X-Request-Id and before authentication.
 */
export function installInputGuard(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const headers = request.headers;
    for (const name of READ_HEADERS) {
      const value = headers[name];
      const message = typeof value === 'string' ? textProblem(value) : null;
      if (message !== null) return done(inputRefusal('headers', { field: name, message }));
    }
    done();
  });
  app.addHook('preValidation', (request, _reply, done) => {
    // A path no route has stays a 404 route_not_found, whatever it holds.
    if (request.is404) return done();
    const params = findTextMapProblem(request.params as Record<string, unknown>);
    if (params) return done(inputRefusal('params', params));
    const query = findTextMapProblem(request.query as Record<string, unknown>);
    if (query) return done(inputRefusal('querystring', query));
    done();
  });
}
