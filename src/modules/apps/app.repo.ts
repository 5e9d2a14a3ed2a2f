import type { Insertable, Selectable } from 'kysely';
import type { Executor } from '../../db/client.js';
import { isUniqueViolation } from '../../db/errors.js';
import { appErrors } from './app.errors.js';
import type { AppTable } from './app.tables.js';

export type AppRow = Selectable<AppTable>;

export async function insertApp(db: Executor, row: Insertable<AppTable>): Promise<AppRow> {
  try {
    return await db.insertInto('app').values(row).returningAll().executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw appErrors.alreadyExists(row.product_code);
    }
    throw err;
  }
}

export function findApp(db: Executor, tenantId: string, productCode: string): Promise<AppRow | undefined> {
  return db.selectFrom('app').selectAll().where('tenant_id', '=', tenantId).where('product_code', '=', productCode).executeTakeFirst();
}

export async function findExistingCodes(db: Executor, tenantId: string, codes: readonly string[]): Promise<Set<string>> {
  if (codes.length === 0) return new Set();
  const rows = await db
    .selectFrom('app')
    .select('product_code')
    .where('tenant_id', '=', tenantId)
    .where('product_code', 'in', codes)
    .execute();
  return new Set(rows.map((r) => r.product_code));
}

export async function listApps(
  db: Executor,
  tenantId: string,
  options: { limit: number; offset: number; onlyCodes: readonly string[] | null },
) {
  let query = db.selectFrom('app').where('tenant_id', '=', tenantId);
  if (options.onlyCodes) query = query.where('product_code', 'in', options.onlyCodes.length ? options.onlyCodes : ['']);
  const [rows, total] = await Promise.all([
    query.selectAll().orderBy('created_at', 'desc').orderBy('product_code').limit(options.limit).offset(options.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

export function updateApp(
  db: Executor,
  tenantId: string,
  productCode: string,
  change: { name?: string; rate_limits?: string | null },
  at: Date,
) {
  return db
    .updateTable('app')
    .set({ ...change, updated_at: at })
    .where('tenant_id', '=', tenantId)
    .where('product_code', '=', productCode)
    .returningAll()
    .executeTakeFirst();
}

/** The app's quota overrides, or undefined when there is no such app. */
export async function findRateLimits(db: Executor, tenantId: string, productCode: string): Promise<{ rate_limits: unknown } | undefined> {
  return db
    .selectFrom('app')
    .select('rate_limits')
    .where('tenant_id', '=', tenantId)
    .where('product_code', '=', productCode)
    .executeTakeFirst();
}
