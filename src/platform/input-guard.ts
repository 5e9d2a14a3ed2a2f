/**
 * What any input of the service is held to before a route, a reader or the database sees it,
 * decided here once rather than field by field: every request body (the JSON parser), path
 * parameters, query strings, the headers the API reads, and every NDJSON line and import row.
 *
 * - Text holds no U+0000 and no lone UTF-16 surrogate: PostgreSQL text and jsonb cannot store
 *   either (the NUL fails the statement, a 500), and node-postgres silently turns a lone surrogate
 *   into U+FFFD, so what was stored would not be what was sent. Other control characters (\n, \t)
 *   are ordinary text.
 * - Numbers are finite and within +/-(2^53 - 1): JSON.parse turns 1e999 into Infinity, which
 *   JSON.stringify writes as null (stored silently, or failing a response schema after the
 *   commit), and an integer past 2^53 has already lost its exact value when it arrives.
 * - Objects and arrays nest at most MAX_JSON_DEPTH levels: JSON.stringify and every recursive
 *   reader after the parser overflow the stack at a few thousand.
 *
 * The walk is one pass with an explicit stack (no recursion, so no depth can overflow it) that
 * allocates a frame per object or array only; a path is built only for the refusal.
 */
import { AppError } from './errors.js';

/**
 * The deepest nesting of objects and arrays a request body, an NDJSON line or an import row may
 * have, counting the body itself as level 1: `{"metadata": {"a": 1}}` is 2 levels. Rule trees,
 * forms and attributes stay far below it; the stack overflows at a few thousand.
 */
export const MAX_JSON_DEPTH = 64;

/** What is wrong and where: `field` is a dotted path from the root (`metadata.a.0`), '' for the root. */
export interface InputProblem {
  field: string;
  message: string;
}

export type InputLocation = 'body' | 'params' | 'querystring' | 'headers';

const SUSPECT = /[\0\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` cannot be stored, or null. One native scan for the common, clean case. */
export function textProblem(text: string): string | null {
  if (!SUSPECT.test(text)) return null;
  if (text.includes('\0')) return 'contains a NUL character (U+0000), which cannot be stored';
  if (LONE_SURROGATE.test(text)) return 'contains a lone UTF-16 surrogate (U+D800-U+DFFF), which cannot be stored';
  // Only well-formed surrogate pairs (emoji and the like): ordinary text.
  return null;
}

/** Why `n` cannot be taken as sent, or null. */
export function numberProblem(n: number): string | null {
  if (n <= Number.MAX_SAFE_INTEGER && n >= -Number.MAX_SAFE_INTEGER) return null;
  if (!Number.isFinite(n)) return 'is not a finite number (1e999 and the like overflow to Infinity, which JSON cannot carry)';
  return 'is beyond +/-(2^53 - 1) = 9007199254740991, past which a JSON number is no longer exact; send it as a string';
}

interface Frame {
  value: object;
  depth: number;
  parent: Frame | null;
  key: string | number;
}

/** A key as it can be shown in a path: a NUL or a surrogate as the \uXXXX escape. */
const printable = (key: string | number) =>
  typeof key === 'number' ? String(key) : key.replace(/[\0\uD800-\uDFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function problemAt(parent: Frame | null, key: string | number | null, message: string): InputProblem {
  const keys: (string | number)[] = key === null ? [] : [key];
  for (let f = parent; f?.parent; f = f.parent) keys.push(f.key);
  return { field: keys.reverse().map(printable).join('.'), message };
}

/**
 * The first value of a parsed JSON document that breaks the rules above, or null. `value` is what
 * JSON.parse returned (plain objects, no prototype keys), so own enumerable keys are all there is.
 */
export function findJsonProblem(value: unknown, maxDepth: number = MAX_JSON_DEPTH): InputProblem | null {
  if (typeof value !== 'object' || value === null) {
    const message = typeof value === 'string' ? textProblem(value) : typeof value === 'number' ? numberProblem(value) : null;
    return message === null ? null : { field: '', message };
  }
  const stack: Frame[] = [{ value, depth: 1, parent: null, key: '' }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const container = frame.value;
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) {
        const problem = visit(stack, frame, i, container[i], maxDepth);
        if (problem) return problem;
      }
      continue;
    }
    for (const key in container) {
      const keyMessage = textProblem(key);
      if (keyMessage !== null) return problemAt(frame, key, `(the key) ${keyMessage}`);
      const problem = visit(stack, frame, key, (container as Record<string, unknown>)[key], maxDepth);
      if (problem) return problem;
    }
  }
  return null;
}

/** Checks a scalar in place, or queues a container one level deeper. */
function visit(stack: Frame[], parent: Frame, key: string | number, value: unknown, maxDepth: number): InputProblem | null {
  switch (typeof value) {
    case 'string': {
      const message = textProblem(value);
      return message === null ? null : problemAt(parent, key, message);
    }
    case 'number': {
      const message = numberProblem(value);
      return message === null ? null : problemAt(parent, key, message);
    }
    case 'object':
      if (value === null) return null;
      if (parent.depth >= maxDepth) return problemAt(parent, key, `nests deeper than ${maxDepth} levels of objects and arrays (counting the whole document)`);
      stack.push({ value, depth: parent.depth + 1, parent, key });
      return null;
    default:
      return null;
  }
}

/**
 * The first key or value of a flat text map (path parameters, a parsed query string, where a
 * repeated key is an array) that cannot be stored, named by its key.
 */
export function findTextMapProblem(map: Record<string, unknown> | null | undefined): InputProblem | null {
  if (!map) return null;
  for (const key in map) {
    const keyMessage = textProblem(key);
    if (keyMessage !== null) return { field: printable(key), message: `(the name) ${keyMessage}` };
    const value = map[key];
    if (typeof value === 'string') {
      const message = textProblem(value);
      if (message !== null) return { field: key, message };
    } else if (Array.isArray(value)) {
      for (const item of value) {
        const message = typeof item === 'string' ? textProblem(item) : null;
        if (message !== null) return { field: key, message };
      }
    }
  }
  return null;
}

/**
 * 400 invalid_request for a problem, in the shape schema validation errors have: `details.field`
 * (the root of a body is `body`), `details.location`, and `details.errors` listing it.
 */
export function inputRefusal(location: InputLocation, problem: InputProblem): AppError {
  const field = problem.field === '' ? location : problem.field;
  return new AppError('invalid', 'invalid_request', `${field} ${problem.message}`, {
    field,
    location,
    errors: [{ field, message: problem.message }],
  });
}
