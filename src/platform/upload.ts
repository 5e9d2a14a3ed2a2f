/**
 * Streamed uploads (the customer import, LIST audience members): the accepted media types, a byte
 * cap, and readers for CSV (csv-parse) and NDJSON that yield one record at a time with its line
 * number, so a body of any size is never held whole. A malformed record is yielded as a problem
 * and reading goes on; what a record means is the caller's business.
 */
import { createInterface } from 'node:readline';
import { Transform, type Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { AppError } from './errors.js';
import { findJsonProblem } from './input-guard.js';

export type UploadFormat = 'csv' | 'ndjson';

/** Registered as stream parsers in the upload routes' own plugin scope only. */
export const UPLOAD_MEDIA_TYPES = ['text/csv', 'application/x-ndjson', 'application/ndjson'];

/** The format named by a Content-Type header; anything else is 415 unsupported_media_type. */
export function uploadFormatOf(contentType: string | undefined): UploadFormat {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/csv') return 'csv';
  if (type === 'application/x-ndjson' || type === 'application/ndjson') return 'ndjson';
  throw new AppError('unsupported_media_type', 'unsupported_media_type', 'Send the upload as text/csv or application/x-ndjson', {
    accepted: UPLOAD_MEDIA_TYPES,
  });
}

/** Counts bytes and fails the stream past `maxBytes` (a streamed body has no other bound). */
export function limitBytes(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > maxBytes) {
        done(new AppError('payload_too_large', 'payload_too_large', `The upload is larger than ${maxBytes} bytes`, { limit_bytes: maxBytes }));
        return;
      }
      done(null, chunk);
    },
  });
}

/** `body` through `limitBytes`; an error of the body (a client gone) reaches the reader too. */
export function limitedBody(body: Readable, maxBytes: number): Readable {
  const limited = body.pipe(limitBytes(maxBytes));
  body.on('error', (err) => limited.destroy(err));
  return limited;
}

/** A CSV record with the line it ends on (1 = the first line), or why it could not be read. */
export type CsvRecord = { line: number; ok: true; cells: string[] } | { line: number; ok: false; message: string };

export async function* readCsvRecords(body: Readable): AsyncGenerator<CsvRecord> {
  // Records with a CSV syntax error (an unclosed quote, say) are skipped by the parser and
  // reported here; it carries on with the next record. Fields per record may vary: the caller
  // reports a row with the wrong count as that row's error, not as the whole file's.
  const parser = body.pipe(parse({ bom: true, info: true, skip_empty_lines: true, relax_column_count: true, skip_records_with_error: true, max_record_size: 1 << 20 }));
  const skipped: CsvRecord[] = [];
  parser.on('skip', (err: Error & { lines?: number }) => {
    skipped.push({ line: err.lines ?? 0, ok: false, message: `is not valid CSV (${err.message})` });
  });
  body.on('error', (err) => parser.destroy(err));
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    while (skipped.length) yield skipped.shift()!;
    yield { line: info.lines, ok: true, cells: record };
  }
  while (skipped.length) yield skipped.shift()!;
}

/**
 * A decoded NDJSON line, or why it could not be: not JSON (no `field`), or JSON holding what no
 * input may (platform/input-guard.ts; `field` is its dotted path, '' for the whole line), which
 * a request body would be refused for too. Blank lines are skipped but still counted.
 */
export type NdjsonValue = { line: number; ok: true; value: unknown } | { line: number; ok: false; message: string; field?: string };

export async function* readNdjsonValues(body: Readable): AsyncGenerator<NdjsonValue> {
  const lines = createInterface({ input: body, crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      yield { line, ok: false, message: 'is not valid JSON' };
      continue;
    }
    // One line is one row: what the guard refuses is that row's error, and reading goes on.
    const problem = findJsonProblem(value);
    if (problem) {
      yield { line, ok: false, field: problem.field, message: problem.field === '' ? problem.message : `${problem.field} ${problem.message}` };
      continue;
    }
    yield { line, ok: true, value };
  }
}
