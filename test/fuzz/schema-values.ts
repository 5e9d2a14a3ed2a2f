/**
 * The fuzz suite's generators, driven by `/openapi.json`: the operations of the spec, a valid
 * value for any JSON schema (so a mutated request still gets past validation to the service and
 * the database), every field path of a body schema, and the catalogue of hostile values.
 */
import fc from 'fast-check';

export type JsonSchema = Record<string, any>;
export type FieldPath = (string | number)[];

export interface Param {
  name: string;
  required: boolean;
  schema: JsonSchema;
}

export interface Operation {
  /** `POST /v1/campaigns/{campaign_id}/publish`: the test name and the key of every report. */
  id: string;
  method: string;
  path: string;
  pathParams: Param[];
  queryParams: Param[];
  headerParams: Param[];
  /** The application/json request body schema, or null. */
  body: JsonSchema | null;
  bodyRequired: boolean;
  /** A streamed CSV / NDJSON upload (its body is not in the spec; its description names the types). */
  upload: boolean;
}

/** Every operation of the spec, `$ref`s resolved. */
export function operationsOf(spec: JsonSchema): Operation[] {
  const resolve = (s: JsonSchema): JsonSchema => resolveRefs(spec, s);
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries<JsonSchema>(spec.paths ?? {})) {
    for (const [method, op] of Object.entries<JsonSchema>(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const params = ((op.parameters ?? []) as JsonSchema[]).map(resolve);
      const of = (where: string): Param[] =>
        params.filter((p) => p.in === where).map((p) => ({ name: p.name, required: Boolean(p.required), schema: p.schema ?? {} }));
      const json = op.requestBody?.content?.['application/json']?.schema;
      const text = `${op.summary ?? ''} ${op.description ?? ''}`;
      ops.push({
        id: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        pathParams: of('path'),
        queryParams: of('query'),
        headerParams: of('header'),
        body: json ? resolve(json) : null,
        bodyRequired: Boolean(op.requestBody?.required),
        upload: !json && method === 'post' && /text\/csv|x-ndjson/.test(text),
      });
    }
  }
  return ops;
}

function resolveRefs(spec: JsonSchema, schema: unknown, depth = 0): any {
  if (depth > 20 || schema === null || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map((s) => resolveRefs(spec, s, depth + 1));
  const ref = (schema as JsonSchema).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/')) {
    const target = ref.slice(2).split('/').reduce<any>((node, key) => node?.[key], spec);
    return resolveRefs(spec, target, depth + 1);
  }
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, resolveRefs(spec, v, depth + 1)]));
}

/** The branches of an anyOf / oneOf, or the schema itself. */
export function branchesOf(schema: JsonSchema): JsonSchema[] {
  const list = schema.anyOf ?? schema.oneOf;
  return Array.isArray(list) ? list.flatMap(branchesOf) : [schema];
}

const isObjectSchema = (s: JsonSchema) => s.type === 'object' || (s.properties && !s.type);
const isFreeForm = (s: JsonSchema) =>
  isObjectSchema(s) && !s.properties && s.additionalProperties !== false;

/**
 * A valid value for `schema`: fixture values for fields named like a fixture (`campaign_id`,
 * `user_id` ...), then required fields only, the smallest lengths and the first enum member. Kept
 * plain and deterministic so most mutations of one field are refused for that field alone.
 */
export function validValue(schema: JsonSchema, name: string | undefined, known: Record<string, unknown>, depth = 0): unknown {
  if (name !== undefined && name in known && fits(schema, known[name])) return known[name];
  const branches = branchesOf(schema);
  const chosen = branches.find((b) => b.type !== 'null') ?? branches[0] ?? {};
  if (chosen.const !== undefined) return chosen.const;
  if (Array.isArray(chosen.enum)) return chosen.enum[0];
  if (chosen.default !== undefined) return chosen.default;
  switch (chosen.type) {
    case 'string':
      return validString(chosen, name);
    case 'integer':
    case 'number':
      return clamp(1, chosen.minimum ?? -Infinity, chosen.maximum ?? Infinity);
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'array': {
      const count = Math.max(chosen.minItems ?? 0, 1);
      const item = validValue(chosen.items ?? {}, undefined, known, depth + 1);
      return Array.from({ length: count }, (_, i) => (typeof item === 'string' && count > 1 ? `${item}${i}` : item));
    }
    default:
      if (!isObjectSchema(chosen) || depth > 8) return chosen.type === 'object' ? {} : 'fz';
      return validObject(chosen, known, depth);
  }
}

