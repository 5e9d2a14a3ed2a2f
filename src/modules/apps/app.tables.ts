import type { ColumnType } from 'kysely';

/** `{redeem_per_hour?, redeem_per_day?}` (see 0011_app_rate_limits.sql); null = the configured defaults. */
type NullableJson = ColumnType<unknown, string | null | undefined, string | null>;

export interface AppTable {
  tenant_id: string;
  product_code: string;
  name: string;
  rate_limits: NullableJson;
  created_at: Date;
  updated_at: Date;
}

export interface AppTables {
  app: AppTable;
}
