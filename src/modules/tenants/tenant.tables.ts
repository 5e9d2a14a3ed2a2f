import type { ColumnType } from 'kysely';

export type ApiKeyRole = 'admin' | 'service' | 'readonly';

/** PLATFORM: a tenant of the platform (default); CHANNEL: a channel partner (the partner flow). */
export const TENANT_TYPES = ['PLATFORM', 'CHANNEL'] as const;
export type TenantType = (typeof TENANT_TYPES)[number];

export interface TenantTable {
  tenant_id: string;
  name: string;
  tenant_type: ColumnType<TenantType, TenantType | undefined, TenantType>;
  created_at: Date;
  updated_at: Date;
}

export interface ApiKeyTable {
  tenant_id: string;
  key_id: string;
  name: string;
  role: ApiKeyRole;
  prefix: string;
  secret_hash: string;
  product_codes: string[] | null;
  created_at: Date;
  last_used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/** A tenant's code-generation quota (code-quota.ts); null limits mean no limit of that kind. */
export interface TenantCodeQuotaTable {
  tenant_id: string;
  daily_limit: number | null;
  total_limit: number | null;
  time_zone: string;
  /** The local day (YYYY-MM-DD in time_zone) used_today counts. */
  day: string;
  used_today: ColumnType<number, number | undefined, number>;
  used_total: ColumnType<number, number | undefined, number>;
  created_at: Date;
  updated_at: Date;
}

export interface TenantTables {
  tenant: TenantTable;
  api_key: ApiKeyTable;
  tenant_code_quota: TenantCodeQuotaTable;
}
