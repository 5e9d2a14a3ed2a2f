/**
 * What the fuzz suite asserts of every answer: no 5xx, every error in the documented shape, and
 * nothing stored by a refused write (a checksum of the tenant's rows before and after).
 */
import { sql } from 'kysely';
import type { Database } from '../../src/db/client.js';

/**
 * Tables that legitimately change on a refusal, left out of the checksum by name:
 * - idempotency_key: a refused POST with an Idempotency-Key is recorded on purpose, so a retry
 *   with the same key gets the same refusal instead of running again.
 * - audit_log: entries of earlier successful changes are written in batches after their answers,
 *   so one may land while a refusal is being checked (a refusal itself is never recorded).
 */
const TABLES_THAT_CHANGE_ON_REFUSAL = new Set(['idempotency_key', 'audit_log']);
/**
 * Columns left out of every row: api_key.last_used_at is touched (at most once a minute) by any
 * authenticated call, refused or not.
 */
const COLUMNS_THAT_CHANGE_ON_REFUSAL = ['last_used_at'];

/** Tenant ids safe to send as one comma-separated parameter. */
const PLAIN_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export interface Checksum {
  /** count:md5 per table */
  tables: Map<string, string>;
}

/**
 * Builds, once, one query that returns the row count and an md5 of the rows of every table with a
 * tenant_id column, for the given tenants. The table list comes from information_schema, so a
 * new table is covered without touching this file.
 */
export async function checksumQuery(db: Database): Promise<(tenantIds: string[]) => Promise<Checksum>> {
  const { rows } = await sql<{ table_name: string }>`
    select c.table_name from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.column_name = 'tenant_id' and c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
    order by c.table_name`.execute(db);
  const tables = rows.map((r) => r.table_name).filter((name) => !TABLES_THAT_CHANGE_ON_REFUSAL.has(name));
  const dropped = COLUMNS_THAT_CHANGE_ON_REFUSAL.map((c) => ` - '${c}'`).join('');
  const parts = tables.map(
    (name) =>
      `select '${name}' as t, count(*)::text || ':' || coalesce(md5(string_agg((to_jsonb(x)${dropped})::text, '|' order by (to_jsonb(x)${dropped})::text)), '') as h ` +
      `from "${name}" x where x.tenant_id = any(string_to_array($1, ','))`,
  );
  const text = parts.join(' union all ');
  return async (tenantIds) => {
    const ids = [...new Set(tenantIds.filter((id) => PLAIN_ID.test(id)))].join(',');
    // sql.raw carries no parameters; the ids passed PLAIN_ID (no quote, no comma), so a literal is safe.
    const literal = `'${ids}'`;
    const { rows: sums } = await sql<{ t: string; h: string }>`${sql.raw(text.split('$1').join(literal))}`.execute(db);
    return { tables: new Map(sums.map((r) => [r.t, r.h])) };
  };
}

/**
 * The next transaction id PostgreSQL will assign: unchanged means no transaction wrote anything
 * since it was last read, so the full checksum can be skipped (most refusals never write). On a
 * shared PostgreSQL other tests move it too; then the full checksum decides.
 */
export async function nextTransactionId(db: Database): Promise<string> {
  const { rows } = await sql<{ x: string }>`select pg_snapshot_xmax(pg_current_snapshot())::text as x`.execute(db);
  return rows[0]!.x;
}

/** The tables whose rows differ between two checksums. */
export function changedTables(before: Checksum, after: Checksum): string[] {
  const names = new Set([...before.tables.keys(), ...after.tables.keys()]);
  return [...names].filter((n) => before.tables.get(n) !== after.tables.get(n));
}

/** Why an error answer is not `{ error: { code, message, details }, requestId }`, or null. */
export function errorShapeProblem(status: number, headers: Record<string, unknown>, body: string): string | null {
  const type = String(headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) return `content-type is ${type || 'missing'}`;
  let parsed: any;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'body is not JSON';
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'body is not an object';
  const keys = Object.keys(parsed).sort().join(',');
  if (keys !== 'error,requestId') return `top-level keys are {${keys}}, not {error, requestId}`;
  if (typeof parsed.requestId !== 'string' || parsed.requestId === '') return 'requestId is not a non-empty string';
  if (headers['x-request-id'] !== undefined && headers['x-request-id'] !== parsed.requestId) return 'requestId differs from the x-request-id header';
  const error = parsed.error;
  if (error === null || typeof error !== 'object' || Array.isArray(error)) return 'error is not an object';
  const errorKeys = Object.keys(error).sort().join(',');
  if (errorKeys !== 'code,details,message') return `error keys are {${errorKeys}}, not {code, message, details}`;
  if (typeof error.code !== 'string' || !/^[a-z][a-z0-9_]*$/.test(error.code)) return `error.code ${JSON.stringify(error.code)} is not a snake_case string`;
  if (typeof error.message !== 'string' || error.message === '') return 'error.message is not a non-empty string';
  if (error.details === null || typeof error.details !== 'object' || Array.isArray(error.details)) return 'error.details is not an object';
  void status;
  return null;
}

export type FailureKind = 'server error' | 'error shape' | 'stored by a refusal' | 'accepted a value that must be refused' | 'request failed';

export interface Failure {
  kind: FailureKind;
  op: string;
  /** What was changed in the valid request: `body.metadata <- object nested 5,000 deep`. */
  mutation: string;
  /** The hostile value's class, for the summary across operations. */
  value: string;
  method: string;
  url: string;
  payload: string;
  status: number;
  response: string;
  detail: string;
  /** How to run this exact case again. */
  repro: string;
}

export const truncate = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}... (${s.length.toLocaleString('en-US')} characters)` : s);

export function describeFailure(f: Failure): string {
  return [
    `${f.kind}: ${f.method} ${truncate(f.url, 300)}`,
    `  mutated: ${f.mutation}`,
    `  payload: ${truncate(f.payload, 400) || '(none)'}`,
    `  answer:  HTTP ${f.status} ${truncate(f.response, 400)}`,
    ...(f.detail ? [`  why:     ${f.detail}`] : []),
    `  repro:   ${f.repro}`,
  ].join('\n');
}
