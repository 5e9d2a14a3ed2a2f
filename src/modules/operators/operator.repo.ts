import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import { isUniqueViolation } from '../../db/errors.js';
import { operatorErrors } from './operator.errors.js';
import type { AuditLogTable, OperatorSessionTable, OperatorTable } from './operator.tables.js';

export type OperatorRow = Selectable<OperatorTable>;
export type SessionRow = Selectable<OperatorSessionTable>;
export type AuditRow = Selectable<AuditLogTable>;

export async function insertOperator(db: Executor, row: Insertable<OperatorTable>): Promise<OperatorRow> {
  try {
    return await db.insertInto('operator').values(row).returningAll().executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err)) throw operatorErrors.emailTaken(row.email);
    throw err;
  }
}

export function findOperator(db: Executor, operatorId: string): Promise<OperatorRow | undefined> {
  return db.selectFrom('operator').selectAll().where('operator_id', '=', operatorId).executeTakeFirst();
}

/** By e-mail (case-insensitive) in a tenant, or among platform operators (tenantId null); uses the unique index. */
export function findOperatorByEmail(db: Executor, tenantId: string | null, email: string): Promise<OperatorRow | undefined> {
  return db
    .selectFrom('operator')
    .selectAll()
    .where(sql<string>`coalesce(tenant_id, '')`, '=', tenantId ?? '')
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
}

export async function updateOperator(db: Executor, operatorId: string, changes: Updateable<OperatorTable>): Promise<OperatorRow | undefined> {
  return db.updateTable('operator').set(changes).where('operator_id', '=', operatorId).returningAll().executeTakeFirst();
}

export async function deleteOperator(db: Executor, operatorId: string): Promise<OperatorRow | undefined> {
  return db.deleteFrom('operator').where('operator_id', '=', operatorId).returningAll().executeTakeFirst();
}

/** `tenantId`: a tenant's operators; null: platform operators; undefined: all. */
export async function listOperators(db: Executor, tenantId: string | null | undefined, page: { limit: number; offset: number }) {
  let query = db.selectFrom('operator');
  if (tenantId === null) query = query.where('tenant_id', 'is', null);
  else if (tenantId !== undefined) query = query.where('tenant_id', '=', tenantId);
  const [rows, total] = await Promise.all([
    query.selectAll().orderBy('created_at', 'desc').orderBy('operator_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

export async function insertSession(db: Executor, row: SessionRow): Promise<void> {
  await db.insertInto('operator_session').values(row).execute();
}

/** A session with its operator, in one query. */
export function findSession(db: Executor, hash: string) {
  return db
    .selectFrom('operator_session as s')
    .innerJoin('operator as o', 'o.operator_id', 's.operator_id')
    .select(['s.session_hash', 's.created_at as session_created_at', 's.last_seen_at', 's.expires_at'])
    .selectAll('o')
    .where('s.session_hash', '=', hash)
    .executeTakeFirst();
}

export async function touchSession(db: Executor, hash: string, at: Date): Promise<void> {
  await db.updateTable('operator_session').set({ last_seen_at: at }).where('session_hash', '=', hash).execute();
}

export async function deleteSession(db: Executor, hash: string): Promise<void> {
  await db.deleteFrom('operator_session').where('session_hash', '=', hash).execute();
}

/** Ends the operator's sessions, except `keep` (the caller's own, after a password change). */
export async function deleteSessionsOf(db: Executor, operatorId: string, keep?: string): Promise<void> {
  let query = db.deleteFrom('operator_session').where('operator_id', '=', operatorId);
  if (keep) query = query.where('session_hash', '<>', keep);
  await query.execute();
}

/** Drops sessions past their absolute expiry (called now and then on sign-in). */
export async function deleteExpiredSessions(db: Executor, now: Date): Promise<void> {
  await db.deleteFrom('operator_session').where('expires_at', '<', now).execute();
}

export type AuditInsert = Omit<AuditRow, 'event' | 'details'> & { event?: AuditRow['event']; details?: Record<string, unknown> | null };

export async function insertAuditEntries(db: Executor, rows: AuditInsert[]): Promise<void> {
  if (rows.length > 0) {
    await db
      .insertInto('audit_log')
      .values(rows.map(({ details, ...row }) => ({ ...row, details: details ? JSON.stringify(details) : null })))
      .execute();
  }
}

export interface AuditFilter {
  /** A tenant's entries; null: entries of no tenant (platform); undefined: all. */
  tenantId: string | null | undefined;
  operatorId?: string | undefined;
  keyId?: string | undefined;
  route?: string | undefined;
  method?: string | undefined;
  entityId?: string | undefined;
  actorKind?: string | undefined;
  /** A sign-in event, or 'any' for all of them. */
  event?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

export async function listAuditEntries(db: Executor, filter: AuditFilter, page: { limit: number; offset: number }) {
  let query = db.selectFrom('audit_log');
  if (filter.tenantId === null) query = query.where('tenant_id', 'is', null);
  else if (filter.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId);
  if (filter.operatorId) query = query.where('operator_id', '=', filter.operatorId);
  if (filter.keyId) query = query.where('key_id', '=', filter.keyId);
  if (filter.route) query = query.where('route', '=', filter.route);
  if (filter.method) query = query.where('method', '=', filter.method);
  if (filter.entityId) query = query.where('entity_id', '=', filter.entityId);
  if (filter.actorKind) query = query.where('actor_kind', '=', filter.actorKind as AuditRow['actor_kind']);
  if (filter.event === 'any') query = query.where('event', 'is not', null);
  else if (filter.event) query = query.where('event', '=', filter.event as NonNullable<AuditRow['event']>);
  if (filter.since) query = query.where('at', '>=', filter.since);
  if (filter.until) query = query.where('at', '<', filter.until);
  const [rows, total] = await Promise.all([
    query.selectAll().orderBy('at', 'desc').orderBy('audit_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}
