import type { Generated } from 'kysely';

export const TARGET_TYPES = ['postgresql', 'mysql', 'mariadb', 'sqlserver', 'oracle'] as const;
export type TargetType = (typeof TARGET_TYPES)[number];
export const RECORD_KINDS = ['order', 'reward'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];
export type SyncStatus = 'pending' | 'synced' | 'failed' | 'skipped';

/** Where one kind of record goes: the table, the key column (the record's id) and source path -> column. */
export interface KindMapping {
  table: string;
  key_column: string;
  fields: Record<string, string>;
}
export type Mappings = Partial<Record<RecordKind, KindMapping>>;

export interface SyncTargetTable {
  tenant_id: string;
  target_id: string;
  name: string;
  type: TargetType;
  host: string;
  port: number;
  username: string;
  password_sealed: string;
  database_name: string;
  ssl: Generated<boolean>;
  mappings: Mappings;
  version: Generated<number>;
  created_at: Date;
  updated_at: Date;
}

export interface SyncRecordTable {
  tenant_id: string;
  sync_id: string;
  target_id: string | null;
  kind: RecordKind;
  record_id: string;
  order_id: string;
  record: unknown;
  status: SyncStatus;
  attempts: Generated<number>;
  last_error: string | null;
  last_attempt_at: Date | null;
  synced_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface SyncTables {
  sync_target: SyncTargetTable;
  sync_record: SyncRecordTable;
}
