import { describe, expect, it } from 'vitest';
import { findJsonProblem, findTextMapProblem, inputRefusal, MAX_JSON_DEPTH, numberProblem, textProblem } from './input-guard.js';

/** `levels` arrays inside each other, built without recursion (`[[[...]]]`). */
function deepArrays(levels: number): unknown[] {
  const root: unknown[] = [];
  let at = root;
  for (let i = 1; i < levels; i++) {
    const next: unknown[] = [];
    at.push(next);
    at = next;
  }
  return root;
}

describe('textProblem', () => {
  it('takes ordinary text, control characters other than NUL, and well-formed surrogate pairs', () => {
    for (const text of ['', 'plain', 'line\nline\ttab\r\u0001\u001f\u007f', '\ud83d\ude00 emoji', '\ufffd\uffff', 'é中文']) {
      expect(textProblem(text), JSON.stringify(text)).toBeNull();
    }
  });

  it('refuses a NUL anywhere and any lone surrogate, high or low, or a pair in the wrong order', () => {
    for (const text of ['\u0000', 'a\u0000', '\u0000b']) expect(textProblem(text)).toMatch(/NUL/);
    for (const text of ['\ud800', 'a\ud83d', '\ude00b', '\ude00\ud83d', 'ok \ud83d\ude00 then \udbff']) {
      expect(textProblem(text), JSON.stringify(text)).toMatch(/surrogate/);
    }
  });
});

describe('numberProblem', () => {
  it('takes every number up to +/-(2^53 - 1), fractions and tiny ones too', () => {
    for (const n of [0, -0, 1.5, -1e-300, 5e-324, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) expect(numberProblem(n), String(n)).toBeNull();
  });

  it('refuses non-finite numbers and anything past 2^53 - 1', () => {
    for (const n of [Infinity, -Infinity, NaN]) expect(numberProblem(n)).toMatch(/finite/);
    for (const n of [2 ** 53, -(2 ** 53), 2 ** 53 + 2, 1e300]) expect(numberProblem(n)).toMatch(/2\^53/);
  });
});

describe('findJsonProblem', () => {
  it('passes a clean document, booleans and nulls included', () => {
    expect(findJsonProblem(JSON.parse('{"a":[1,"x\\n",true,null,{"b":{}}],"c":-2.5,"\\ud83d\\ude00":"ok"}'))).toBeNull();
    for (const scalar of [null, true, 1, 'text']) expect(findJsonProblem(scalar)).toBeNull();
  });

  it('names the field by its dotted path: object keys and array indices', () => {
    expect(findJsonProblem(JSON.parse('{"metadata":{"a":{"b":"x\\u0000"}}}'))).toEqual({ field: 'metadata.a.b', message: expect.stringMatching(/NUL/) });
    expect(findJsonProblem({ list: [1, 2, { n: Infinity }] })?.field).toBe('list.2.n');
    expect(findJsonProblem([[0, '\ud800']])?.field).toBe('0.1');
    expect(findJsonProblem('\u0000')).toEqual({ field: '', message: expect.stringMatching(/NUL/) });
    expect(findJsonProblem(-Infinity)?.field).toBe('');
  });

  it('checks object keys, showing a bad character in the path as its escape', () => {
    const problem = findJsonProblem(JSON.parse('{"a":{"k\\u0000":1}}'));
    expect(problem).toEqual({ field: 'a.k\\u0000', message: expect.stringMatching(/^\(the key\) .*NUL/) });
    expect(findJsonProblem({ ['\udc00']: 1 })?.field).toBe('\\udc00');
  });

  it(`takes exactly ${MAX_JSON_DEPTH} levels, counting the root, and refuses the next`, () => {
    expect(findJsonProblem(deepArrays(MAX_JSON_DEPTH))).toBeNull();
    const problem = findJsonProblem(deepArrays(MAX_JSON_DEPTH + 1));
    expect(problem?.message).toMatch(new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`));
    expect(problem?.field.split('.')).toHaveLength(MAX_JSON_DEPTH);
    // A scalar at the deepest level is not another level.
    expect(findJsonProblem(JSON.parse('{"a":'.repeat(MAX_JSON_DEPTH) + '1' + '}'.repeat(MAX_JSON_DEPTH)))).toBeNull();
    expect(findJsonProblem({ a: [] }, 1)?.field).toBe('a');
  });

  it('walks a document nested 200,000 levels deep without overflowing the stack', () => {
    expect(findJsonProblem(deepArrays(200_000))?.message).toMatch(/deeper than/);
    // Past the limit nothing more is looked at: the refusal names the depth, not a NUL below it.
    const tooDeep = deepArrays(MAX_JSON_DEPTH + 5);
    let leaf = tooDeep;
    while (leaf.length) leaf = leaf[0] as unknown[];
    leaf.push('\u0000');
    expect(findJsonProblem(tooDeep)?.message).toMatch(/deeper than/);
  });

  it('walks wide documents too (every element, not only the first)', () => {
    const wide = Array.from({ length: 10_000 }, (_, i) => ({ i, tags: ['a', 'b'] }));
    expect(findJsonProblem(wide)).toBeNull();
    wide[9_999]!.tags[1] = 'b\u0000';
    expect(findJsonProblem(wide)?.field).toBe('9999.tags.1');
  });
});

describe('findTextMapProblem', () => {
  it('checks names and values of params and query strings, repeated keys included', () => {
    expect(findTextMapProblem({ a: 'x', b: ['y', 'z'], n: 5 })).toBeNull();
    expect(findTextMapProblem(undefined)).toBeNull();
    expect(findTextMapProblem({ user_id: 'a\u0000' })).toEqual({ field: 'user_id', message: expect.stringMatching(/NUL/) });
    expect(findTextMapProblem({ tag: ['ok', '\ud800'] })?.field).toBe('tag');
    expect(findTextMapProblem({ ['k\u0000']: 'v' })).toEqual({ field: 'k\\u0000', message: expect.stringMatching(/^\(the name\)/) });
  });
});

describe('inputRefusal', () => {
  it('is 400 invalid_request in the shape schema validation errors have', () => {
    const err = inputRefusal('body', { field: 'metadata.a', message: 'contains a NUL character' });
    expect([err.status, err.code, err.message]).toEqual([400, 'invalid_request', 'metadata.a contains a NUL character']);
    expect(err.details).toEqual({ field: 'metadata.a', location: 'body', errors: [{ field: 'metadata.a', message: 'contains a NUL character' }] });
    expect(inputRefusal('body', { field: '', message: 'm' }).details?.field).toBe('body');
  });
});
