/**
 * The rule builder's model and its translation to and from the rule grammar the audiences API
 * takes (src/modules/audiences/audience.rule.ts): SEGMENT rules are trees of {and: [...]},
 * {or: [...]}, {not: {...}} and conditions {field, op, value}; TAG rules are tag sets. A rule the
 * builder cannot show (`fromRule` answers null) is edited as JSON instead.
 */
export type FieldKind = 'tags' | 'attribute' | 'user_id' | 'created_at' | 'updated_at' | 'consent.sms' | 'consent.email' | 'consent.push';
export const FIELD_KINDS: FieldKind[] = ['tags', 'attribute', 'user_id', 'created_at', 'updated_at', 'consent.sms', 'consent.email', 'consent.push'];

export type Op = 'eq' | 'neq' | 'in' | 'not_in' | 'gt' | 'gte' | 'lt' | 'lte' | 'between' | 'contains' | 'exists' | 'before' | 'after';
const ALL_OPS: Op[] = ['eq', 'neq', 'in', 'not_in', 'gt', 'gte', 'lt', 'lte', 'between', 'contains', 'exists', 'before', 'after'];

/** Which operators each field takes (as the API checks them). */
export function opsOf(field: FieldKind): Op[] {
  if (field === 'tags') return ['contains', 'in', 'not_in', 'exists'];
  if (field === 'attribute') return ALL_OPS;
  if (field === 'created_at' || field === 'updated_at') return ['after', 'before', 'gt', 'gte', 'lt', 'lte', 'between'];
  if (field === 'user_id') return ['eq', 'neq', 'in', 'not_in'];
  return ['eq', 'neq', 'in', 'not_in', 'exists'];
}

/** How a value is written: text (dates as RFC 3339 text too), a number, true / false, or a time relative to now. */
export type ValueKind = 'text' | 'number' | 'boolean' | 'ago' | 'from_now';

export function kindsOf(field: FieldKind, op: Op): ValueKind[] {
  if (op === 'exists') return [];
  const dated = ['gt', 'gte', 'lt', 'lte', 'between', 'before', 'after'].includes(op);
  if (field === 'created_at' || field === 'updated_at' || op === 'before' || op === 'after') return ['ago', 'from_now', 'text'];
  if (field === 'attribute') return dated ? ['number', 'text', 'ago', 'from_now'] : ['text', 'number', 'boolean'];
  return ['text'];
}

export interface Condition {
  id: number;
  type: 'cond';
  field: FieldKind;
  /** The attribute's key (dotted for nested objects) when field is `attribute`. */
  key: string;
  op: Op;
  kind: ValueKind;
  /** The value as typed; `in` / `not_in` take several separated by commas. */
  value: string;
  /** The high bound of `between`. */
  value2: string;
}

export interface Group {
  id: number;
  type: 'group';
  combinator: 'and' | 'or';
  negate: boolean;
  items: Array<Condition | Group>;
}

export interface TagRule {
  tags_any: string[];
  tags_all: string[];
  tags_none: string[];
}

let seq = 0;
export const nextId = () => ++seq;

export function newCondition(): Condition {
  return { id: nextId(), type: 'cond', field: 'tags', key: '', op: 'contains', kind: 'text', value: '', value2: '' };
}

export function newGroup(withCondition = true): Group {
  return { id: nextId(), type: 'group', combinator: 'and', negate: false, items: withCondition ? [newCondition()] : [] };
}

/** Keeps a condition's operator and value kind among those its field allows after a change. */
export function settle(c: Condition): void {
  const ops = opsOf(c.field);
  if (!ops.includes(c.op)) c.op = ops[0]!;
  const kinds = kindsOf(c.field, c.op);
  if (kinds.length && !kinds.includes(c.kind)) c.kind = kinds[0]!;
}

function scalar(kind: ValueKind, text: string): unknown {
  const v = text.trim();
  switch (kind) {
    case 'number':
      return v === '' ? v : Number(v);
    case 'boolean':
      return v === 'true';
    case 'ago':
      return { ago: v };
    case 'from_now':
      return { from_now: v };
    default:
      return text;
  }
}

function conditionRule(c: Condition): Record<string, unknown> {
  const field = c.field === 'attribute' ? `attributes.${c.key.trim()}` : c.field;
  if (c.op === 'exists') return { field, op: c.op };
  if (c.op === 'in' || c.op === 'not_in') {
    return { field, op: c.op, value: c.value.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => scalar(c.kind, s)) };
  }
  if (c.op === 'between') return { field, op: c.op, value: [scalar(c.kind, c.value), scalar(c.kind, c.value2)] };
  return { field, op: c.op, value: scalar(c.kind, c.value) };
}

