/**
 * The field mapping of a target (the product document's `orders.phone -> student_phone`): a source
 * path names a field of the record given to enqueue (`orders.form_data.name` is the record's
 * `form_data.name`), the column a column of the target's table.
 */
import { IDENTIFIER, sameColumn } from './sync.dialects.js';
import type { KindMapping, RecordKind } from './sync.tables.js';

/** `orders.` / `order.` for order records, `rewards.` / `reward.` for rewards; the prefix is optional. */
const PREFIXES: Record<RecordKind, readonly string[]> = { order: ['orders', 'order'], reward: ['rewards', 'reward'] };
export const SOURCE_PATH = /^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,7}$/;

/** What is wrong with a mapping (field name and message), or null. */
export function mappingProblem(kind: RecordKind, mapping: KindMapping): { field: string; message: string } | null {
  const at = `mappings.${kind}`;
  const fields = Object.entries(mapping.fields);
  if (fields.length === 0) return { field: `${at}.fields`, message: 'at least one field is mapped' };
  const seen: string[] = [mapping.key_column];
  for (const [source, column] of fields) {
    if (!SOURCE_PATH.test(source)) return { field: `${at}.fields`, message: `${JSON.stringify(source)} is not a source path such as orders.form_data.name` };
    const first = source.split('.')[0]!;
    const otherKind = (Object.keys(PREFIXES) as RecordKind[]).find((k) => k !== kind && PREFIXES[k].includes(first));
    if (otherKind) return { field: `${at}.fields`, message: `${JSON.stringify(source)} names a field of ${otherKind} records, not ${kind} records` };
    if (!IDENTIFIER.test(column)) return { field: `${at}.fields`, message: `${JSON.stringify(column)} is not an SQL column name (letters, digits, _)` };
    if (seen.some((c) => sameColumn(c, column))) return { field: `${at}.fields`, message: `column ${column} is mapped twice (or is the key column)` };
    seen.push(column);
  }
  return null;
}

/** The value at `source` in the record (undefined fields become null). */
export function valueAt(kind: RecordKind, record: Record<string, unknown>, source: string): unknown {
  const parts = source.split('.');
  if (parts.length > 1 && PREFIXES[kind].includes(parts[0]!)) parts.shift();
  let value: unknown = record;
  for (const part of parts) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, part)) return null;
    value = (value as Record<string, unknown>)[part];
  }
  return toParam(value);
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A value as a driver parameter: timestamps (ISO 8601 with a zone) become Dates so DATETIME and
 * TIMESTAMP columns take them; objects and arrays become JSON text.
 */
function toParam(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' && ISO_TIME.test(value)) {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? value : date;
  }
  if (typeof value === 'object' && !(value instanceof Date)) return JSON.stringify(value);
  return value;
}

/** The columns and their values of one record under a mapping, in the mapping's order. */
export function mapRecord(kind: RecordKind, mapping: KindMapping, record: Record<string, unknown>): { columns: string[]; values: unknown[] } {
  const entries = Object.entries(mapping.fields);
  return { columns: entries.map(([, column]) => column), values: entries.map(([source]) => valueAt(kind, record, source)) };
}
