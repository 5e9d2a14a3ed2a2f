import type { ColumnType, Generated } from 'kysely';

export type AudienceType = 'TAG' | 'SEGMENT' | 'LIST';

export interface AudienceTable {
  tenant_id: string;
  audience_id: string;
  product_code: string;
  audience_name: string;
  audience_type: AudienceType;
  description: string | null;
  rule: ColumnType<unknown, string | null, string | null>;
  created_at: Date;
  updated_at: Date;
  version: Generated<number>;
}

export interface AudienceMemberTable {
  tenant_id: string;
  audience_id: string;
  user_id: string;
  added_at: Date;
}

export interface AudienceTables {
  audience: AudienceTable;
  audience_member: AudienceMemberTable;
}
