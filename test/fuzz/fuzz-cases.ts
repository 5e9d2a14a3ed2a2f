/**
 * The fuzz cases of one operation: a valid base request with ONE thing replaced (a body field, a
 * path or query parameter, a header, the whole body), every field swept with the issue's classes,
 * and fast-check arbitraries for the random runs (including fully random requests).
 */
import fc from 'fast-check';
import { HEADER_VALUES, type Hostile, hostileArbitrary, MB, SWEEP_VALUES, URL_VALUES, urlArbitrary } from './hostile-values.js';
import { arbitraryOf, encodeWith, encodeWithout, type Field, type FieldPath, fieldsOf, type Operation, pathText } from './schema-values.js';

export type Case =
  | { target: 'none' }
  | { target: 'body'; path: FieldPath; hostile: Hostile }
  | { target: 'valid'; path: FieldPath; value: unknown }
  | { target: 'missing'; path: FieldPath }
  | { target: 'whole'; label: string; payload: string | Buffer | null; contentType?: string | null }
  | { target: 'path'; name: string; hostile: Hostile }
  | { target: 'query'; name: string; hostile: Hostile }
  | { target: 'query-repeat'; name: string }
  | { target: 'header'; name: string; hostile: Hostile }
  | { target: 'random'; path: Record<string, string>; query: [string, string][]; body: unknown };

/** The valid request a case starts from: raw (already encoded) URL parts, headers and body. */
export interface Base {
  path: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  /** The valid payload as text, when it is not JSON (a streamed import). */
  raw?: string;
  /** A valid value for the object at a field path (a missing optional parent of a mutated field). */
  fill: (path: FieldPath) => unknown;
}

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** What was changed, for the failure message. */
  mutation: string;
  /** The hostile value's class, for the summary across operations. */
  value: string;
  /** Where the value went. */
  target: Case['target'];
}

const DEEP = 5_000;

