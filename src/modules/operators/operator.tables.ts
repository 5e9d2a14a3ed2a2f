import type { ColumnType } from 'kysely';


export type OperatorRole = 'admin' | 'operator' | 'viewer';

/** An operator account (0053_operators.sql); tenant_id null = a platform operator. */
export interface OperatorTable {
  operator_id: string;
  tenant_id: string | null;
  email: string;
  name: string;
  role: OperatorRole;
  password_hash: string;
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
  password_changed_at: Date;
}

/** A signed-in browser: only the SHA-256 of its cookie value. */
export interface OperatorSessionTable {
  session_hash: string;
  operator_id: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
}

export type AuditActorKind = 'operator' | 'api_key' | 'master' | 'anonymous';

/** A console sign-in event (0059); null for an entry of an API request. */
export type AuditEvent = 'sign_in' | 'sign_in_failed' | 'locked_out' | 'sign_out';

export interface AuditLogTable {
  audit_id: string;
  tenant_id: string | null;
  actor_kind: AuditActorKind;
  operator_id: string | null;
  key_id: string | null;
  method: string;
  route: string;
  entity_id: string | null;
  status: number;
  request_id: string;
  at: Date;
  event: ColumnType<AuditEvent | null, AuditEvent | null | undefined, never>;
  details: ColumnType<Record<string, unknown> | null, string | null | undefined, never>;
}

export interface OperatorTables {
  operator: OperatorTable;
  operator_session: OperatorSessionTable;
  audit_log: AuditLogTable;
}