function validObject(schema: JsonSchema, known: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props: Record<string, JsonSchema> = schema.properties ?? {};
  const required = new Set<string>(schema.required ?? []);
  for (const [key, prop] of Object.entries(props)) {
    // Optional fields named like a fixture are filled too (product_code, campaign_id): without
    // them most creates are refused before the service does anything interesting.
    if (required.has(key) || (key in known && fits(prop, known[key]))) out[key] = validValue(prop, key, known, depth + 1);
  }
  const minProps = schema.minProperties ?? 0;
  for (const [key, prop] of Object.entries(props)) {
    if (Object.keys(out).length >= minProps) break;
    if (key !== 'tenant_id' && !(key in out)) out[key] = validValue(prop, key, known, depth + 1);
  }
  return out;
}

function validString(schema: JsonSchema, name: string | undefined): string {
  if (schema.format === 'date-time') return /end|until|to$/.test(name ?? '') ? '2099-12-31T23:59:59Z' : '2020-01-01T00:00:00Z';
  if (schema.format === 'date') return '2020-01-01';
  if (schema.format === 'email') return 'fuzz@example.com';
  if (schema.format === 'uri' || schema.format === 'url') return 'https://example.com/hook';
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? 64;
  const pattern = schema.pattern ? new RegExp(schema.pattern, 'u') : null;
  for (const base of ['fz1', 'fuzz', 'A1', 'a', '1']) {
    const s = base.length < min ? base + 'x'.repeat(min - base.length) : base.slice(0, Math.max(max, 1));
    if (s.length >= min && s.length <= max && (!pattern || pattern.test(s))) return s;
  }
  if (pattern) {
    const [sample] = fc.sample(fc.stringMatching(pattern).filter((s) => s.length >= min && s.length <= max), { seed: 1, numRuns: 1 });
    if (sample !== undefined) return sample;
  }
  return 'x'.repeat(Math.max(min, 1));
}

/** A cheap structural check: is `value` of a type one of the branches allows? */
function fits(schema: JsonSchema, value: unknown): boolean {
  return branchesOf(schema).some((b) => {
    if (Array.isArray(b.enum)) return b.enum.includes(value);
    if (b.type === 'string') return typeof value === 'string' && value.length >= (b.minLength ?? 0) && value.length <= (b.maxLength ?? Infinity);
    if (b.type === 'array') return Array.isArray(value);
    if (b.type === 'integer' || b.type === 'number') return typeof value === 'number';
    return b.type === undefined || typeof value === b.type;
  });
}

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

export interface Field {
  path: FieldPath;
  schema: JsonSchema;
  required: boolean;
  /** A key of a free-form object (metadata, attributes, event_data), not a declared property. */
  freeForm: boolean;
}

/** Every field of a body schema: declared properties, array items, and a key in free-form objects. */
export function fieldsOf(schema: JsonSchema, prefix: FieldPath = [], depth = 0): Field[] {
  if (depth > 6) return [];
  const out: Field[] = [];
  const seen = new Set<string>();
  const push = (f: Field) => {
    const key = f.path.join('.');
    if (!seen.has(key)) {
      seen.add(key);
      out.push(f);
    }
  };
  for (const branch of branchesOf(schema)) {
    if (branch.type === 'array' && branch.items) {
      push({ path: [...prefix, 0], schema: branch.items, required: false, freeForm: false });
      fieldsOf(branch.items, [...prefix, 0], depth + 1).forEach(push);
    }
    if (!isObjectSchema(branch)) continue;
    const required = new Set<string>(branch.required ?? []);
    for (const [key, prop] of Object.entries<JsonSchema>(branch.properties ?? {})) {
      push({ path: [...prefix, key], schema: prop, required: required.has(key), freeForm: false });
      fieldsOf(prop, [...prefix, key], depth + 1).forEach(push);
    }
    if (isFreeForm(branch)) {
      const inner = typeof branch.additionalProperties === 'object' ? branch.additionalProperties : {};
      push({ path: [...prefix, 'fz_key'], schema: inner, required: false, freeForm: true });
      fieldsOf(inner, [...prefix, 'fz_key'], depth + 1).forEach(push);
    }
  }
  return out;
}

