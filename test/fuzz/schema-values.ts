/**
 * The fuzz suite's generators, driven by `/openapi.json`: the operations of the spec, a valid
 * value for any JSON schema (so a mutated request still gets past validation to the service and
 * the database), every field path of a body schema, and JSON text with a hostile value spliced in
 * (the values themselves are in hostile-values.ts).
 */
import fc from 'fast-check';
import type { Hostile } from './hostile-values.js';

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