/** The whole-body cases: wrong JSON types, broken JSON, empty, huge, deep, other media types. */
function wholeBodyCases(op: Operation): Case[] {
  const json = 'application/json';
  const cases: Case[] = [
    { target: 'whole', label: 'array body', payload: '[]' },
    { target: 'whole', label: 'string body', payload: '"text"' },
    { target: 'whole', label: 'null body', payload: 'null' },
    { target: 'whole', label: 'number body', payload: '1' },
    { target: 'whole', label: 'raw 1e999 body', payload: '1e999' },
    { target: 'whole', label: 'empty body, JSON content type', payload: '', contentType: json },
    { target: 'whole', label: 'truncated JSON', payload: '{"a":' },
    { target: 'whole', label: 'two JSON values', payload: '{}{}' },
    { target: 'whole', label: 'BOM before JSON', payload: '\ufeff{}' },
    { target: 'whole', label: 'array nested 5,000 deep body', payload: '['.repeat(DEEP) + ']'.repeat(DEEP) },
    { target: 'whole', label: 'object nested 5,000 deep body', payload: '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP) },
    { target: 'whole', label: '__proto__ body', payload: '{"__proto__":{"polluted":1}}' },
    { target: 'whole', label: 'body over 1 MB', payload: JSON.stringify({ fz: 'x'.repeat(MB + 16) }) },
    { target: 'whole', label: 'invalid UTF-8 bytes', payload: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
    { target: 'whole', label: 'text/plain body', payload: '{}', contentType: 'text/plain' },
    { target: 'whole', label: 'form body', payload: 'a=1', contentType: 'application/x-www-form-urlencoded' },
    { target: 'whole', label: 'JSON as UTF-16', payload: '{}', contentType: 'application/json; charset=utf-16' },
    { target: 'whole', label: 'no content type', payload: '{}', contentType: null },
  ];
  if (op.body) cases.push({ target: 'whole', label: 'no body', payload: null });
  return cases;
}

/** A body for the streamed imports: a good row and a hostile one, in NDJSON or CSV. */
export function uploadCases(): Case[] {
  const ok = '{"user_id":"fz_import_ok"}';
  const nd = (label: string, line: string): Case => ({
    target: 'whole',
    label: `NDJSON: ${label}`,
    payload: `${ok}\n${line}\n{"user_id":"fz_import_ok2"}\n`,
    contentType: 'application/x-ndjson',
  });
  const csv = (label: string, text: string): Case => ({ target: 'whole', label: `CSV: ${label}`, payload: text, contentType: 'text/csv' });
  const deepObject = '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP);
  return [
    nd('NUL in user_id', '{"user_id":"a\\u0000b"}'),
    nd('NUL in a tag', '{"user_id":"fz_u1","tags":["a\\u0000b"]}'),
    nd('NUL in an attribute', '{"user_id":"fz_u1","attributes":{"k":"a\\u0000b"}}'),
    nd('1e999 in an attribute', '{"user_id":"fz_u1","attributes":{"k":1e999}}'),
    nd('30-digit integer user_id', '{"user_id":123456789012345678901234567890}'),
    nd('attribute nested 5,000 deep', `{"user_id":"fz_u1","attributes":{"k":${deepObject}}}`),
    nd('line nested 5,000 deep', '['.repeat(DEEP) + ']'.repeat(DEEP)),
    nd('lone surrogate user_id', '{"user_id":"a\\ud800b"}'),
    nd('string line with NUL', '"a\\u0000b"'),
    nd('not JSON', '{"user_id":'),
    nd('null line', 'null'),
    nd('10 KB user_id', `{"user_id":"${'x'.repeat(10 * 1024)}"}`),
    nd('__proto__ attribute', '{"user_id":"fz_u1","attributes":{"__proto__":{"polluted":1}}}'),
    { target: 'whole', label: 'NDJSON: invalid UTF-8', payload: Buffer.concat([Buffer.from('{"user_id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]), contentType: 'application/x-ndjson' },
    { target: 'whole', label: 'NDJSON: one line over 1 MB', payload: `{"user_id":"${'x'.repeat(MB + 16)}"}\n`, contentType: 'application/x-ndjson' },
    csv('json cell nested 5,000 deep', `user_id,prefs:json\nfz_u1,"${deepObject.replace(/"/g, '""')}"\nfz_u2,"{}"\n`),
    csv('number cell 1e999', 'user_id,age:number\nfz_u1,1e999\nfz_u2,3\n'),
    csv('NUL in user_id', 'user_id\n"a\u0000b"\nfz_u2\n'),
    csv('NUL in a tag', 'user_id,tags\nfz_u1,a\u0000b|c\n'),
    csv('NUL in a json cell', 'user_id,prefs:json\nfz_u1,"{""k"":""a\\u0000b""}"\n'),
    csv('unterminated quote', 'user_id\n"abc\n'),
    csv('header only', 'user_id\n'),
    csv('empty', ''),
    csv('no user_id column', 'name\nx\n'),
    csv('BOM and CRLF', '\ufeffuser_id\r\nfz_u1\r\n'),
    csv('10,000 columns', `${Array.from({ length: 10_000 }, (_, i) => `c${i}`).join(',')}\n${'1,'.repeat(9_999)}1\n`),
    { target: 'whole', label: 'upload as JSON', payload: '{"user_id":"fz_u1"}', contentType: 'application/json' },
    { target: 'whole', label: 'upload without a content type', payload: 'user_id\nfz_u1\n', contentType: null },
  ];
}

/** Header names worth fuzzing on this operation: its documented headers, auth and idempotency. */
function headerNames(op: Operation): string[] {
  return [...op.headerParams.map((p) => p.name.toLowerCase()), 'authorization', 'x-request-id', ...(op.method === 'POST' ? ['idempotency-key'] : [])];
}

/** Headers every route shares are swept with two values; the random runs try the rest. */
const SHARED_HEADERS = new Set(['authorization', 'x-request-id']);
const SHARED_HEADER_VALUES = HEADER_VALUES.filter((h) => h.label === 'empty' || h.label === '10 KB');

/** Query values are text: the URL classes without the ones only a path segment needs. */
const QUERY_VALUES = URL_VALUES.filter((h) => !['emoji', '1 KB', 'encoded dot-dot-slash', 'space', 'quote and semicolon', 'true', 'NaN', 'Infinity', '0', 'invalid percent-encoding %zz', 'overlong NUL %C0%80', 'date 30 February'].includes(h.label));

/** Every deterministic case of the sweep: each field, parameter and header with the issue's classes. */
export function sweepCases(op: Operation): Case[] {
  const cases: Case[] = [{ target: 'none' }];
  for (const p of op.pathParams) for (const hostile of URL_VALUES) cases.push({ target: 'path', name: p.name, hostile });
  for (const p of op.queryParams) {
    for (const hostile of QUERY_VALUES) cases.push({ target: 'query', name: p.name, hostile });
    cases.push({ target: 'query-repeat', name: p.name });
  }
  cases.push({ target: 'query', name: 'fz_unknown', hostile: { label: 'unknown parameter', raw: '1' } });
  for (const name of headerNames(op)) {
    for (const hostile of SHARED_HEADERS.has(name) ? SHARED_HEADER_VALUES : HEADER_VALUES) cases.push({ target: 'header', name, hostile });
  }
  if (op.upload) return [...cases, ...uploadCases()];
  // An operation without a body schema still gets the bodies most likely to upset a parser.
  const bodyless = ['array nested 5,000 deep body', 'raw 1e999 body', 'body over 1 MB', 'text/plain body'];
  cases.push(...wholeBodyCases(op).filter((c) => op.body || (c.target === 'whole' && bodyless.includes(c.label))));
  if (!op.body) return cases;
  const fields = fieldsOf(op.body);
  for (const field of fields) {
    for (const hostile of SWEEP_VALUES) cases.push({ target: 'body', path: field.path, hostile });
    if (field.required) cases.push({ target: 'missing', path: field.path });
  }
  // Unknown fields, at the top and inside every declared object.
  const objects: FieldPath[] = [[], ...fields.filter((f) => !f.freeForm && (f.schema.properties || f.schema.anyOf?.some((b: any) => b.properties))).map((f) => f.path)];
  for (const path of objects) cases.push({ target: 'body', path: [...path, 'fz_unknown_field'], hostile: { label: 'unknown field', value: 1 } });
  return cases;
}

/** The random cases: hostile or valid-random values in random places, and fully random requests. */
export function caseArbitrary(op: Operation): fc.Arbitrary<Case> {
  const options: fc.WeightedArbitrary<Case>[] = [];
  const fields: Field[] = op.body ? fieldsOf(op.body) : [];
  if (fields.length) {
    const field = fc.constantFrom(...fields);
    options.push({ weight: 6, arbitrary: fc.tuple(field, hostileArbitrary).map(([f, hostile]): Case => ({ target: 'body', path: f.path, hostile })) });
    options.push({ weight: 3, arbitrary: field.chain((f) => arbitraryOf(f.schema).map((value): Case => ({ target: 'valid', path: f.path, value }))) });
    options.push({ weight: 1, arbitrary: field.map((f): Case => ({ target: 'missing', path: f.path })) });
  }
  if (op.pathParams.length) {
    const name = fc.constantFrom(...op.pathParams.map((p) => p.name));
    options.push({ weight: 2, arbitrary: fc.tuple(name, urlArbitrary).map(([n, hostile]): Case => ({ target: 'path', name: n, hostile })) });
  }
  if (op.queryParams.length) {
    const name = fc.constantFrom(...op.queryParams.map((p) => p.name));
    options.push({ weight: 2, arbitrary: fc.tuple(name, urlArbitrary).map(([n, hostile]): Case => ({ target: 'query', name: n, hostile })) });
  }
  options.push({
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(...headerNames(op)), fc.constantFrom(...HEADER_VALUES)).map(([n, hostile]): Case => ({ target: 'header', name: n, hostile })),
  });
  options.push({ weight: 1, arbitrary: fc.constantFrom(...(op.upload ? uploadCases() : wholeBodyCases(op))) });
  options.push({
    weight: 1,
    arbitrary: fc
      .record({
        path: fc.record(Object.fromEntries(op.pathParams.map((p) => [p.name, urlArbitrary.map((h) => h.raw!)]))),
        query: fc.array(fc.tuple(fc.constantFrom(...op.queryParams.map((p) => p.name), 'page_size', 'fz'), urlArbitrary.map((h) => h.raw!)), { maxLength: 4 }),
        body: fc.jsonValue({ maxDepth: 4 }),
      })
      .map((r): Case => ({ target: 'random', ...r })),
  });
  return fc.oneof(...options);
}

/** The HTTP request of a case. */
export function requestFor(op: Operation, base: Base, c: Case): FuzzRequest {
  const path = { ...base.path };
  const query: [string, string][] = Object.entries(base.query);
  const headers = { ...base.headers };
  const hasBody = base.body !== undefined;
  let payload: string | Buffer | undefined = base.raw ?? (hasBody ? JSON.stringify(base.body) : undefined);
  let mutation = 'nothing (the valid request)';
  let value = 'none';
  switch (c.target) {
    case 'body':
      payload = encodeWith(base.body, c.path, c.hostile, base.fill);
      mutation = `body ${pathText(c.path)} <- ${c.hostile.label}`;
      value = c.hostile.label;
      break;
    case 'valid':
      payload = encodeWith(base.body, c.path, { label: 'schema-valid random value', value: c.value }, base.fill);
      mutation = `body ${pathText(c.path)} <- schema-valid random value ${JSON.stringify(c.value)?.slice(0, 120)}`;
      value = 'schema-valid random value';
      break;
    case 'missing':
      payload = encodeWithout(base.body, c.path);
      mutation = `body ${pathText(c.path)} removed`;
      value = 'missing field';
      break;
    case 'whole':
      payload = c.payload ?? undefined;
      if (c.contentType === null) delete headers['content-type'];
      else if (c.contentType) headers['content-type'] = c.contentType;
      else if (c.payload !== null) headers['content-type'] = 'application/json';
      if (c.payload === null) delete headers['content-type'];
      mutation = `whole body <- ${c.label}`;
      value = c.label;
      break;
    case 'path':
      path[c.name] = c.hostile.raw!;
      mutation = `path ${c.name} <- ${c.hostile.label}`;
      value = c.hostile.label;
      break;
    case 'query': {
      const at = query.findIndex(([k]) => k === c.name);
      if (at >= 0) query.splice(at, 1);
      query.push([c.name, c.hostile.raw!]);
      mutation = `query ${c.name} <- ${c.hostile.label}`;
      value = c.hostile.label;
      break;
    }
    case 'query-repeat':
      query.push([c.name, '1'], [c.name, '2']);
      mutation = `query ${c.name} given twice`;
      value = 'repeated parameter';
      break;
    case 'header':
      headers[c.name] = c.name === 'authorization' ? `Bearer ${c.hostile.value as string}` : (c.hostile.value as string);
      mutation = `header ${c.name} <- ${c.hostile.label}`;
      value = c.hostile.label;
      break;
    case 'random':
      Object.assign(path, c.path);
      query.push(...c.query);
      payload = JSON.stringify(c.body);
      headers['content-type'] = 'application/json';
      mutation = 'fully random request';
      value = 'fully random';
      break;
  }
  if (payload !== undefined && headers['content-type'] === undefined && c.target !== 'whole') headers['content-type'] = 'application/json';
  const url = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => path[name] ?? 'fz_missing') + (query.length ? `?${query.map(([k, v]) => `${k}=${v}`).join('&')}` : '');
  return { method: op.method, url, headers, ...(payload !== undefined ? { payload } : {}), mutation, value, target: c.target };
}
