import type { Insertable, Selectable } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { PaymentMerchantTable, PaymentTables } from './payment.tables.js';

// The tables are declared beside the module (payment.tables.ts); `withTables` adds them to the executor's types.
const on = (exec: Executor) => exec.withTables<Pick<PaymentTables, keyof PaymentTables>>();

export type MerchantRow = Selectable<PaymentMerchantTable>;

/**
 * Creates or replaces the tenant's credentials and the serials that point at them (the caller's
 * transaction: the serial index never names credentials that are not there).
 */
export async function upsertMerchant(exec: Executor, row: Insertable<PaymentMerchantTable>, serials: string[]): Promise<MerchantRow> {
  const { tenant_id: _t, created_at: _c, ...changes } = row;
  const saved = await on(exec)
    .insertInto('payment_merchant')
    .values(row)
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet(changes))
    .returningAll()
    .executeTakeFirstOrThrow();
  await on(exec).deleteFrom('payment_platform_serial').where('tenant_id', '=', row.tenant_id).execute();
  await on(exec)
    .insertInto('payment_platform_serial')
    .values(serials.map((serial_no) => ({ serial_no, tenant_id: row.tenant_id })))
    .onConflict((oc) => oc.doNothing())
    .execute();
  return saved;
}

export function findMerchant(exec: Executor, tenantId: string): Promise<MerchantRow | undefined> {
  return on(exec).selectFrom('payment_merchant').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
}

/** The credentials of every tenant that registered this platform serial (one indexed lookup). */
export function merchantsBySerial(exec: Executor, serial: string): Promise<MerchantRow[]> {
  return on(exec)
    .selectFrom('payment_platform_serial as s')
    .innerJoin('payment_merchant as m', 'm.tenant_id', 's.tenant_id')
    .selectAll('m')
    .where('s.serial_no', '=', serial)
    .limit(20)
    .execute();
}

export async function deleteMerchant(exec: Executor, tenantId: string): Promise<boolean> {
  const deleted = await on(exec).deleteFrom('payment_merchant').where('tenant_id', '=', tenantId).executeTakeFirst();
  return Number(deleted.numDeletedRows) > 0;
}

/** Stores the sandbox keys unless some process stored them first; answers the stored ones. */
export async function sandboxKeys(exec: Executor, name: string, sealed: string, now: Date): Promise<string> {
  await on(exec).insertInto('payment_sandbox_key').values({ name, keys_sealed: sealed, created_at: now }).onConflict((oc) => oc.column('name').doNothing()).execute();
  const row = await on(exec).selectFrom('payment_sandbox_key').select('keys_sealed').where('name', '=', name).executeTakeFirstOrThrow();
  return row.keys_sealed;
}

export async function findSandboxKeys(exec: Executor, name: string): Promise<string | undefined> {
  return (await on(exec).selectFrom('payment_sandbox_key').select('keys_sealed').where('name', '=', name).executeTakeFirst())?.keys_sealed;
}