/** A hostile JSON value: a value to encode, or raw JSON text that JSON.stringify cannot produce. */
export interface Hostile {
  label: string;
  value?: unknown;
  raw?: string;
}

const DEPTH = 5_000;
export const MB = 1 << 20;

/** The classes plus type confusion: sent to every field of every operation. */
export const SWEEP_VALUES: Hostile[] = [
  { label: 'NUL in a string', value: 'a\u0000b' },
  { label: 'control characters', value: '\u0001\u0008\u001b\u007f' },
  { label: 'lone surrogate', value: 'a\ud800b' },
  { label: 'raw 1e999', raw: '1e999' },
  { label: 'raw -1e999', raw: '-1e999' },
  { label: 'raw 30-digit integer', raw: '123456789012345678901234567890' },
  { label: 'array nested 5,000 deep', raw: '['.repeat(DEPTH) + ']'.repeat(DEPTH) },
  { label: 'object nested 5,000 deep', raw: '{"a":'.repeat(DEPTH) + '1' + '}'.repeat(DEPTH) },
  { label: 'null', value: null },
  { label: 'wrong type: boolean', value: true },
  { label: 'wrong type: object', value: { a: 1 } },
  { label: 'wrong type: string', value: 'fz' },
];

/**
 * Values no field can store faithfully (PostgreSQL text and jsonb hold no NUL, JSON numbers are
 * finite, a lone surrogate has no UTF-8 form) or that the documented depth limit refuses: a 2xx
 * answer to one of them in a body field, path or query parameter is a failure of its own.
 */
export const MUST_REFUSE = new Set([
  'NUL in a string',
  'NUL alone',
  'NUL deep in an object',
  'NUL in a key',
  'NUL',
  'NUL inside',
  'lone surrogate',
  'lone low surrogate',
  'raw 1e999',
  'raw -1e999',
  'raw 1e999 deep in an object',
  'array nested 5,000 deep',
  'object nested 5,000 deep',
]);

/** Everything else the random runs draw from. */
export const MORE_VALUES: Hostile[] = [
  { label: 'NUL alone', value: '\u0000' },
  { label: 'lone low surrogate', value: '\udfff' },
  { label: 'empty string', value: '' },
  { label: 'whitespace only', value: ' \t\n ' },
  { label: 'bidi and BOM', value: '\u202e\ufeffé😀ǅ' },
  { label: 'SQL and path text', value: "'; drop table tenant; -- ../../%00 ${x}" },
  { label: '10 KB string', value: 'x'.repeat(10 * 1024) },
  { label: '1 MB string', value: 'x'.repeat(MB) },
  { label: 'raw 2^53+1', raw: '9007199254740993' },
  { label: 'raw -0', raw: '-0' },
  { label: 'raw 1e-400', raw: '1e-400' },
  { label: '1e308', value: 1e308 },
  { label: '-1', value: -1 },
  { label: '0', value: 0 },
  { label: '1.5', value: 1.5 },
  { label: '2^31', value: 2 ** 31 },
  { label: '-2^63', raw: '-9223372036854775808' },
  { label: 'empty array', value: [] },
  { label: 'empty object', value: {} },
  { label: 'array of a string', value: ['a'] },
  { label: 'NUL deep in an object', value: { a: { b: ['x\u0000y'] } } },
  { label: 'NUL in a key', raw: '{"a\\u0000b":1}' },
  { label: 'raw 1e999 deep in an object', raw: '{"a":{"b":[1e999]}}' },
  { label: '10,000 keys', value: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i])) },
  { label: '100,000 array elements', raw: `[${'0,'.repeat(99_999)}0]` },
  { label: 'array nested 500 deep', raw: '['.repeat(500) + ']'.repeat(500) },
  { label: '__proto__ key', raw: '{"__proto__":{"polluted":1}}' },
  { label: 'constructor.prototype key', raw: '{"constructor":{"prototype":{"polluted":1}}}' },
  { label: 'date year 0', value: '0000-01-01T00:00:00Z' },
  { label: 'date year 9999', value: '9999-12-31T23:59:59Z' },
  { label: 'date 30 February', value: '2024-02-30T00:00:00Z' },
  { label: 'date leap second', value: '2016-12-31T23:59:60Z' },
  { label: 'date offset +23:59', value: '2024-01-01T00:00:00+23:59' },
  { label: 'date year 275760', value: '+275760-09-13T00:00:00Z' },
];

