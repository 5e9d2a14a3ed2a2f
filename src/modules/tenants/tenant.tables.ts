import type { ColumnType } from 'kysely';

export type ApiKeyRole = 'admin' | 'service' | 'readonly';

export interface TenantTable {
  tenant_id: string;
  name: string;
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

export interface TenantTables {
  tenant: TenantTable;
  api_key: ApiKeyTable;
}
