import { type Insertable, type Selectable, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { RedeemCodeBatchTable, RedeemCodeTable, RedemptionTable } from './redeem-code.tables.js';

export type BatchRow = Selectable<RedeemCodeBatchTable>;
export type CodeRow = Selectable<RedeemCodeTable>;
export type RedemptionRow = Selectable<RedemptionTable>;
/** A code with the batch fields that decide what it is and how it shows. */
export type CodeWithBatch = CodeRow & Pick<BatchRow, (typeof BATCH_FIELDS)[number]> & { batch_status: BatchRow['status'] };

export interface Visibility {
  tenantId: string;
  productCodes: readonly string[] | null;
}

const BATCH_FIELDS = [
  'campaign_id',
  'reward_id',
  'product_code',
  'code_type',
  'prefix',
  'group_size',
  'expires_at',
  'max_uses',
  'applicable_products',
  'reward_rules',
] as const;

export async function insertBatch(db: Executor, row: Insertable<RedeemCodeBatchTable>): Promise<BatchRow> {
  return db.insertInto('redeem_code_batch').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findBatch(db: Executor, v: Visibility, batchId: string) {
  let q = db.selectFrom('redeem_code_batch').selectAll().where('tenant_id', '=', v.tenantId).where('batch_id', '=', batchId);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  return q.executeTakeFirst();
}

export function setBatchJob(db: Executor, tenantId: string, batchId: string, jobId: string) {
  return db.updateTable('redeem_code_batch').set({ job_id: jobId }).where('tenant_id', '=', tenantId).where('batch_id', '=', batchId).execute();
}

/** One page of a tenant's batches, newest first (filters: campaign, status). */
export async function listBatches(
  db: Executor,
  v: Visibility,
  f: { campaignId?: string; status?: BatchRow['status'] },
  page: { limit: number; offset: number },
) {
  let q = db.selectFrom('redeem_code_batch').where('tenant_id', '=', v.tenantId);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  if (f.campaignId) q = q.where('campaign_id', '=', f.campaignId);
  if (f.status) q = q.where('status', '=', f.status);
  const [rows, total] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('batch_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

/** Voids a batch that is not voided yet: its codes stop redeeming and an unfinished generation stops. */
export function voidBatch(db: Executor, v: Visibility, batchId: string, now: Date) {
  let q = db
    .updateTable('redeem_code_batch')
    .set({ status: 'VOIDED', voided_at: now, updated_at: now })
    .where('tenant_id', '=', v.tenantId)
    .where('batch_id', '=', batchId)
    .where('status', '<>', 'VOIDED');
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  return q.returningAll().executeTakeFirst();
}

/** The distinct code shapes of a tenant's batches, for recognising typed input without a look-up. */
export function listShapes(db: Executor, tenantId: string) {
  return db
    .selectFrom('redeem_code_batch')
    .select(['code_type', 'length', 'prefix', 'alphabet', 'check_char', 'group_size'])
    .distinct()
    .where('tenant_id', '=', tenantId)
    .execute();
}

function codesWithBatch(db: Executor, v: Visibility) {
  let q = db
    .selectFrom('redeem_code as c')
    .innerJoin('redeem_code_batch as b', (j) => j.onRef('b.tenant_id', '=', 'c.tenant_id').onRef('b.batch_id', '=', 'c.batch_id'))
    .selectAll('c')
    .select(BATCH_FIELDS.map((f) => `b.${f}` as const))
    .select('b.status as batch_status')
    .where('c.tenant_id', '=', v.tenantId);
  if (v.productCodes) q = q.where('b.product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  return q;
}

/** The rows stored under any of `forms` (at most two: as typed and upper case). */
export function findCodes(db: Executor, v: Visibility, forms: string[]): Promise<CodeWithBatch[]> {
  return codesWithBatch(db, v).where('c.code', 'in', forms).execute() as Promise<CodeWithBatch[]>;
}

/**
 * Codes of many lookups in one query (the redemption read batcher), each (tenant, code) pair an
 * exact match on the unique index; no product filter: callers apply their own visibility.
 */
export function findCodesByKeys(db: Executor, keys: readonly { tenantId: string; code: string }[]): Promise<CodeWithBatch[]> {
  const tenants = keys.map((k) => k.tenantId);
  const codes = keys.map((k) => k.code);
  return db
    .selectFrom('redeem_code as c')
    .innerJoin('redeem_code_batch as b', (j) => j.onRef('b.tenant_id', '=', 'c.tenant_id').onRef('b.batch_id', '=', 'c.batch_id'))
    .selectAll('c')
    .select(BATCH_FIELDS.map((f) => `b.${f}` as const))
    .select('b.status as batch_status')
    .where(sql<boolean>`(c.tenant_id, c.code) in (select * from unnest(${tenants}::text[], ${codes}::text[]))`)
    .execute() as Promise<CodeWithBatch[]>;
}

/** Whether a key limited to some products may see a code of this batch product. */
export const visibleTo = (v: Visibility, productCode: string) => v.productCodes === null || v.productCodes.includes(productCode);

/** One code with its batch by its key (the mirror's refresh after an assignment or a void). */
export function findCodeByKey(db: Executor, tenantId: string, batchId: string, seq: number): Promise<CodeWithBatch | undefined> {
  return codesWithBatch(db, { tenantId, productCodes: null }).where('c.batch_id', '=', batchId).where('c.seq', '=', seq).executeTakeFirst() as Promise<
    CodeWithBatch | undefined
  >;
}

export type CodeStatusFilter = 'ACTIVE' | 'REDEEMED' | 'VOIDED' | 'EXPIRED';

export async function listCodes(
  db: Executor,
  v: Visibility,
  f: { campaignId?: string; batchId?: string; status?: CodeStatusFilter; userId?: string; now: Date },
  page: { limit: number; offset: number },
) {
  let q = codesWithBatch(db, v);
  if (f.campaignId) q = q.where('b.campaign_id', '=', f.campaignId);
  if (f.batchId) q = q.where('c.batch_id', '=', f.batchId);
  if (f.userId) {
    const userId = f.userId;
    q = q.where((eb) =>
      eb.or([
        eb('c.assigned_user_id', '=', userId),
        eb.exists(
          eb
            .selectFrom('redeem_code_redemption as r')
            .select(sql`1`.as('x'))
            .whereRef('r.tenant_id', '=', 'c.tenant_id')
            .whereRef('r.batch_id', '=', 'c.batch_id')
            .whereRef('r.seq', '=', 'c.seq')
            .where('r.user_id', '=', userId),
        ),
      ]),
    );
  }
  // The stored status is refined at read time: a voided batch voids its codes, expiry is a date.
  if (f.status === 'VOIDED') q = q.where((eb) => eb.or([eb('c.status', '=', 'VOIDED'), eb('b.status', '=', 'VOIDED')]));
  if (f.status === 'REDEEMED') q = q.where('c.status', '=', 'REDEEMED').where('b.status', '<>', 'VOIDED');
  if (f.status === 'ACTIVE' || f.status === 'EXPIRED') {
    q = q.where('c.status', '=', 'ACTIVE').where('b.status', '<>', 'VOIDED');
    q = f.status === 'ACTIVE' ? q.where((eb) => eb.or([eb('b.expires_at', 'is', null), eb('b.expires_at', '>', f.now)])) : q.where('b.expires_at', '<=', f.now);
  }
  const [rows, total] = await Promise.all([
    q.orderBy('c.batch_id', 'desc').orderBy('c.seq', 'asc').limit(page.limit).offset(page.offset).execute() as Promise<CodeWithBatch[]>,
    q.clearSelect().select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

/** One page of a batch's codes after `afterSeq`, by primary key (keyset paging for the export). */
export function pageOfBatch(db: Executor, tenantId: string, batchId: string, afterSeq: number, limit: number) {
  return db
    .selectFrom('redeem_code')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('batch_id', '=', batchId)
    .where('seq', '>', afterSeq)
    .orderBy('seq', 'asc')
    .limit(limit)
    .execute();
}

/** Assigns an unused, active code to a user (again to the same user is a no-op). */
export function assignCode(db: Executor, k: { tenantId: string; batchId: string; seq: number }, userId: string, now: Date, extraData: string | null = null) {
  return db
    .updateTable('redeem_code')
    .set((eb) => ({
      assigned_user_id: userId,
      assigned_at: eb.fn.coalesce('assigned_at', sql<Date>`${now}`),
      ...(extraData !== null && { extra_data: extraData }),
    }))
    .where('tenant_id', '=', k.tenantId)
    .where('batch_id', '=', k.batchId)
    .where('seq', '=', k.seq)
    .where('status', '=', 'ACTIVE')
    .where('uses', '=', 0)
    .where((eb) => eb.or([eb('assigned_user_id', 'is', null), eb('assigned_user_id', '=', userId)]))
    .returning('seq')
    .executeTakeFirst();
}

/**
 * Hands the batch's next free code to a user in ONE statement: the first free code no other
 * transaction holds (FOR UPDATE SKIP LOCKED, so parallel hand-outs take different codes) is
 * assigned. With `onePerUser` the statement also inserts (batch, user) into
 * redeem_code_batch_user and assigns only when that insert did, so a user's parallel hand-outs
 * get one code between them. Undefined: nothing assigned (no free code, or the user has one).
 */
export async function assignNext(
  db: Executor,
  k: { tenantId: string; batchId: string; userId: string; onePerUser: boolean; extraData: string | null; now: Date },
): Promise<number | undefined> {
  const r = k.onePerUser
    ? await sql<{ seq: number }>`
        with picked as (
          select seq from redeem_code
          where tenant_id = ${k.tenantId} and batch_id = ${k.batchId} and assigned_user_id is null and status = 'ACTIVE' and uses = 0
          order by seq limit 1 for update skip locked),
        claimed as (
          insert into redeem_code_batch_user (tenant_id, batch_id, user_id, seq, created_at)
          select ${k.tenantId}, ${k.batchId}, ${k.userId}, seq, ${k.now} from picked
          on conflict (tenant_id, batch_id, user_id) do nothing
          returning seq)
        update redeem_code c set assigned_user_id = ${k.userId}, assigned_at = ${k.now}, extra_data = coalesce(${k.extraData}::jsonb, c.extra_data)
        from claimed where c.tenant_id = ${k.tenantId} and c.batch_id = ${k.batchId} and c.seq = claimed.seq
        returning c.seq`.execute(db)
    : await sql<{ seq: number }>`
        with picked as (
          select seq from redeem_code
          where tenant_id = ${k.tenantId} and batch_id = ${k.batchId} and assigned_user_id is null and status = 'ACTIVE' and uses = 0
          order by seq limit 1 for update skip locked)
        update redeem_code c set assigned_user_id = ${k.userId}, assigned_at = ${k.now}, extra_data = coalesce(${k.extraData}::jsonb, c.extra_data)
        from picked where c.tenant_id = ${k.tenantId} and c.batch_id = ${k.batchId} and c.seq = picked.seq
        returning c.seq`.execute(db);
  return r.rows[0]?.seq;
}

/** The code a one_per_user batch handed this user, if any. */
export async function handedTo(db: Executor, k: { tenantId: string; batchId: string; userId: string }): Promise<number | undefined> {
  const row = await db
    .selectFrom('redeem_code_batch_user')
    .select('seq')
    .where('tenant_id', '=', k.tenantId)
    .where('batch_id', '=', k.batchId)
    .where('user_id', '=', k.userId)
    .executeTakeFirst();
  return row?.seq;
}

export function voidCode(db: Executor, k: { tenantId: string; batchId: string; seq: number }, now: Date) {
  return db
    .updateTable('redeem_code')
    .set({ status: 'VOIDED', voided_at: now })
    .where('tenant_id', '=', k.tenantId)
    .where('batch_id', '=', k.batchId)
    .where('seq', '=', k.seq)
    .where('status', '=', 'ACTIVE')
    .returning('seq')
    .executeTakeFirst();
}

export async function listRedemptions(
  db: Executor,
  v: Visibility,
  f: { userId?: string; code?: string[]; batchId?: string; campaignId?: string; productCode?: string; deviceId?: string; from?: Date | null; to?: Date | null },
  page: { limit: number; offset: number },
) {
  // Joined with the batch for the code's display form (prefix, grouping) and product visibility.
  let q = db
    .selectFrom('redeem_code_redemption as r')
    .innerJoin('redeem_code_batch as b', (j) => j.onRef('b.tenant_id', '=', 'r.tenant_id').onRef('b.batch_id', '=', 'r.batch_id'))
    .where('r.tenant_id', '=', v.tenantId);
  if (v.productCodes) q = q.where('b.product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  if (f.userId) q = q.where('r.user_id', '=', f.userId);
  if (f.code) q = q.where('r.code', 'in', f.code);
  if (f.batchId) q = q.where('r.batch_id', '=', f.batchId);
  if (f.campaignId) q = q.where('r.campaign_id', '=', f.campaignId);
  if (f.productCode) q = q.where('r.product_code', '=', f.productCode);
  if (f.deviceId) q = q.where('r.device_id', '=', f.deviceId);
  if (f.from) q = q.where('r.created_at', '>=', f.from);
  if (f.to) q = q.where('r.created_at', '<', f.to);
  const [rows, total] = await Promise.all([
    q.selectAll('r').select(['b.code_type', 'b.prefix', 'b.group_size']).orderBy('r.created_at', 'desc').orderBy('r.redemption_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}
