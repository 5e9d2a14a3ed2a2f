import type { ColumnType, Generated } from 'kysely';

export type CampaignLifecycleState = 'DRAFT' | 'PUBLISHED' | 'PAUSED' | 'ARCHIVED';

type Json = ColumnType<unknown, string, string>;
type NullableJson = ColumnType<unknown, string | null, string | null>;

export interface CampaignTable {
  tenant_id: string;
  campaign_id: string;
  product_code: string;
  campaign_name: string;
  campaign_type: string;
  description: string | null;
  start_time: Date | null;
  end_time: Date | null;
  audience_id: string | null;
  form_fields: NullableJson;
  metadata: Json;
  lifecycle_state: CampaignLifecycleState;
  published_at: Date | null;
  paused_at: Date | null;
  archived_at: Date | null;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
  version: Generated<number>;
  /** The console operator who created / last changed the row: stamped by the database (0059_actor_stamps.sql), never written by code. */
  created_by: ColumnType<string | null, never, never>;
  updated_by: ColumnType<string | null, never, never>;
}

export interface CampaignTables {
  campaign: CampaignTable;
}
