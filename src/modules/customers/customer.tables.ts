import type { ColumnType } from 'kysely';

type Json = ColumnType<unknown, string | undefined, string>;

export interface CustomerTable {
  tenant_id: string;
  user_id: string;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  attributes: Json;
  attribute_dates: Json;
  consent: Json;
  created_at: Date;
  updated_at: Date;
}

export interface CustomerTables {
  customer: CustomerTable;
}