/** Hostile URL text for a path segment or a query value, already percent-encoded (or not, on purpose). */
export const URL_VALUES: Hostile[] = [
  { label: 'NUL', raw: '%00' },
  { label: 'NUL inside', raw: 'a%00b' },
  { label: 'control characters', raw: '%01%1F%7F' },
  { label: 'invalid percent-encoding %ff', raw: '%ff' },
  { label: 'lone %', raw: '%' },
  { label: 'invalid percent-encoding %zz', raw: '%zz' },
  { label: 'overlong NUL %C0%80', raw: '%C0%80' },
  { label: 'surrogate bytes %ED%A0%80', raw: '%ED%A0%80' },
  { label: 'emoji', raw: '%F0%9F%98%80' },
  { label: '10 KB', raw: 'a'.repeat(10 * 1024) },
  { label: '1 KB', raw: 'a'.repeat(1024) },
  { label: '-1', raw: '-1' },
  { label: '0', raw: '0' },
  { label: '1.5', raw: '1.5' },
  { label: '1e999', raw: '1e999' },
  { label: '30-digit integer', raw: '123456789012345678901234567890' },
  { label: 'huge page size', raw: '1000000000' },
  { label: '2^53+1', raw: '9007199254740993' },
  { label: 'NaN', raw: 'NaN' },
  { label: 'Infinity', raw: 'Infinity' },
  { label: 'true', raw: 'true' },
  { label: 'encoded dot-dot-slash', raw: '..%2F..%2Fetc' },
  { label: 'space', raw: '%20' },
  { label: 'date year 0', raw: '0000-01-01T00:00:00Z' },
  { label: 'date 30 February', raw: '2024-02-30T00:00:00Z' },
  { label: 'quote and semicolon', raw: "'%3B--" },
];

/** Header values a client can really send (Node refuses control characters in headers). */
export const HEADER_VALUES: Hostile[] = [
  { label: 'empty', value: '' },
  { label: '10 KB', value: 'x'.repeat(10 * 1024) },
  { label: 'tab inside', value: 'a\tb' },
  { label: 'latin-1 byte', value: 'caf\u00e9\u00ff' },
  { label: 'list', value: 'app1, app2' },
  { label: 'dot-dot-slash', value: '../../etc' },
];

