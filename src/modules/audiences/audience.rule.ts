/**
 * Audience rules: validation on save (every error names the node, e.g. `rule.and[1].or[0].op`)
 * and the checked form the SQL compiler works from. Pure code, no database.
 *
 * TAG rule:     {"tags_any"?: [...], "tags_all"?: [...], "tags_none"?: [...]}  (at least one)
 * SEGMENT rule: a tree of {"and": [...]}, {"or": [...]}, {"not": {...}} and conditions
 *               {"field", "op", "value"?} over `tags`, `attributes.<key>[.<key>...]`,
 *               `created_at`, `updated_at`, `user_id` and `consent.<sms|email|push>`.
 */
import { instantMs } from '../customers/index.js';
import { audienceErrors } from './audience.errors.js';

export const OPS = ['eq', 'neq', 'in', 'not_in', 'gt', 'gte', 'lt', 'lte', 'between', 'contains', 'exists', 'before', 'after'] as const;
export type Op = (typeof OPS)[number];

export type Scalar = string | number | boolean;
/** An instant: absolute, or relative to the evaluation time (resolved by the compiler's clock). */
export type DateValue = { at: string } | { offsetMs: number };
/** What a comparison compares: numbers, dates, or plain text (byte order). */
export type Bound = { kind: 'number'; value: number } | { kind: 'date'; value: DateValue } | { kind: 'text'; value: string };

export type Field =
  | { kind: 'tags' }
  | { kind: 'attribute'; path: string[] }
  | { kind: 'column'; name: 'created_at' | 'updated_at' }
  | { kind: 'user_id' }
  | { kind: 'consent'; channel: string };

export type Leaf =
  | { kind: 'leaf'; text: string; field: Field; op: 'eq' | 'neq' | 'contains'; value: Scalar }
  | { kind: 'leaf'; text: string; field: Field; op: 'in' | 'not_in'; value: Scalar[] }
  | { kind: 'leaf'; text: string; field: Field; op: 'gt' | 'gte' | 'lt' | 'lte'; value: Bound }
  | { kind: 'leaf'; text: string; field: Field; op: 'between'; value: [Bound, Bound] }
  | { kind: 'leaf'; text: string; field: Field; op: 'exists' }
  | { kind: 'tagset'; text: string; op: 'tags_any' | 'tags_all' | 'tags_none'; value: string[] };

export type Cond = { kind: 'and' | 'or'; children: Cond[] } | { kind: 'not'; child: Cond } | Leaf;

export const RULE_LIMITS = { nodes: 200, depth: 10, listValues: 1000, bytes: 32 * 1024 };

const KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const DURATION = /^([0-9]{1,6})(m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const CHANNELS = ['sms', 'email', 'push'];

/** Which operators each field takes. */
const OPS_BY_FIELD: Record<Field['kind'], readonly Op[]> = {
  tags: ['contains', 'in', 'not_in', 'exists'],
  attribute: OPS,
  column: ['gt', 'gte', 'lt', 'lte', 'between', 'before', 'after'],
  user_id: ['eq', 'neq', 'in', 'not_in'],
  consent: ['eq', 'neq', 'in', 'not_in', 'exists'],
};

interface Problem {
  path: string;
  message: string;
}

class Checker {
  readonly problems: Problem[] = [];
  nodes = 0;

  fail(path: string, message: string): null {
    this.problems.push({ path, message });
    return null;
  }
}

/** Dates in rules take the shapes dates in attributes are recognised by (customer.dates.ts). */
export function isInstant(text: string): boolean {
  return instantMs(text) !== null;
}

function throwProblems(problems: Problem[]): never {
  throw audienceErrors.invalidRule(problems);
}

/** Checks a TAG rule and returns its conditions (an `and` of the tag sets given). */
export function checkTagRule(rule: unknown, path = 'rule'): Cond {
  const c = new Checker();
  if (!isObject(rule)) throwProblems([{ path, message: 'a TAG audience needs a rule object {tags_any?, tags_all?, tags_none?}' }]);
  const children: Cond[] = [];
  for (const key of Object.keys(rule)) {
    if (key !== 'tags_any' && key !== 'tags_all' && key !== 'tags_none') {
      c.fail(`${path}.${key}`, 'is not a TAG rule key (tags_any, tags_all, tags_none)');
      continue;
    }
    const tags = tagList(c, `${path}.${key}`, rule[key]);
    if (tags) children.push({ kind: 'tagset', op: key, value: tags, text: `${key} ${JSON.stringify(tags)}` });
  }
  if (c.problems.length === 0 && children.length === 0) c.fail(path, 'give at least one of tags_any, tags_all, tags_none');
  if (c.problems.length) throwProblems(c.problems);
  return { kind: 'and', children };
}

/** Checks a SEGMENT rule tree; every problem is reported with the path of its node. */
export function checkSegmentRule(rule: unknown, path = 'rule'): Cond {
  const c = new Checker();
  if (JSON.stringify(rule ?? null).length > RULE_LIMITS.bytes) throwProblems([{ path, message: `is larger than ${RULE_LIMITS.bytes} bytes` }]);
  const cond = node(c, rule, path, 1);
  if (c.problems.length || !cond) throwProblems(c.problems.length ? c.problems : [{ path, message: 'is invalid' }]);
  return cond;
}

function tagList(c: Checker, path: string, v: unknown): string[] | null {
  if (!Array.isArray(v) || v.length === 0 || v.length > RULE_LIMITS.listValues) return c.fail(path, `must be an array of 1-${RULE_LIMITS.listValues} tags`);
  for (let i = 0; i < v.length; i++) {
    const tag: unknown = v[i];
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > 64) return c.fail(`${path}[${i}]`, 'must be a tag (1-64 characters)');
  }
  return [...new Set(v as string[])];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function node(c: Checker, value: unknown, path: string, depth: number): Cond | null {
  c.nodes += 1;
  if (c.nodes > RULE_LIMITS.nodes) return c.fail(path, `a rule has at most ${RULE_LIMITS.nodes} nodes`);
  if (depth > RULE_LIMITS.depth) return c.fail(path, `a rule nests at most ${RULE_LIMITS.depth} levels`);
  if (!isObject(value)) return c.fail(path, 'must be an object: {and: [...]}, {or: [...]}, {not: {...}} or {field, op, value}');
  const keys = Object.keys(value);
  for (const group of ['and', 'or'] as const) {
    if (group in value) {
      if (keys.length !== 1) return c.fail(path, `an "${group}" node has no other keys (found ${keys.filter((k) => k !== group).join(', ')})`);
      const list = value[group];
      if (!Array.isArray(list) || list.length === 0) return c.fail(`${path}.${group}`, 'must be a non-empty array of rules');
      const children = list.map((child, i) => node(c, child, `${path}.${group}[${i}]`, depth + 1));
      return children.every((x) => x !== null) ? { kind: group, children: children as Cond[] } : null;
    }
  }
  if ('not' in value) {
    if (keys.length !== 1) return c.fail(path, 'a "not" node has no other keys');
    const child = node(c, value.not, `${path}.not`, depth + 1);
    return child ? { kind: 'not', child } : null;
  }
  return leaf(c, value, path);
}

function parseField(c: Checker, raw: unknown, path: string): Field | null {
  if (typeof raw !== 'string' || raw === '') return c.fail(path, 'must name a field: tags, attributes.<key>, created_at, updated_at, user_id, consent.<channel>');
  if (raw === 'tags') return { kind: 'tags' };
  if (raw === 'user_id') return { kind: 'user_id' };
  if (raw === 'created_at' || raw === 'updated_at') return { kind: 'column', name: raw };
  const [head, ...rest] = raw.split('.');
  if (head === 'attributes' && rest.length > 0 && rest.length <= 5) {
    const bad = rest.find((k) => !KEY.test(k));
    if (bad !== undefined) return c.fail(path, `"${bad}" is not an attribute name (letters, digits, _ and -)`);
    return { kind: 'attribute', path: rest };
  }
  if (head === 'consent' && rest.length === 1 && CHANNELS.includes(rest[0]!)) return { kind: 'consent', channel: rest[0]! };
  return c.fail(path, `unknown field "${raw}": use tags, attributes.<key>, created_at, updated_at, user_id or consent.<sms|email|push>`);
}

function leaf(c: Checker, value: Record<string, unknown>, path: string): Cond | null {
  for (const key of Object.keys(value)) {
    if (key !== 'field' && key !== 'op' && key !== 'value') return c.fail(`${path}.${key}`, 'is not a condition key (field, op, value); groups are and / or / not');
  }
  const field = parseField(c, value.field, `${path}.field`);
  if (!field) return null;
  const op = value.op;
  if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op)) return c.fail(`${path}.op`, `must be one of ${OPS.join(', ')}`);
  if (!OPS_BY_FIELD[field.kind].includes(op as Op)) {
    return c.fail(`${path}.op`, `${op} does not apply to ${value.field as string} (use ${OPS_BY_FIELD[field.kind].join(', ')})`);
  }
  const vpath = `${path}.value`;
  const text = (shown: unknown) => `${value.field as string} ${op}${shown === undefined ? '' : ` ${JSON.stringify(shown)}`}`;
  const v = value.value;
  const expectString = field.kind !== 'attribute';
  switch (op as Op) {
    case 'exists':
      if (v !== undefined) return c.fail(vpath, 'exists takes no value (wrap it in "not" for absence)');
      return { kind: 'leaf', field, op: 'exists', text: text(undefined) };
    case 'eq':
    case 'neq':
    case 'contains': {
      const s = scalar(c, v, vpath);
      if (s === null) return null;
      if (expectString && typeof s !== 'string') return c.fail(vpath, 'must be a string');
      if (field.kind === 'consent' && s !== 'opt_in' && s !== 'opt_out') return c.fail(vpath, 'must be opt_in or opt_out');
      return { kind: 'leaf', field, op: op as 'eq', value: s, text: text(s) };
    }
    case 'in':
    case 'not_in': {
      if (!Array.isArray(v) || v.length === 0 || v.length > RULE_LIMITS.listValues) {
        return c.fail(vpath, `must be an array of 1-${RULE_LIMITS.listValues} values`);
      }
      const values: Scalar[] = [];
      for (let i = 0; i < v.length; i++) {
        const s = scalar(c, v[i], `${vpath}[${i}]`);
        if (s === null) return null;
        if (expectString && typeof s !== 'string') return c.fail(`${vpath}[${i}]`, 'must be a string');
        values.push(s);
      }
      return { kind: 'leaf', field, op: op as 'in', value: values, text: text(values) };
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
    case 'before':
    case 'after': {
      const dateOnly = op === 'before' || op === 'after' || field.kind === 'column';
      const b = bound(c, v, vpath, dateOnly);
      if (!b) return null;
      const mapped = op === 'before' ? 'lt' : op === 'after' ? 'gt' : op;
      return { kind: 'leaf', field, op: mapped as 'gt', value: b, text: text(v) };
    }
    case 'between': {
      if (!Array.isArray(v) || v.length !== 2) return c.fail(vpath, 'must be [low, high]');
      const dateOnly = field.kind === 'column';
      const low = bound(c, v[0], `${vpath}[0]`, dateOnly);
      const high = bound(c, v[1], `${vpath}[1]`, dateOnly);
      if (!low || !high) return null;
      if (low.kind !== high.kind) return c.fail(vpath, `low and high must be of one kind (got ${low.kind} and ${high.kind})`);
      if (low.kind === 'number' && high.kind === 'number' && low.value > high.value) return c.fail(vpath, 'low must not be above high');
      return { kind: 'leaf', field, op: 'between', value: [low, high], text: text(v) };
    }
  }
}

