/**
 * Readers of a customer import: the shared streamed CSV / NDJSON readers (platform/upload.ts)
 * turned into profile writes, one row at a time, so a 100k-row body is never held in memory. Each
 * yields either a profile write or a row error with its line number; a bad row is reported and
 * reading goes on.
 */
import type { Readable } from 'node:stream';
import { Ajv } from 'ajv';
import { Type } from 'typebox';
import { AppError } from '../../platform/errors.js';
import { findJsonProblem } from '../../platform/input-guard.js';
import { readCsvRecords, readNdjsonValues, type UploadFormat } from '../../platform/upload.js';
import { customerErrors } from './customer.errors.js';
import { CHANNELS, PutCustomerBody, UserId, type PutCustomerInput } from './customer.schemas.js';

export type ImportFormat = UploadFormat;

/** A row as read: the input of a PUT plus its user_id, or why it was refused. */
export type ImportItem =
  | { line: number; ok: true; userId: string; input: PutCustomerInput }
  | { line: number; ok: false; field: string | null; message: string };

const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false });
const checkRow = ajv.compile(
  Type.Object({ user_id: UserId, ...PutCustomerBody.properties }, { additionalProperties: false }),
);

/** Validates one decoded row (both formats end here); `check` adds the service's own rules. */
function validateRow(line: number, value: unknown, check: (input: PutCustomerInput) => void): ImportItem {
  // The rules a PUT body is held to by the JSON parser, per row: a CSV cell can carry a NUL, and a
  // `:json` cell anything JSON.parse takes (1e999, nesting that would overflow the stack below).
  const problem = findJsonProblem(value);
  if (problem) return { line, ok: false, field: problem.field || null, message: problem.message };
  if (!checkRow(value)) {
    const e = checkRow.errors![0]!;
    const missing = (e.params as { missingProperty?: string; additionalProperty?: string }) ?? {};
    const path = e.instancePath.slice(1).replace(/\//g, '.');
    const field = missing.missingProperty ?? missing.additionalProperty ?? (path || null);
    const where = missing.additionalProperty ? 'is not a known field' : (e.message ?? 'is invalid');
    return { line, ok: false, field, message: missing.missingProperty ? 'is required' : where };
  }
  const { user_id: userId, ...input } = value as PutCustomerInput & { user_id: string };
  try {
    check(input);
  } catch (err) {
    if (err instanceof AppError) return { line, ok: false, field: (err.details?.field as string | undefined) ?? null, message: err.message };
    throw err;
  }
  return { line, ok: true, userId, input };
}

export async function* readNdjson(body: Readable, check: (input: PutCustomerInput) => void): AsyncGenerator<ImportItem> {
  for await (const item of readNdjsonValues(body)) {
    yield item.ok ? validateRow(item.line, item.value, check) : { line: item.line, ok: false, field: item.field || null, message: item.message };
  }
}

type ColumnKind = 'string' | 'number' | 'boolean' | 'json';
interface Column {
  kind: 'user_id' | 'tags' | 'consent' | 'attribute';
  name: string;
  type: ColumnKind;
}

const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/**
 * The header row: `user_id` (required), `tags` (separated by `|`), `consent_sms` /
 * `consent_email` / `consent_push` (opt_in / opt_out), and any other column an attribute, typed
 * by an optional suffix: `age:number`, `vip:boolean`, `prefs:json` (default string).
 */
function readHeader(cells: string[]): Column[] {
  const seen = new Set<string>();
  const columns = cells.map((raw, i): Column => {
    const cell = raw.trim();
    const [name = '', type = 'string', ...extra] = cell.split(':');
    const field = `header[${i}]`;
    if (seen.has(name)) throw customerErrors.duplicateColumn(field, name);
    seen.add(name);
    if (name === 'user_id' || name === 'tags') return { kind: name, name, type: 'string' };
    const channel = /^consent_(.+)$/.exec(name)?.[1];
    if (channel !== undefined) {
      if (!(CHANNELS as readonly string[]).includes(channel)) throw customerErrors.unknownConsentChannel(field, channel);
      return { kind: 'consent', name: channel, type: 'string' };
    }
    if (!ATTRIBUTE_NAME.test(name)) throw customerErrors.badAttributeColumn(field, cell);
    if (extra.length > 0 || !['string', 'number', 'boolean', 'json'].includes(type)) {
      throw customerErrors.badTypeSuffix(field, cell);
    }
    return { kind: 'attribute', name, type: type as ColumnKind };
  });
  if (!seen.has('user_id')) throw customerErrors.userIdColumnRequired();
  return columns;
}

function cellValue(column: Column, text: string): unknown {
  switch (column.type) {
    case 'string':
      return text;
    case 'number': {
      const n = Number(text.trim());
      if (text.trim() === '' || !Number.isFinite(n)) throw new Error('is not a number');
      return n;
    }
    case 'boolean': {
      const v = text.trim().toLowerCase();
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      throw new Error('is not a boolean (true / false)');
    }
    case 'json':
      try {
        return JSON.parse(text);
      } catch {
        throw new Error('is not valid JSON');
      }
  }
}

export async function* readCsv(body: Readable, check: (input: PutCustomerInput) => void): AsyncGenerator<ImportItem> {
  let columns: Column[] | null = null;
  for await (const item of readCsvRecords(body)) {
    if (!item.ok) {
      yield { line: item.line, ok: false, field: null, message: item.message };
      continue;
    }
    const { line, cells: record } = item;
    if (!columns) {
      columns = readHeader(record);
      continue;
    }
    if (record.length !== columns.length) {
      yield { line, ok: false, field: null, message: `has ${record.length} fields; the header has ${columns.length}` };
      continue;
    }
    const row: Record<string, unknown> = {};
    const attributes: Record<string, unknown> = {};
    const consent: Record<string, string> = {};
    let bad: ImportItem | null = null;
    for (let i = 0; i < columns.length && !bad; i++) {
      const column = columns[i]!;
      const text = record[i]!;
      if (column.kind === 'user_id') row.user_id = text.trim();
      else if (column.kind === 'tags') {
        if (text.trim() !== '') row.tags = text.split('|').map((t) => t.trim()).filter((t) => t !== '');
      } else if (column.kind === 'consent') {
        if (text.trim() !== '') consent[column.name] = text.trim();
      } else if (text !== '') {
        // An empty cell leaves the attribute as it is.
        try {
          attributes[column.name] = cellValue(column, text);
        } catch (err) {
          bad = { line, ok: false, field: `attributes.${column.name}`, message: `${column.name}: ${(err as Error).message}` };
        }
      }
    }
    if (bad) {
      yield bad;
      continue;
    }
    if (Object.keys(attributes).length) row.attributes = attributes;
    if (Object.keys(consent).length) row.consent = consent;
    yield validateRow(line, row, check);
  }
}