/** The builder's tree as a SEGMENT rule. */
export function toRule(node: Condition | Group): Record<string, unknown> {
  if (node.type === 'cond') return conditionRule(node);
  const inner = { [node.combinator]: node.items.map(toRule) };
  return node.negate ? { not: inner } : inner;
}

/** The builder's tag sets as a TAG rule (empty sets left out). */
export function toTagRule(tags: TagRule): Record<string, string[]> {
  const rule: Record<string, string[]> = {};
  for (const key of ['tags_any', 'tags_all', 'tags_none'] as const) if (tags[key].length) rule[key] = tags[key];
  return rule;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function valueOf(v: unknown): { kind: ValueKind; text: string } | null {
  if (typeof v === 'string') return { kind: 'text', text: v };
  if (typeof v === 'number') return { kind: 'number', text: String(v) };
  if (typeof v === 'boolean') return { kind: 'boolean', text: String(v) };
  if (isObject(v) && Object.keys(v).length === 1 && typeof v.ago === 'string') return { kind: 'ago', text: v.ago };
  if (isObject(v) && Object.keys(v).length === 1 && typeof v.from_now === 'string') return { kind: 'from_now', text: v.from_now };
  return null;
}

function conditionOf(rule: Record<string, unknown>): Condition | null {
  const { field, op } = rule;
  if (typeof field !== 'string' || typeof op !== 'string' || !ALL_OPS.includes(op as Op)) return null;
  const c = newCondition();
  if (field.startsWith('attributes.')) {
    c.field = 'attribute';
    c.key = field.slice('attributes.'.length);
  } else if ((FIELD_KINDS as string[]).includes(field) && field !== 'attribute') c.field = field as FieldKind;
  else return null;
  c.op = op as Op;
  if (op === 'exists') return 'value' in rule ? null : c;
  const v = rule.value;
  if (op === 'in' || op === 'not_in') {
    if (!Array.isArray(v) || v.length === 0) return null;
    const values = v.map(valueOf);
    if (values.some((x) => !x || x.kind !== values[0]!.kind || x.text.includes(','))) return null;
    c.kind = values[0]!.kind;
    c.value = values.map((x) => x!.text).join(', ');
    return c;
  }
  if (op === 'between') {
    if (!Array.isArray(v) || v.length !== 2) return null;
    const [low, high] = [valueOf(v[0]), valueOf(v[1])];
    if (!low || !high || low.kind !== high.kind) return null;
    Object.assign(c, { kind: low.kind, value: low.text, value2: high.text });
    return c;
  }
  const one = valueOf(v);
  if (!one) return null;
  Object.assign(c, { kind: one.kind, value: one.text });
  return c;
}

/** A SEGMENT rule as the builder's tree (always a group at the top), or null when it cannot show it. */
export function fromRule(rule: unknown, top = true): Condition | Group | null {
  if (!isObject(rule)) return null;
  const keys = Object.keys(rule);
  if (keys.length === 1 && keys[0] === 'not' && isObject(rule.not)) {
    const inner = fromRule(rule.not, false);
    if (!inner || inner.type !== 'group' || inner.negate) return null;
    inner.negate = true;
    return inner;
  }
  if (keys.length === 1 && (keys[0] === 'and' || keys[0] === 'or') && Array.isArray(rule[keys[0]])) {
    const items = (rule[keys[0]] as unknown[]).map((r) => fromRule(r, false));
    if (items.some((x) => x === null)) return null;
    return { id: nextId(), type: 'group', combinator: keys[0], negate: false, items: items as Array<Condition | Group> };
  }
  const c = conditionOf(rule);
  if (!c) return null;
  return top ? { id: nextId(), type: 'group', combinator: 'and', negate: false, items: [c] } : c;
}

/** A TAG rule as the builder's tag sets, or null. */
export function fromTagRule(rule: unknown): TagRule | null {
  if (!isObject(rule)) return null;
  const tags: TagRule = { tags_any: [], tags_all: [], tags_none: [] };
  for (const [key, value] of Object.entries(rule)) {
    if (!(key in tags) || !Array.isArray(value) || !value.every((x) => typeof x === 'string')) return null;
    tags[key as keyof TagRule] = value as string[];
  }
  return tags;
}
