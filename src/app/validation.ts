import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

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
