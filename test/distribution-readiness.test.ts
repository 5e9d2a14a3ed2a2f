import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openPglite, openPostgres } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { postgresUrl, testDbKind } from './helpers/database.js';
import { createScratchDatabase } from './helpers/postgres-admin.js';

/**
 * Could the schema be distributed by tenant_id (Citus) as it is? Read from the migrated database's
 * catalog, against the lists below of today's exceptions, each with why it exists and what it
 * would need (docs/scaling.md says the same in prose). A new table, key, index or function that
 * does not distribute fails here until it is listed, so the gap never grows unnoticed; an
 * exception that is fixed fails too, until it is taken off its list.
 *
 * The rules, as Citus applies them to tables distributed on one column and co-located:
 * - the distribution column is NOT NULL and part of the primary key and of every unique index
 *   (a shard can only enforce uniqueness over rows it holds);
 * - a foreign key between distributed tables includes the distribution column on both sides;
 *   a distributed table may reference a reference table (copied to every node), not the reverse;
 * - a function called with one tenant's work can be sent to that tenant's node whole
 *   (create_distributed_function with its tenant argument); one that takes several tenants' work
 *   in one call runs on the coordinator as a distributed transaction.
 */

/** Platform-wide tables: no tenant, small; reference tables (or the coordinator's own). */
const PLATFORM_TABLES: Record<string, string> = {
  schema_migration: 'migration bookkeeping: the coordinator\'s own (Citus propagates DDL)',
  schema_function: 'function bookkeeping: the coordinator\'s own',
  platform_setting: 'platform settings: reference table',
  process_instance: 'heartbeats of API and worker processes: reference table (or coordinator-local)',
  payment_sandbox_key: 'sandbox signing keys of the payment simulators: reference table',
  media: 'content-addressed image bytes shared by tenants (deduplicated): reference table, or keyed by tenant to keep bytes off every node',
  operator: 'console operators; platform operators have no tenant (tenant_id null): reference table',
  operator_session: 'console sessions, looked up by the cookie\'s hash before the tenant is known: reference table',
};

/** Tenant tables whose primary key lacks tenant_id: each blocks distribution until its key is (tenant_id, ...). */
const PRIMARY_KEY_WITHOUT_TENANT: Record<string, string> = {
  audit_log: 'primary key (audit_id); tenant_id null for master-key actions',
  outreach_record: 'primary key (run_id, seq)',
  outreach_run_stat: 'primary key (run_id, variant, metric)',
  referral_order: 'primary key (order_id)',
  referral_refund: 'primary key (out_refund_no)',
  referral_reward: 'primary key (reward_id)',
  referral_view: 'primary key (campaign_id, channel, referrer_id)',
  referral_withdrawal: 'primary key (withdrawal_id)',
};

/** Tenant tables whose primary key holds tenant_id, not first: distributes, but a tenant's rows are not one index range. */
const TENANT_NOT_FIRST: Record<string, string> = {
  payment_platform_serial: 'primary key (serial_no, tenant_id): a platform serial is looked up across tenants',
};

/** Foreign keys that leave out tenant_id (by constraint name). */
const FOREIGN_KEYS_WITHOUT_TENANT: Record<string, string> = {
  media_owner_media_id_fkey: 'media_owner -> media (media_id): fine once media is a reference table',
  operator_session_operator_id_fkey: 'operator_session -> operator: both platform tables',
  referral_refund_order_id_fkey: 'referral_refund -> referral_order (order_id): needs (tenant_id, order_id)',
  referral_reward_order_id_fkey: 'referral_reward -> referral_order (order_id): needs (tenant_id, order_id)',
};

/** Unique indexes of tenant tables without tenant_id (global uniqueness no shard can enforce), by index name. */
const UNIQUE_WITHOUT_TENANT: Record<string, string> = {
  api_key_prefix: 'an API key is found by its prefix before the tenant is known: a lookup table (prefix -> tenant) as a reference table',
  publishable_key_hash: 'a publishable key is found by its hash before the tenant is known: the same lookup table',
  outreach_run_id: 'run ids unique across tenants (ULIDs make a clash practically impossible): drop or add tenant_id',
  outreach_record_once: '(run_id, customer_id, channel): add tenant_id',
  referral_campaign_id: 'referral pages find a campaign by id alone (keyless routes): a lookup table, or the tenant in the page URL',
  referral_order_phone: '(campaign_id, phone): add tenant_id',
  referral_order_trade_no: 'payment notifications find an order by trade_no alone: a lookup table',
  referral_refund_id: 'refund notifications find a refund by refund_id alone: a lookup table',
  referral_refund_order: '(order_id): add tenant_id',
  referral_reward_order_id_level_key: '(order_id, level): add tenant_id',
};