function scalar(c: Checker, v: unknown, path: string): Scalar | null {
  if (typeof v === 'string') return v.length <= 1000 ? v : c.fail(path, 'is longer than 1000 characters');
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'boolean') return v;
  return c.fail(path, 'must be a string, number or boolean');
}

/**
 * A comparison bound: a number, an instant (RFC 3339, or relative: {"ago": "30d"} /
 * {"from_now": "7d"} with m, h, d or w), or other text (compared in byte order).
 */
function bound(c: Checker, v: unknown, path: string, dateOnly: boolean): Bound | null {
  if (isObject(v)) {
    const keys = Object.keys(v);
    const key = keys[0];
    if (keys.length !== 1 || (key !== 'ago' && key !== 'from_now')) return c.fail(path, 'a relative date is {"ago": "30d"} or {"from_now": "7d"}');
    const m = typeof v[key] === 'string' ? DURATION.exec(v[key]) : null;
    if (!m) return c.fail(`${path}.${key}`, 'must be a duration like "30d", "12h", "15m" or "2w"');
    const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
    return { kind: 'date', value: { offsetMs: key === 'ago' ? -ms : ms } };
  }
  if (typeof v === 'string' && isInstant(v)) return { kind: 'date', value: { at: v } };
  if (dateOnly) return c.fail(path, 'must be an RFC 3339 date-time, or {"ago": "30d"} / {"from_now": "7d"}');
  if (typeof v === 'number' && Number.isFinite(v)) return { kind: 'number', value: v };
  if (typeof v === 'string') return v.length <= 1000 ? { kind: 'text', value: v } : c.fail(path, 'is longer than 1000 characters');
  return c.fail(path, 'must be a number, a date (RFC 3339 or {"ago": "30d"}) or a string');
}
