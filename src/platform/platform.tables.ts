import type { ColumnType } from 'kysely';

export interface PlatformSettingTable {
  setting_key: string;
  value: ColumnType<unknown, string, string>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export interface IdempotencyKeyTable {
  tenant_id: string;
  idem_key: string;
  request_hash: string;
  method: string;
  route: string;
  status: 'IN_PROGRESS' | 'COMPLETED';
  locked_until: Date | null;
  response_status: number | null;
  response_body: ColumnType<unknown, string | null, string | null>;
  created_at: Date;
  expires_at: Date;
  /** The process holding an IN_PROGRESS claim (instance-heartbeat.ts); null on older rows. */
  owner_instance: string | null;
  /** One claim's identity: only its holder may record the answer. */
  claim_token: string | null;
}

/** A live API process and its last heartbeat (database time). */
export interface ProcessInstanceTable {
  instance_id: string;
  started_at: Date;
  heartbeat_at: Date;
}

export interface PlatformTables {
  platform_setting: PlatformSettingTable;
  idempotency_key: IdempotencyKeyTable;
  process_instance: ProcessInstanceTable;
}
