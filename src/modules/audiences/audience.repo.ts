import { type Insertable, type RawBuilder, type Selectable, sql, type Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import { escapeLike, isForeignKeyViolation } from '../../db/errors.js';
import { audienceErrors } from './audience.errors.js';
import type { Cond } from './audience.rule.js';
import { condSql, leafSqlOf, leavesOf } from './audience.sql.js';
import type { AudienceTable } from './audience.tables.js';

export type AudienceRow = Selectable<AudienceTable>;
export type AudienceChanges = Omit<Updateable<AudienceTable>, 'tenant_id' | 'audience_id' | 'version'>;

/** Which audiences a caller sees: its tenant, and its products if the key is restricted. */
export interface Visibility {
  tenantId: string;
  productCodes: readonly string[] | null;
}

function translate(err: unknown, productCode: string | undefined): never {
  if (isForeignKeyViolation(err)) {
    throw audienceErrors.unknownProductCode(productCode);
  }
  throw err;
}

export async function insertAudience(db: Executor, row: Insertable<AudienceTable>): Promise<AudienceRow> {
  try {
    return await db.insertInto('audience').values(row).returningAll().executeTakeFirstOrThrow();
  } catch (err) {
    translate(err, row.product_code);
  }
}

export function findAudience(db: Executor, v: Visibility, audienceId: string, options: { forUpdate?: boolean } = {}) {
  let q = db.selectFrom('audience').selectAll().where('tenant_id', '=', v.tenantId).where('audience_id', '=', audienceId);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  if (options.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function listAudiences(
  db: Executor,
  v: Visibility,
  filter: { audienceType?: string | undefined; productCode?: string | undefined; nameContains?: string | undefined },
  page: { limit: number; offset: number },
) {
  let q = db.selectFrom('audience').where('tenant_id', '=', v.tenantId);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  if (filter.audienceType) q = q.where('audience_type', '=', filter.audienceType as AudienceRow['audience_type']);
  if (filter.productCode) q = q.where('product_code', '=', filter.productCode);
  if (filter.nameContains) q = q.where('audience_name', 'ilike', `%${escapeLike(filter.nameContains)}%`);
  const [rows, total] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('audience_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

export async function updateAudience(db: Executor, tenantId: string, audienceId: string, changes: AudienceChanges) {
  try {
    return await db
      .updateTable('audience')
      .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
      .where('tenant_id', '=', tenantId)
      .where('audience_id', '=', audienceId)
      .returningAll()
      .executeTakeFirst();
  } catch (err) {
    translate(err, changes.product_code);
  }
}

/**
 * Deletes the audience; its list members go with it (ON DELETE CASCADE). A campaign that still
 * names it stops the delete (campaign_audience_fk, migration 0023): 409 audience_in_use.
 */
export async function deleteAudience(db: Executor, v: Visibility, audienceId: string): Promise<boolean> {
  let q = db.deleteFrom('audience').where('tenant_id', '=', v.tenantId).where('audience_id', '=', audienceId);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  try {
    const r = await q.executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  } catch (err) {
    // The service looks for users first under a row lock, so this is the last line only (no
    // campaign lookup wired); the transaction is aborted, so the campaigns cannot be listed here.
    if (isForeignKeyViolation(err)) throw audienceErrors.inUse(audienceId, [], null);
    throw err;
  }
}

// ---- evaluation: each one statement ----

/** How many customers of the tenant match: one COUNT over the customer table. */
export async function countMatching(db: Executor, tenantId: string, cond: Cond, now: Date): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from customer c where c.tenant_id = ${tenantId} and ${condSql(cond, now)}`.execute(db);
  return Number(r.rows[0]!.n);
}

/** The matching customers' ids as a subquery. */
export function matchingSql(tenantId: string, cond: Cond, now: Date): RawBuilder<{ user_id: string }> {
  return sql<{ user_id: string }>`select c.user_id from customer c where c.tenant_id = ${tenantId} and ${condSql(cond, now)}`;
}

/** A LIST audience's member ids as a subquery. */
export function listMembersSql(tenantId: string, audienceId: string): RawBuilder<{ user_id: string }> {
  return sql<{ user_id: string }>`select m.user_id from audience_member m where m.tenant_id = ${tenantId} and m.audience_id = ${audienceId}`;
}

/** Each condition's value for one customer (undefined: no profile). */
export async function leafValues(db: Executor, tenantId: string, userId: string, cond: Cond, now: Date) {
  const leaves = leavesOf(cond);
  const columns = leaves.map((leaf, i) => sql`${leafSqlOf(leaf, now)} as ${sql.ref(`l${i}`)}`);
  const r = await sql<Record<string, boolean>>`select ${sql.join(columns)} from customer c where c.tenant_id = ${tenantId} and c.user_id = ${userId}`.execute(db);
  const row = r.rows[0];
  if (!row) return undefined;
  return new Map(leaves.map((leaf, i) => [leaf, row[`l${i}`] === true]));
}

export async function previewMatching(db: Executor, tenantId: string, cond: Cond, now: Date, after: string | undefined, limit: number) {
  const r = await sql<{ user_id: string; tags: string[]; attributes: Record<string, unknown> }>`
    select c.user_id, c.tags, c.attributes from customer c
    where c.tenant_id = ${tenantId} and ${condSql(cond, now)} ${after !== undefined ? sql`and c.user_id > ${after}` : sql``}
    order by c.user_id limit ${limit}`.execute(db);
  return r.rows;
}

// ---- LIST members ----

export async function addMembers(db: Executor, tenantId: string, audienceId: string, userIds: string[], now: Date): Promise<number> {
  const r = await sql<{ user_id: string }>`
    insert into audience_member (tenant_id, audience_id, user_id, added_at)
    select ${tenantId}, ${audienceId}, u, ${now} from unnest(${userIds}::text[]) as u
    on conflict do nothing returning user_id`.execute(db);
  return r.rows.length;
}

export async function removeMembers(db: Executor, tenantId: string, audienceId: string, userIds: string[]): Promise<number> {
  const r = await db
    .deleteFrom('audience_member')
    .where('tenant_id', '=', tenantId)
    .where('audience_id', '=', audienceId)
    .where('user_id', 'in', userIds)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

export async function isListMember(db: Executor, tenantId: string, audienceId: string, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('audience_member')
    .select('user_id')
    .where('tenant_id', '=', tenantId)
    .where('audience_id', '=', audienceId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}

export async function countMembers(db: Executor, tenantId: string, audienceId: string): Promise<number> {
  const r = await db
    .selectFrom('audience_member')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('tenant_id', '=', tenantId)
    .where('audience_id', '=', audienceId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function previewMembers(db: Executor, tenantId: string, audienceId: string, after: string | undefined, limit: number) {
  const r = await sql<{ user_id: string; tags: string[] | null; attributes: Record<string, unknown> | null }>`
    select m.user_id, c.tags, c.attributes from audience_member m
    left join customer c on c.tenant_id = m.tenant_id and c.user_id = m.user_id
    where m.tenant_id = ${tenantId} and m.audience_id = ${audienceId} ${after !== undefined ? sql`and m.user_id > ${after}` : sql``}
    order by m.user_id limit ${limit}`.execute(db);
  return r.rows;
}

/** Erasure of a customer: out of every list of the tenant. */
export async function forgetUser(db: Executor, tenantId: string, userId: string): Promise<void> {
  await db.deleteFrom('audience_member').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
}