/** Valid-by-schema random values: the random runs also explore the space the schema allows. */
export function arbitraryOf(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  const branches = branchesOf(schema);
  if (branches.length > 1) return fc.oneof(...branches.map((b) => arbitraryOf(b, depth + 1)));
  const s = branches[0] ?? {};
  if (s.const !== undefined) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  switch (s.type) {
    case 'string': {
      if (s.format === 'date-time') {
        return fc
          .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
          .map((d) => d.toISOString());
      }
      const maxLength = Math.min(s.maxLength ?? 300, 300);
      const minLength = Math.min(s.minLength ?? 0, maxLength);
      if (s.pattern) {
        return fc.stringMatching(new RegExp(s.pattern, 'u'), { size: 'small' }).filter((v) => v.length >= minLength && v.length <= maxLength);
      }
      // 'binary' draws any code point, NUL and lone surrogates included.
      return fc.string({ unit: 'binary', minLength, maxLength });
    }
    case 'integer':
      return fc.integer({ min: Math.max(s.minimum ?? -(2 ** 31), -(2 ** 31)), max: Math.min(s.maximum ?? 2 ** 31, 2 ** 31) });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, ...(s.minimum !== undefined ? { min: s.minimum } : {}), ...(s.maximum !== undefined ? { max: s.maximum } : {}) });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(depth > 4 ? fc.constant('fz') : arbitraryOf(s.items ?? {}, depth + 1), {
        minLength: s.minItems ?? 0,
        maxLength: Math.min(s.maxItems ?? 4, 4),
      });
    default:
      if (!isObjectSchema(s) || depth > 4) return fc.jsonValue({ maxDepth: 3 });
      if (isFreeForm(s) && !s.properties) return fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });
      return fc.record(
        Object.fromEntries(Object.entries<JsonSchema>(s.properties ?? {}).map(([k, v]) => [k, arbitraryOf(v, depth + 1)])),
        { requiredKeys: (s.required ?? []) as string[] },
      );
  }
}

/** A random hostile value: the catalogue, arbitrary JSON, any code points, or number text. */
export const hostileArbitrary: fc.Arbitrary<Hostile> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SWEEP_VALUES, ...MORE_VALUES) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => ({ label: 'random JSON', value })) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((value) => ({ label: 'random code points', value })) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map((n) => ({ label: 'random big integer', raw: String(n) })) },
  { weight: 1, arbitrary: fc.double().map((d) => ({ label: 'random double', raw: Number.isFinite(d) ? String(d) : String(d).replace('Infinity', '1e999') })) },
);

/** A random URL value: the catalogue, or any code points percent-encoded byte by byte. */
export const urlArbitrary: fc.Arbitrary<Hostile> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...URL_VALUES) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map((s) => ({ label: 'random code points', raw: encodeBytes(s) })) },
);

/** Percent-encodes every UTF-8 byte, lone surrogates as their (invalid) three-byte form. */
export function encodeBytes(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const bytes = cp >= 0xd800 && cp <= 0xdfff ? [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)] : [...Buffer.from(ch, 'utf8')];
    out += bytes.map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
  }
  return out;
}

const SENTINEL = '__fz_raw_value__';

/** JSON text of `body` with `hostile` at `path` (raw text spliced in where JSON cannot say it). */
export function encodeWith(body: unknown, path: FieldPath, hostile: Hostile, fill: (parentPath: FieldPath) => unknown): string {
  const copy = structuredClone(body ?? {}) as any;
  const value = hostile.raw !== undefined ? SENTINEL : hostile.value;
  if (path.length === 0) return hostile.raw ?? JSON.stringify(value);
  let node = copy;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    if (node[key] === null || typeof node[key] !== 'object') node[key] = fill(path.slice(0, i + 1)) ?? (typeof path[i + 1] === 'number' ? [] : {});
    if (node[key] === null || typeof node[key] !== 'object') node[key] = typeof path[i + 1] === 'number' ? [] : {};
    node = node[key];
  }
  node[path[path.length - 1]!] = value;
  const text = JSON.stringify(copy);
  return hostile.raw !== undefined ? text.replace(`"${SENTINEL}"`, () => hostile.raw!) : text;
}

/** JSON text of `body` without the field at `path`. */
export function encodeWithout(body: unknown, path: FieldPath): string {
  const copy = structuredClone(body ?? {}) as any;
  let node = copy;
  for (let i = 0; i < path.length - 1 && node && typeof node === 'object'; i++) node = node[path[i]!];
  if (node && typeof node === 'object') {
    if (Array.isArray(node)) node.splice(Number(path[path.length - 1]), 1);
    else delete node[path[path.length - 1]!];
  }
  return JSON.stringify(copy);
}

export const pathText = (path: FieldPath) => (path.length ? path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[') : '(whole body)');
