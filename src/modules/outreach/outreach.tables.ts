import type { ColumnType } from 'kysely';

type Json = ColumnType<unknown, string, string>;

export interface OutreachTemplateTable {
  tenant_id: string;
  template_id: string;
  name: string;
  channel: string;
  content: Json;
  defaults: ColumnType<unknown, string | undefined, string>;
  created_by: string;
  updated_by: string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface OutreachTables {
  outreach_template: OutreachTemplateTable;
}
