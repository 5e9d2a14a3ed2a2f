import { type Insertable, type Selectable, sql, type Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { CouponTable, CouponTemplateTable } from './coupon.tables.js';

export type TemplateRow = Selectable<CouponTemplateTable>;
export type CouponRow = Selectable<CouponTable>;
/** A coupon with its template's terms (one join). */
export type CouponWithTerms = CouponRow & Omit<TemplateRow, 'tenant_id' | 'template_id' | 'valid_from' | 'valid_until' | 'status' | 'created_at' | 'updated_at'> & { template_status: 'active' | 'disabled' };

export function insertTemplate(db: Executor, row: Insertable<CouponTemplateTable>) {
  return db.insertInto('coupon_template').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findTemplate(db: Executor, tenantId: string, templateId: string, options: { forUpdate?: boolean } = {}) {
  let q = db.selectFrom('coupon_template').selectAll().where('tenant_id', '=', tenantId).where('template_id', '=', templateId);
  if (options.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function listTemplates(db: Executor, tenantId: string, filter: { status?: string | undefined; couponType?: string | undefined }, page: { limit: number; offset: number }) {
  let q = db.selectFrom('coupon_template').where('tenant_id', '=', tenantId);
  if (filter.status) q = q.where('status', '=', filter.status as 'active');
  if (filter.couponType) q = q.where('coupon_type', '=', filter.couponType as 'discount');
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('template_id').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** Changes a template's terms only while no coupon of it was claimed (checked in the same statement). */
export function updateUnusedTemplate(db: Executor, tenantId: string, templateId: string, changes: Updateable<CouponTemplateTable>) {
  return db
    .updateTable('coupon_template')
    .set(changes)
    .where('tenant_id', '=', tenantId)
    .where('template_id', '=', templateId)
    .where('claimed_count', '=', 0)
    .returningAll()
    .executeTakeFirst();
}

export function setTemplateStatus(db: Executor, tenantId: string, templateId: string, status: 'active' | 'disabled', now: Date) {
  return db
    .updateTable('coupon_template')
    .set({ status, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('template_id', '=', templateId)
    .returningAll()
    .executeTakeFirst();
}

/**
 * One more claim of the user on the template, unless they hold per_user_limit already: the
 * counter row is locked by the upsert, and its WHERE is checked against the latest row, so
 * parallel claims of one user cannot pass it together. Null = limit reached.
 */
export async function countUserClaim(db: Executor, tenantId: string, templateId: string, userId: string, limit: number): Promise<number | null> {
  const { rows } = await sql<{ n: number }>`
    insert into coupon_user_claims (tenant_id, template_id, user_id, n) values (${tenantId}, ${templateId}, ${userId}, 1)
    on conflict (tenant_id, template_id, user_id) do update set n = coupon_user_claims.n + 1
    where coupon_user_claims.n < ${limit}
    returning n`.execute(db);
  return rows[0]?.n ?? null;
}

/** One more coupon of the template, unless usage_limit is reached or it stopped: one conditional UPDATE. */
export async function takeFromTemplate(db: Executor, tenantId: string, templateId: string, now: Date): Promise<TemplateRow | undefined> {
  return db
    .updateTable('coupon_template')
    .set((eb) => ({ claimed_count: eb('claimed_count', '+', 1), updated_at: now }))
    .where('tenant_id', '=', tenantId)
    .where('template_id', '=', templateId)
    .where('status', '=', 'active')
    .where((eb) => eb.or([eb('usage_limit', 'is', null), eb('claimed_count', '<', eb.ref('usage_limit'))]))
    .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', now)]))
    .returningAll()
    .executeTakeFirst();
}

export function insertCoupon(db: Executor, row: Insertable<CouponTable>) {
  return db.insertInto('coupon').values(row).returningAll().executeTakeFirstOrThrow();
}

/** Coupons joined with their template's terms (the shape every view and evaluation reads). */
export function withTerms(db: Executor) {
  return db
    .selectFrom('coupon as c')
    .innerJoin('coupon_template as t', (j) => j.onRef('t.tenant_id', '=', 'c.tenant_id').onRef('t.template_id', '=', 'c.template_id'))
    .selectAll('c')
    .select([
      't.name', 't.coupon_type', 't.discount_kind', 't.value', 't.max_discount', 't.gift_item_id', 't.min_amount', 't.valid_days', 't.usage_limit',
      't.claimed_count', 't.used_count', 't.per_user_limit', 't.scope', 't.stacking_group', 't.exclusive', 't.claim_policy', 't.audience_id',
      't.refund_returns', 't.status as template_status',
    ]);
}

export function findCoupon(db: Executor, tenantId: string, couponId: string): Promise<CouponWithTerms | undefined> {
  return withTerms(db).where('c.tenant_id', '=', tenantId).where('c.coupon_id', '=', couponId).executeTakeFirst();
}

/** The user's wallet; `status` is the effective one (an available coupon past validity is expired, a lapsed lock available). */
export async function listWallet(db: Executor, tenantId: string, userId: string, status: string | undefined, now: Date, page: { limit: number; offset: number }) {
  let q = withTerms(db).where('c.tenant_id', '=', tenantId).where('c.user_id', '=', userId);
  if (status) q = q.where(effectiveStatusSql(now), '=', status);
  const [rows, count] = await Promise.all([
    q.orderBy('c.created_at', 'desc').orderBy('c.coupon_id').limit(page.limit).offset(page.offset).execute(),
    q.clearSelect().select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

function effectiveStatusSql(now: Date) {
  return sql<string>`case
    when c.status = 'locked' and c.locked_until <= ${now} and (c.valid_until is null or c.valid_until > ${now}) then 'available'
    when c.status in ('available', 'locked') and c.valid_until <= ${now} and (c.status = 'available' or c.locked_until <= ${now}) then 'expired'
    else c.status end`;
}

/**
 * The wallet a quote reads: the user's coupons that could be usable now (available, or a lapsed
 * lock; not past validity), newest first, at most `limit` (index coupon_wallet).
 */
export function quoteWallet(db: Executor, tenantId: string, userId: string, now: Date, limit: number): Promise<CouponWithTerms[]> {
  return withTerms(db)
    .where('c.tenant_id', '=', tenantId)
    .where('c.user_id', '=', userId)
    .where((eb) => eb.or([eb('c.status', '=', 'available'), eb.and([eb('c.status', '=', 'locked'), eb('c.locked_until', '<=', now)])]))
    .where((eb) => eb.or([eb('c.valid_until', 'is', null), eb('c.valid_until', '>', now)]))
    .orderBy('c.created_at', 'desc')
    .orderBy('c.coupon_id')
    .limit(limit)
    .execute();
}

/** The user's coupons with these codes, whatever their status (a code of another user is not found). */
export function couponsByCodes(db: Executor, tenantId: string, userId: string, codes: string[]): Promise<CouponWithTerms[]> {
  return withTerms(db).where('c.tenant_id', '=', tenantId).where('c.code', 'in', codes).where('c.user_id', '=', userId).execute();
}

/** Coupons by id with their terms. */
export function couponsByIds(db: Executor, tenantId: string, ids: string[]): Promise<CouponWithTerms[]> {
  return withTerms(db).where('c.tenant_id', '=', tenantId).where('c.coupon_id', 'in', ids).execute();
}

/** Available coupons of a user, for the availability answer (all of them: a wallet is small). */
export function usableCandidates(db: Executor, tenantId: string, userId: string, now: Date, limit: number): Promise<CouponWithTerms[]> {
  return withTerms(db)
    .where('c.tenant_id', '=', tenantId)
    .where('c.user_id', '=', userId)
    .where((eb) => eb.or([eb('c.status', '=', 'available'), eb.and([eb('c.status', '=', 'locked'), eb('c.locked_until', '<=', now)])]))
    .orderBy('c.valid_until', 'asc')
    .orderBy('c.coupon_id')
    .limit(limit)
    .execute();
}

/** A user whose coupons a sweep changed (their quote wallet is read again). */
export interface TouchedUser {
  tenant_id: string;
  user_id: string;
}

/** Sweep: locks past locked_until go back to available (at most `limit` per call); the owners of the released coupons. */
export async function releaseLapsedLocks(db: Executor, now: Date, limit: number): Promise<TouchedUser[]> {
  const { rows } = await sql<TouchedUser>`
    update coupon set status = 'available', order_id = null, locked_until = null, updated_at = ${now}
    where (tenant_id, coupon_id) in (
      select tenant_id, coupon_id from coupon where status = 'locked' and locked_until <= ${now} limit ${limit} for update skip locked)
    and status = 'locked' and locked_until <= ${now}
    returning tenant_id, user_id`.execute(db);
  return rows;
}

/** Sweep: available coupons past valid_until become expired (at most `limit` per call); the owners of the expired coupons. */
export async function expireDue(db: Executor, now: Date, limit: number): Promise<TouchedUser[]> {
  const { rows } = await sql<TouchedUser>`
    update coupon set status = 'expired', updated_at = ${now}
    where (tenant_id, coupon_id) in (
      select tenant_id, coupon_id from coupon where status = 'available' and valid_until <= ${now} limit ${limit} for update skip locked)
    and status = 'available' and valid_until <= ${now}
    returning tenant_id, user_id`.execute(db);
  return rows;
}

/** Admin void: any coupon not used yet (a locked one is taken from its order too). */
export function voidCoupon(db: Executor, tenantId: string, couponId: string, now: Date) {
  return db
    .updateTable('coupon')
    .set({ status: 'voided', order_id: null, locked_until: null, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('coupon_id', '=', couponId)
    .where('status', 'in', ['available', 'locked', 'expired'])
    .returningAll()
    .executeTakeFirst();
}

export interface TemplateStatsRow {
  template_id: string;
  usage_limit: number | null;
  claimed_count: number;
  used_count: number;
  claim_rate: number | null;
  use_rate: number | null;
  available_count: number;
  locked_count: number;
  expired_count: number;
  voided_count: number;
  distinct_users: number;
}

/**
 * A template's figures, counted by the database in one statement (index coupon_by_template):
 * statuses as of `now` (a lapsed lock counts as available, or expired past validity), rates
 * rounded to 4 decimals, null when their denominator is unlimited or zero.
 */
export async function templateStats(db: Executor, tenantId: string, templateId: string, now: Date): Promise<TemplateStatsRow | undefined> {
  const free = sql`(c.status = 'available' or (c.status = 'locked' and c.locked_until <= ${now}))`;
  const { rows } = await sql<TemplateStatsRow>`
    select t.template_id, t.usage_limit, t.claimed_count, t.used_count,
      case when t.usage_limit > 0 then round(t.claimed_count::numeric / t.usage_limit, 4)::float8 end as claim_rate,
      case when t.claimed_count > 0 then round(t.used_count::numeric / t.claimed_count, 4)::float8 end as use_rate,
      s.available_count, s.locked_count, s.expired_count, s.voided_count, s.distinct_users
    from coupon_template t
    cross join lateral (
      select
        (count(*) filter (where ${free} and (c.valid_until is null or c.valid_until > ${now})))::int as available_count,
        (count(*) filter (where c.status = 'locked' and c.locked_until > ${now}))::int as locked_count,
        (count(*) filter (where c.status = 'expired' or (${free} and c.valid_until <= ${now})))::int as expired_count,
        (count(*) filter (where c.status = 'voided'))::int as voided_count,
        (count(distinct c.user_id))::int as distinct_users
      from coupon c where c.tenant_id = t.tenant_id and c.template_id = t.template_id
    ) s
    where t.tenant_id = ${tenantId} and t.template_id = ${templateId}`.execute(db);
  return rows[0];
}