/** Identity and serial columns: ids are made by the application (prefixed ULIDs, src/platform/ids.ts). */
const SEQUENCE_COLUMNS: Record<string, string> = {
  'ledger_entry.entry_seq': 'one number over all entries, used to order a user\'s entries written in the same millisecond; distributed, it stays unique but follows the node a shard lives on, so after a shard move it no longer orders: order by the account\'s own account_seq instead',
};

/**
 * The database functions: `tenant` = one tenant's work per call, its first argument the tenant
 * (distributable by that argument); `items` = a set of items that may belong to several tenants
 * (the group commits of grants and redemptions mix callers); `trigger` = a row trigger touching
 * only the row it fires for.
 */
const FUNCTIONS: Record<string, 'tenant' | 'items' | 'trigger'> = {
  mh_take_stock: 'tenant',
  mh_task_progress: 'tenant',
  mh_grant_set: 'items',
  mh_redeem_batch: 'items',
  mh_ledger_credit_set: 'items',
  mh_return_stock: 'items',
  mh_stamp_actor: 'trigger',
};

let db: Database;
let done: () => Promise<void> = async () => {};
const rows = async <T>(query: string): Promise<T[]> => (await sql.raw(query).execute(db)).rows as T[];

interface TableKey {
  table: string;
  pk: string[];
  tenant: 'none' | 'nullable' | 'not null';
}

async function tableKeys(): Promise<TableKey[]> {
  return rows<TableKey>(`
    select c.relname as "table",
      coalesce((select array_agg(a.attname::text order by k.ord)
                from pg_constraint p cross join unnest(p.conkey) with ordinality k(attnum, ord)
                join pg_attribute a on a.attrelid = p.conrelid and a.attnum = k.attnum
                where p.conrelid = c.oid and p.contype = 'p'), '{}') as pk,
      coalesce((select case when a.attnotnull then 'not null' else 'nullable' end from pg_attribute a
                where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped), 'none') as tenant
    from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
    order by 1`);
}

const sorted = (o: Record<string, unknown>) => Object.keys(o).sort();

