/**
 * The fuzz suite's catalogue of hostile values: what is sent to every field, path segment, query
 * value and header, and the random hostile values the fast-check runs draw from.
 */
import fc from 'fast-check';

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
