/**
 * Upload of LIST audience members from a streamed CSV or NDJSON body
 * (POST /v1/audiences/{id}/members/import). Rows are read one at a time by the shared readers
 * (platform/upload.ts) and written in chunks, each chunk one multi-row
 * INSERT ... ON CONFLICT DO NOTHING: a single statement, so a chunk is stored whole or not at all,
 * and memory holds one chunk however long the file is. Chunks commit as they go; if the upload
 * stops part way, the error says up to which row everything is stored, and sending the whole file
 * again is safe (ids already in the list are skipped).
 */
import type { Readable } from 'node:stream';
import { Ajv } from 'ajv';
import type { Executor } from '../../db/client.js';
import { isForeignKeyViolation } from '../../db/errors.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, notFound } from '../../platform/errors.js';
import { limitedBody, readCsvRecords, readNdjsonValues, type UploadFormat } from '../../platform/upload.js';
import { audienceErrors } from './audience.errors.js';
import * as repo from './audience.repo.js';
import { USER_ID_MAX, UserIdText, type MembersUploadReportType, type UploadRowErrorType } from './audience.schemas.js';

export const MAX_REPORTED_ERRORS = 1000;

type MemberRow = { row: number; ok: true; userId: string } | ({ ok: false } & UploadRowErrorType);

// The very schema the JSON path validates user_ids with, so both ways accept the same ids.
const userIdValid = new Ajv({ strict: false }).compile(UserIdText);

function userIdRow(row: number, value: unknown): MemberRow {
  if (value === undefined || value === null || value === '') return { row, ok: false, code: 'missing_user_id', message: 'user_id is missing or empty' };
  if (typeof value !== 'string') return { row, ok: false, code: 'invalid_user_id', message: 'user_id must be a string' };
  if (userIdValid(value)) return { row, ok: true, userId: value };
  const keyword = userIdValid.errors?.[0]?.keyword;
  const why = keyword === 'maxLength' ? `is longer than ${USER_ID_MAX} characters` : keyword === 'pattern' ? 'contains a NUL character' : 'is invalid';
  return { row, ok: false, code: 'invalid_user_id', message: `user_id ${why}` };
}

/**
 * CSV: a header naming a `user_id` column (other columns are ignored), or one column of ids with
 * no header. A first line that is a single cell other than `user_id` is taken as an id.
 */
async function* csvMembers(body: Readable): AsyncGenerator<MemberRow> {
  let column: number | null = null;
  let width = 0;
  for await (const item of readCsvRecords(body)) {
    if (!item.ok) {
      yield { row: item.line, ok: false, code: 'invalid_csv', message: item.message };
      continue;
    }
    const { cells, line } = item;
    if (column === null) {
      const named = cells.flatMap((c, i) => (c.trim().toLowerCase() === 'user_id' ? [i] : []));
      if (named.length > 1) throw audienceErrors.duplicateUserIdColumn();
      width = cells.length;
      if (named.length === 1) {
        column = named[0]!;
        continue;
      }
      if (cells.length !== 1) throw audienceErrors.userIdColumnRequired(cells.length);
      column = 0;
    }
    if (cells.length !== width) {
      yield { row: line, ok: false, code: 'wrong_field_count', message: `has ${cells.length} fields; expected ${width}` };
      continue;
    }
    yield userIdRow(line, cells[column]!.trim());
  }
}

/** A line the shared reader refused: not JSON, or JSON no input may hold (a NUL, say) at `field`. */
const readerCode = (field: string | undefined) =>
  field === undefined ? 'invalid_json' : field === '' || field === 'user_id' ? 'invalid_user_id' : 'invalid_row';

/** NDJSON: each line `{"user_id": "..."}` (other fields are ignored) or a JSON string. */
async function* ndjsonMembers(body: Readable): AsyncGenerator<MemberRow> {
  for await (const item of readNdjsonValues(body)) {
    if (!item.ok) yield { row: item.line, ok: false, code: readerCode(item.field), message: item.message };
    else if (typeof item.value === 'string') yield userIdRow(item.line, item.value);
    else if (item.value !== null && typeof item.value === 'object' && !Array.isArray(item.value)) {
      yield userIdRow(item.line, (item.value as { user_id?: unknown }).user_id);
    } else yield { row: item.line, ok: false, code: 'invalid_row', message: 'is neither {"user_id": "..."} nor a JSON string' };
  }
}

export interface UploadDeps {
  db: Executor;
  clock: Clock;
  /** Ids per INSERT statement: the most the upload holds in memory. */
  chunkSize: number;
  maxBytes: number;
}

/** Streams `body` into the LIST audience's members (the caller has checked it is a visible LIST). */
export async function uploadMembers(
  deps: UploadDeps,
  target: { tenantId: string; audienceId: string },
  format: UploadFormat,
  body: Readable,
): Promise<MembersUploadReportType> {
  const limited = limitedBody(body, deps.maxBytes);
  const items = format === 'csv' ? csvMembers(limited) : ndjsonMembers(limited);
  const errors: UploadRowErrorType[] = [];
  let rows = 0;
  let added = 0;
  let alreadyMembers = 0;
  let failed = 0;
  let lastRow = 0;
  let storedThroughRow = 0;
  // id -> how many valid rows named it in this chunk (repeats are counted as already members).
  let chunk = new Map<string, number>();

  const flush = async () => {
    if (chunk.size === 0) return;
    const pending = chunk;
    chunk = new Map();
    const inserted = await repo.addMembers(deps.db, target.tenantId, target.audienceId, [...pending.keys()], deps.clock.now());
    let valid = 0;
    for (const n of pending.values()) valid += n;
    added += inserted;
    alreadyMembers += valid - inserted;
    storedThroughRow = lastRow;
  };

  try {
    for await (const item of items) {
      rows += 1;
      lastRow = item.row;
      if (!item.ok) {
        failed += 1;
        if (errors.length < MAX_REPORTED_ERRORS) errors.push({ row: item.row, code: item.code, message: item.message });
        continue;
      }
      chunk.set(item.userId, (chunk.get(item.userId) ?? 0) + 1);
      if (chunk.size >= deps.chunkSize) await flush();
    }
    await flush();
  } catch (err) {
    throw interrupted(err, target.audienceId, { stored_through_row: storedThroughRow, added, already_members: alreadyMembers });
  }
  // The CSV parser reports a malformed record when it gives up on it, which can be after the rows
  // that follow it were read; the report is in file order.
  errors.sort((a, b) => a.row - b.row);
  return {
    audience_id: target.audienceId,
    format,
    rows,
    added,
    already_members: alreadyMembers,
    failed,
    errors,
    errors_truncated: failed > errors.length,
  };
}

/**
 * The error an upload that stopped part way answers with, carrying how far it got: every row up to
 * `stored_through_row` is handled (stored, or failed in a chunk already committed); nothing of the
 * chunk in flight is.
 */
function interrupted(err: unknown, audienceId: string, progress: Record<string, number>): AppError {
  if (err instanceof AppError) return audienceErrors.withProgress(err, progress);
  // The audience was deleted while its members were being written.
  if (isForeignKeyViolation(err)) return notFoundWith(audienceId, progress);
  const stopped = audienceErrors.uploadInterrupted(progress);
  // The error handler logs a 5xx with the request id; pino's serializer appends the cause's stack.
  Object.assign(stopped, { cause: err });
  return stopped;
}

function notFoundWith(audienceId: string, progress: Record<string, number>): AppError {
  return audienceErrors.withProgress(notFound('audience', audienceId), progress);
}
