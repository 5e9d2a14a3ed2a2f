import { type RawBuilder, type Selectable, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import { constraintName, escapeLike, isCheckViolation } from '../../db/errors.js';
import { customerErrors } from './customer.errors.js';
import { MAX_TAGS } from './customer.schemas.js';
import type { CustomerTable } from './customer.tables.js';

export type CustomerRow = Selectable<CustomerTable>;

/** One profile write: what PUT and each import row ask for. */
export interface CustomerWrite {
  user_id: string;
  /** null: keep the stored tags. Otherwise the new tag set (any order, duplicates allowed). */
  tags: string[] | null;
  /** Keys to set (merged over the stored object by top-level key). */
  attributes: Record<string, unknown>;
  /** Keys to remove (given as null). */
  remove_keys: string[];
  /** {channel: {status, updated_at}} to set. */
  consent: Record<string, unknown>;
  /** Top-level attribute keys this write sets or removes: their old parsed dates are dropped. */
  written_keys: string[];
  /** The parsed dates of the attributes written (path -> epoch ms), see customer.dates.ts. */
  dates: Record<string, number>;
}

// The parsed dates kept after a write: those under keys it did not touch, then its own.
const keptDates = (written: RawBuilder<unknown>) =>
  sql`(c.attribute_dates - array(select k from jsonb_object_keys(c.attribute_dates) as k where split_part(k, '.', 1) = any(${written})))`;

function translate(err: unknown): never {
  if (isCheckViolation(err) && constraintName(err) === 'customer_tag_limit') {
    throw customerErrors.tooManyTags(MAX_TAGS);
  }
  throw err;
}

// Tags are stored sorted (byte order) and distinct, so a tag set has one representation and a
// change is one array expression over the row, evaluated under the row lock.
const sortedTags = (arrayExpr: RawBuilder<unknown>) => sql<string[]>`array(select t from unnest(${arrayExpr}) as t group by t order by t collate "C")`;

/**
 * Creates or updates one profile in ONE statement (so parallel writers never lose each other's
 * keys): attributes merged by top-level key, tags replaced when given, consent merged by channel.
 */
export async function upsertCustomer(db: Executor, tenantId: string, w: CustomerWrite, now: Date) {
  try {
    return await sql<CustomerRow & { created: boolean }>`
      insert into customer as c (tenant_id, user_id, tags, attributes, attribute_dates, consent, created_at, updated_at)
      values (${tenantId}, ${w.user_id}, ${sortedTags(sql`${w.tags ?? []}::text[]`)},
              ${JSON.stringify(w.attributes)}::jsonb, ${JSON.stringify(w.dates)}::jsonb, ${JSON.stringify(w.consent)}::jsonb, ${now}, ${now})
      on conflict (tenant_id, user_id) do update set
        tags = case when ${w.tags !== null} then excluded.tags else c.tags end,
        attributes = (c.attributes || excluded.attributes) - ${w.remove_keys}::text[],
        attribute_dates = ${keptDates(sql`${w.written_keys}::text[]`)} || excluded.attribute_dates,
        consent = c.consent || excluded.consent,
        updated_at = excluded.updated_at
      returning c.*, (c.xmax = 0) as created`
      .execute(db)
      .then((r) => r.rows[0]!);
  } catch (err) {
    translate(err);
  }
}

/**
 * Writes many profiles (an import chunk) in two statements, to be run inside one transaction:
 * new profiles are inserted whole (ON CONFLICT DO NOTHING), then the rest are updated with the
 * same merge rules as upsertCustomer. Two statements rather than one CTE because the UPDATE must
 * see rows another transaction created after the INSERT looked (a new snapshot per statement).
 * `rows` must not repeat a user_id; callers merge duplicates first. Answers how many were created.
 */
export async function upsertCustomers(db: Executor, tenantId: string, rows: CustomerWrite[], now: Date): Promise<{ created: number; updated: number }> {
  if (rows.length === 0) return { created: 0, updated: 0 };
  const input = sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        as r(user_id text, tags jsonb, attributes jsonb, remove_keys text[], consent jsonb, written_keys text[], dates jsonb)`;
  try {
    const inserted = await sql<{ user_id: string }>`
      insert into customer (tenant_id, user_id, tags, attributes, attribute_dates, consent, created_at, updated_at)
      select ${tenantId}, r.user_id,
             ${sortedTags(sql`coalesce(array(select jsonb_array_elements_text(r.tags)), '{}')`)},
             r.attributes, r.dates, r.consent, ${now}, ${now}
      from ${input}
      on conflict (tenant_id, user_id) do nothing
      returning user_id`.execute(db);
    const created = new Set(inserted.rows.map((r) => r.user_id));
    const rest = rows.filter((r) => !created.has(r.user_id));
    if (rest.length === 0) return { created: created.size, updated: 0 };
    const updated = await sql<{ user_id: string }>`
      update customer c set
        tags = case when r.tags is null then c.tags
                    else ${sortedTags(sql`array(select jsonb_array_elements_text(r.tags))`)} end,
        attributes = (c.attributes || r.attributes) - coalesce(r.remove_keys, '{}'),
        attribute_dates = ${keptDates(sql`coalesce(r.written_keys, '{}')`)} || r.dates,
        consent = c.consent || r.consent,
        updated_at = ${now}
      from jsonb_to_recordset(${JSON.stringify(rest)}::jsonb)
        as r(user_id text, tags jsonb, attributes jsonb, remove_keys text[], consent jsonb, written_keys text[], dates jsonb)
      where c.tenant_id = ${tenantId} and c.user_id = r.user_id
      returning c.user_id`.execute(db);
    return { created: created.size, updated: updated.rows.length };
  } catch (err) {
    translate(err);
  }
}

export function findCustomer(db: Executor, tenantId: string, userId: string) {
  return db.selectFrom('customer').selectAll().where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
}

/** Adds and removes tags in one statement under the row lock: no lost update between racers. */
export async function changeTags(db: Executor, tenantId: string, userId: string, add: string[], remove: string[], now: Date) {
  try {
    return await sql<CustomerRow & { created: boolean }>`
      insert into customer as c (tenant_id, user_id, tags, created_at, updated_at)
      values (${tenantId}, ${userId},
              ${sortedTags(sql`array(select t from unnest(${add}::text[]) t where t <> all(${remove}::text[]))`)}, ${now}, ${now})
      on conflict (tenant_id, user_id) do update set
        tags = ${sortedTags(sql`array(select t from unnest(c.tags || ${add}::text[]) t where t <> all(${remove}::text[]))`)},
        updated_at = excluded.updated_at
      returning c.*, (c.xmax = 0) as created`
      .execute(db)
      .then((r) => r.rows[0]!);
  } catch (err) {
    translate(err);
  }
}

export async function deleteCustomer(db: Executor, tenantId: string, userId: string): Promise<boolean> {
  const r = await db.deleteFrom('customer').where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export interface CustomerFilter {
  userIdPrefix?: string | undefined;
  tag?: string | undefined;
  /** Attributes the profile must contain as given ({"phone": "..."}): the GIN index answers it. */
  attributes?: Record<string, string> | undefined;
}

/** A page of a tenant's profiles, most recently changed first, and how many match. */
export async function listCustomers(db: Executor, tenantId: string, filter: CustomerFilter, page: { limit: number; offset: number }) {
  let q = db.selectFrom('customer').where('tenant_id', '=', tenantId);
  if (filter.userIdPrefix) q = q.where('user_id', 'like', `${escapeLike(filter.userIdPrefix)}%`);
  if (filter.tag) q = q.where(sql<boolean>`tags @> ${[filter.tag]}::text[]`);
  if (filter.attributes && Object.keys(filter.attributes).length) q = q.where(sql<boolean>`attributes @> ${JSON.stringify(filter.attributes)}::jsonb`);
  const [rows, total] = await Promise.all([
    q.selectAll().orderBy('updated_at', 'desc').orderBy('user_id').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}
