/**
 * The campaign's form (a JSON Schema whose root is an object) as the fields the page renders, and
 * the browser's checks of them (the server checks the same schema again with Ajv).
 */
import { fill, t } from './i18n';

export type FieldKind = 'text' | 'number' | 'phone' | 'select' | 'date';

export interface Field {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  integer: boolean;
  min?: number;
  max?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
  options: { value: string | number; label: string }[];
  /** Not a property of the schema: the order's phone when the form has none (not sent in form_data). */
  synthetic?: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const PHONE_NAMES = /^(phone|mobile|phone_?number|tel|telephone|手机号?)$/i;
const DATE_PATTERN = /\\d\{4\}-\\d\{2\}-\\d\{2\}/;

function optionsOf(prop: Json): Field['options'] {
  if (Array.isArray(prop.enum)) {
    const names = Array.isArray(prop.enumNames) ? prop.enumNames : [];
    return prop.enum
      .filter((v): v is string | number => typeof v === 'string' || typeof v === 'number')
      .map((v, i) => ({ value: v, label: typeof names[i] === 'string' ? (names[i] as string) : String(v) }));
  }
  const list = Array.isArray(prop.oneOf) ? prop.oneOf : Array.isArray(prop.anyOf) ? prop.anyOf : [];
  return list
    .filter(isObject)
    .filter((o) => typeof o.const === 'string' || typeof o.const === 'number')
    .map((o) => ({ value: o.const as string | number, label: typeof o.title === 'string' ? o.title : String(o.const) }));
}

function kindOf(name: string, prop: Json, options: Field['options']): FieldKind {
  if (options.length > 0) return 'select';
  const type = Array.isArray(prop.type) ? prop.type.find((x) => x !== 'null') : prop.type;
  if (type === 'number' || type === 'integer') return 'number';
  if (prop.format === 'phone' || prop.format === 'mobile' || PHONE_NAMES.test(name)) return 'phone';
  if (prop.format === 'date' || (typeof prop.pattern === 'string' && DATE_PATTERN.test(prop.pattern))) return 'date';
  return 'text';
}

function compile(pattern: unknown): RegExp | undefined {
  if (typeof pattern !== 'string') return undefined;
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined; // the server still checks it
  }
}

/** The fields of a form schema, in the schema's order; a phone field is added when it has none. */
export function fieldsOf(schema: unknown): Field[] {
  const root = isObject(schema) ? schema : {};
  const props = isObject(root.properties) ? root.properties : {};
  const required = new Set(Array.isArray(root.required) ? root.required.filter((x): x is string => typeof x === 'string') : []);
  const fields: Field[] = [];
  for (const [name, raw] of Object.entries(props)) {
    if (!isObject(raw)) continue;
    const options = optionsOf(raw);
    const kind = kindOf(name, raw, options);
    const type = Array.isArray(raw.type) ? raw.type : [raw.type];
    fields.push({
      name,
      label: typeof raw.title === 'string' ? raw.title : name,
      kind,
      required: required.has(name),
      integer: type.includes('integer'),
      min: num(raw.minimum),
      max: num(raw.maximum),
      minLength: num(raw.minLength),
      maxLength: num(raw.maxLength),
      pattern: compile(raw.pattern),
      options,
    });
  }
  // PostgreSQL's jsonb does not keep the order of keys: the schema's `ui:order` (or `x-order`, a
  // list of property names) decides; else the required fields in `required` order, then the rest.
  const listed = [root['ui:order'], root['x-order']].find(Array.isArray) as unknown[] | undefined;
  const order = (listed ?? [...required]).filter((x): x is string => typeof x === 'string');
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  fields.sort((x, y) => rank(x.name) - rank(y.name));
  if (!fields.some((f) => f.kind === 'phone')) {
    fields.unshift({ name: 'phone', label: t.phone, kind: 'phone', required: true, integer: false, options: [], synthetic: true });
  } else {
    // The order needs a phone: the form's phone field is required whatever the schema says.
    const phone = fields.find((f) => f.kind === 'phone')!;
    phone.required = true;
  }
  return fields;
}

/** A mainland China mobile number as its 11 digits (+86 / 86, spaces and dashes allowed), or null. */
export function normalizePhone(input: string): string | null {
  let digits = input.replace(/[\s-]/g, '');
  if (digits.startsWith('+86')) digits = digits.slice(3);
  else if (digits.length === 13 && digits.startsWith('86')) digits = digits.slice(2);
  return /^1[3-9]\d{9}$/.test(digits) ? digits : null;
}

export type Values = Record<string, string>;

/** The error of one field ('' when it is fine). */
export function checkField(field: Field, raw: string | undefined): string {
  const value = (raw ?? '').trim();
  if (value === '') return field.required ? (field.kind === 'select' ? t.requiredSelect : t.required) : '';
  switch (field.kind) {
    case 'phone':
      return normalizePhone(value) ? '' : t.badPhone;
    case 'number': {
      const n = Number(value);
      if (!Number.isFinite(n)) return t.badNumber;
      if (field.integer && !Number.isInteger(n)) return t.badInteger;
      if (field.min !== undefined && n < field.min) return fill(t.min, field.min);
      if (field.max !== undefined && n > field.max) return fill(t.max, field.max);
      return '';
    }
    case 'date':
      if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return t.badDate;
      break;
    case 'select':
      return field.options.some((o) => String(o.value) === value) ? '' : t.requiredSelect;
    default:
      if (field.minLength !== undefined && [...value].length < field.minLength) return fill(t.minLength, field.minLength);
      if (field.maxLength !== undefined && [...value].length > field.maxLength) return fill(t.maxLength, field.maxLength);
  }
  return field.pattern && !field.pattern.test(value) ? t.badFormat : '';
}

/** Every field's error; empty when the form can be sent. */
export function checkForm(fields: Field[], values: Values): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const error = checkField(field, values[field.name]);
    if (error) errors[field.name] = error;
  }
  return errors;
}

/** The order body's phone and form_data from checked values (numbers as numbers, the phone normalized). */
export function toOrder(fields: Field[], values: Values): { phone: string; form_data: Record<string, unknown> } {
  let phone = '';
  const formData: Record<string, unknown> = {};
  for (const field of fields) {
    const value = (values[field.name] ?? '').trim();
    if (field.kind === 'phone' && !phone) phone = normalizePhone(value) ?? value;
    if (field.synthetic || value === '') continue;
    if (field.kind === 'phone') formData[field.name] = normalizePhone(value) ?? value;
    else if (field.kind === 'number') formData[field.name] = Number(value);
    else if (field.kind === 'select') formData[field.name] = field.options.find((o) => String(o.value) === value)?.value ?? value;
    else formData[field.name] = value;
  }
  return { phone, form_data: formData };
}