describe('distribution by tenant_id (Citus readiness)', () => {
  // A database of its own, migrated like any install: the shared test database may hold other
  // files' probe tables.
  beforeAll(async () => {
    if (testDbKind() === 'pglite') {
      const handle = await openPglite(null);
      done = () => handle.close();
      await migrate(handle);
      db = handle.db;
      return;
    }
    const scratch = await createScratchDatabase(postgresUrl(), 'distribution');
    const handle = await openPostgres(scratch.url, 2);
    done = async () => {
      await handle.close();
      await scratch.drop();
    };
    await migrate(handle);
    db = handle.db;
  });
  afterAll(() => done());

  it('every tenant table has tenant_id NOT NULL, first in its primary key; the exceptions are listed', async () => {
    const keys = await tableKeys();
    const platform = keys.filter((t) => t.tenant === 'none' || (t.tenant === 'nullable' && t.table in PLATFORM_TABLES)).map((t) => t.table);
    expect(platform.sort()).toEqual(sorted(PLATFORM_TABLES));
    const tenantTables = keys.filter((t) => !platform.includes(t.table));
    // A distributed table's rows each need a tenant.
    expect(tenantTables.filter((t) => t.tenant === 'nullable' && !(t.table in PRIMARY_KEY_WITHOUT_TENANT)).map((t) => t.table)).toEqual([]);
    expect(tenantTables.filter((t) => !t.pk.includes('tenant_id')).map((t) => t.table).sort()).toEqual(sorted(PRIMARY_KEY_WITHOUT_TENANT));
    expect(tenantTables.filter((t) => t.pk.includes('tenant_id') && t.pk[0] !== 'tenant_id').map((t) => t.table).sort()).toEqual(sorted(TENANT_NOT_FIRST));
    // What is left is the rule: (tenant_id, ...) - most of the schema.
    expect(tenantTables.filter((t) => t.pk[0] === 'tenant_id').length).toBeGreaterThan(50);
  });

  it('every foreign key carries tenant_id on both sides, in the same position; the exceptions are listed', async () => {
    const fks = await rows<{ name: string; from_cols: string[]; to_cols: string[] }>(`
      select conname as name,
        (select array_agg(a.attname::text order by k.ord) from unnest(conkey) with ordinality k(attnum, ord)
         join pg_attribute a on a.attrelid = conrelid and a.attnum = k.attnum) as from_cols,
        (select array_agg(a.attname::text order by k.ord) from unnest(confkey) with ordinality k(attnum, ord)
         join pg_attribute a on a.attrelid = confrelid and a.attnum = k.attnum) as to_cols
      from pg_constraint where contype = 'f' and connamespace = 'public'::regnamespace`);
    expect(fks.length).toBeGreaterThan(15);
    const pairsTenant = (f: (typeof fks)[number]) => f.from_cols.some((c, i) => c === 'tenant_id' && f.to_cols[i] === 'tenant_id');
    expect(fks.filter((f) => !pairsTenant(f)).map((f) => f.name).sort()).toEqual(sorted(FOREIGN_KEYS_WITHOUT_TENANT));
  });

  it('every unique index of a tenant table includes tenant_id; the exceptions are listed', async () => {
    const unique = await rows<{ table: string; index: string; primary: boolean; cols: (string | null)[] }>(`
      select i.indrelid::regclass::text as "table", i.indexrelid::regclass::text as "index", i.indisprimary as primary,
        (select array_agg(a.attname::text order by k.ord) from unnest(i.indkey::int2[]) with ordinality k(attnum, ord)
         left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum) as cols
      from pg_index i join pg_class c on c.oid = i.indrelid
      where c.relnamespace = 'public'::regnamespace and i.indisunique`);
    expect(unique.length).toBeGreaterThan(60);
    // Primary keys are the first test's; platform tables are reference tables (enforced on one node).
    // An expression's column (null here) is not the column itself: Citus needs the column.
    const offending = unique.filter((u) => !u.primary && !(u.table in PLATFORM_TABLES) && !u.cols.includes('tenant_id')).map((u) => u.index);
    expect(offending.sort()).toEqual(sorted(UNIQUE_WITHOUT_TENANT));
  });

  it('no table takes ids from a database sequence except the listed ones', async () => {
    const columns = await rows<{ col: string }>(`
      select table_name || '.' || column_name as col from information_schema.columns
      where table_schema = 'public' and (is_identity = 'YES' or column_default like 'nextval(%')`);
    expect(columns.map((c) => c.col).sort()).toEqual(sorted(SEQUENCE_COLUMNS));
    const sequences = await rows<{ name: string }>("select sequence_name as name from information_schema.sequences where sequence_schema = 'public'");
    // Only the identity column's own sequence, if the catalog lists it at all.
    expect(sequences.filter((s) => !s.name.startsWith('ledger_entry_entry_seq')).map((s) => s.name)).toEqual([]);
  });

  it('every database function is classified; those of one tenant take it as their first argument', async () => {
    const fns = await rows<{ name: string; args: string[] | null; trigger: boolean }>(`
      select p.proname as name, p.proargnames::text[] as args, p.prorettype = 'trigger'::regtype as trigger
      from pg_proc p where p.pronamespace = 'public'::regnamespace`);
    expect(fns.map((f) => f.name).sort()).toEqual(sorted(FUNCTIONS));
    for (const f of fns) {
      if (FUNCTIONS[f.name] === 'tenant') expect(f.args?.[0], f.name).toBe('p_tenant');
      if (FUNCTIONS[f.name] === 'trigger') expect(f.trigger, f.name).toBe(true);
      if (FUNCTIONS[f.name] === 'items') expect(f.args?.includes('p_tenant') ?? false, f.name).toBe(false);
    }
  });
});
