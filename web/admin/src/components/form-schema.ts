/**
 * A campaign's landing-page form as the console edits it: a list of fields, turned into the
 * `form_fields` JSON Schema the API stores (root `type: object`, `properties`, `required` and the
 * order in `ui:order`, which the landing page follows) and read back from it. The kinds are the
 * ones the landing page renders (docs/referrals.md, "The form").
 */
export type FieldKind = 'text' | 'number' | 'phone' | 'select' | 'date';
export const FIELD_KINDS: FieldKind[] = ['text', 'number', 'phone', 'select', 'date'];

export interface FormField {
  /** Stable within the editor (list keys), never sent. */
  uid: number;
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  integer: boolean;
  min: number | null;
  max: number | null;
  minLength: number | null;
  maxLength: number | null;
  pattern: string;
  options: { value: string; label: string }[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const PHONE_NAMES = /^(phone|mobile|phone_?number|tel|telephone)$/i;
const DATE_PATTERN = /\\d\{4\}-\\d\{2\}-\\d\{2\}/;
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

let next = 1;
export function newField(kind: FieldKind, taken: string[]): FormField {
  let n = 1;
  const base = kind === 'phone' ? 'phone' : `field`;
  let name = kind === 'phone' ? base : `${base}_${n}`;
  while (taken.includes(name)) name = `${base}_${++n}`;
  return {
    uid: next++,
    name,
    label: '',
    kind,
    required: kind === 'phone',
    integer: false,
    min: null,
    max: null,
    minLength: null,
    maxLength: null,
    pattern: '',
    options: kind === 'select' ? [{ value: 'a', label: 'A' }] : [],
  };
}

function optionsOf(prop: Json): FormField['options'] {
  if (Array.isArray(prop.enum)) {
    const names = Array.isArray(prop.enumNames) ? prop.enumNames : [];
    return prop.enum.map((v, i) => ({ value: String(v), label: typeof names[i] === 'string' ? (names[i] as string) : String(v) }));
  }
  const list = Array.isArray(prop.oneOf) ? prop.oneOf : Array.isArray(prop.anyOf) ? prop.anyOf : [];
  return list.filter(isObject).filter((o) => o.const !== undefined).map((o) => ({ value: String(o.const), label: typeof o.title === 'string' ? o.title : String(o.const) }));
}

/** The fields of a stored schema, in the order the landing page shows them. */
export function fromSchema(schema: unknown): FormField[] {
  const root = isObject(schema) ? schema : {};
  const props = isObject(root.properties) ? root.properties : {};
  const required = Array.isArray(root.required) ? root.required.filter((x): x is string => typeof x === 'string') : [];
  const fields: FormField[] = [];
  for (const [name, raw] of Object.entries(props)) {
    if (!isObject(raw)) continue;
    const options = optionsOf(raw);
    const type = Array.isArray(raw.type) ? raw.type.find((x) => x !== 'null') : raw.type;
    const kind: FieldKind =
      options.length > 0
        ? 'select'
        : type === 'number' || type === 'integer'
          ? 'number'
          : raw.format === 'phone' || raw.format === 'mobile' || PHONE_NAMES.test(name)
            ? 'phone'
            : raw.format === 'date' || (typeof raw.pattern === 'string' && DATE_PATTERN.test(raw.pattern))
              ? 'date'
              : 'text';
    fields.push({
      uid: next++,
      name,
      label: typeof raw.title === 'string' ? raw.title : '',
      kind,
      required: required.includes(name),
      integer: type === 'integer',
      min: num(raw.minimum),
      max: num(raw.maximum),
      minLength: num(raw.minLength),
      maxLength: num(raw.maxLength),
      pattern: kind === 'text' && typeof raw.pattern === 'string' ? raw.pattern : '',
      options,
    });
  }
  const listed = [root['ui:order'], root['x-order']].find(Array.isArray) as unknown[] | undefined;
  const order = (listed ?? required).filter((x): x is string => typeof x === 'string');
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  return fields.sort((a, b) => rank(a.name) - rank(b.name));
}

/** The JSON Schema of the fields (null when there are none: the page then asks for the phone only). */
export function toSchema(fields: FormField[]): Json | null {
  if (!fields.length) return null;
  const properties: Json = {};
  for (const f of fields) {
    const title = f.label.trim() || f.name;
    switch (f.kind) {
      case 'number':
        properties[f.name] = { type: f.integer ? 'integer' : 'number', title, ...(f.min !== null && { minimum: f.min }), ...(f.max !== null && { maximum: f.max }) };
        break;
      case 'phone':
        properties[f.name] = { type: 'string', title, format: 'phone' };
        break;
      case 'date':
        properties[f.name] = { type: 'string', title, format: 'date', pattern: '^\\d{4}-\\d{2}-\\d{2}$' };
        break;
      case 'select':
        properties[f.name] = { type: 'string', title, oneOf: f.options.map((o) => ({ const: o.value, title: o.label.trim() || o.value })) };
        break;
      default:
        properties[f.name] = {
          type: 'string',
          title,
          ...(f.minLength !== null && { minLength: f.minLength }),
          ...(f.maxLength !== null && { maxLength: f.maxLength }),
          ...(f.pattern.trim() && { pattern: f.pattern.trim() }),
        };
    }
  }
  const required = fields.filter((f) => f.required).map((f) => f.name);
  return { type: 'object', properties, ...(required.length && { required }), 'ui:order': fields.map((f) => f.name) };
}

export type FieldProblem = 'name' | 'duplicate' | 'options' | 'optionDuplicate' | 'range' | 'lengthRange' | 'pattern';

/** What is wrong with each field before the API is asked (the API checks the schema again). */
export function problemsOf(fields: FormField[]): Map<number, FieldProblem> {
  const out = new Map<number, FieldProblem>();
  const seen = new Set<string>();
  for (const f of fields) {
    if (!NAME_PATTERN.test(f.name)) out.set(f.uid, 'name');
    else if (seen.has(f.name)) out.set(f.uid, 'duplicate');
    else if (f.kind === 'select' && (!f.options.length || f.options.some((o) => !o.value.trim()))) out.set(f.uid, 'options');
    else if (f.kind === 'select' && new Set(f.options.map((o) => o.value)).size !== f.options.length) out.set(f.uid, 'optionDuplicate');
    else if (f.kind === 'number' && f.min !== null && f.max !== null && f.min > f.max) out.set(f.uid, 'range');
    else if (f.kind === 'text' && f.minLength !== null && f.maxLength !== null && f.minLength > f.maxLength) out.set(f.uid, 'lengthRange');
    else if (f.kind === 'text' && f.pattern.trim() && !validPattern(f.pattern)) out.set(f.uid, 'pattern');
    seen.add(f.name);
  }
  return out;
}

function validPattern(p: string): boolean {
  try {
    new RegExp(p, 'u');
    return true;
  } catch {
    return false;
  }
}
