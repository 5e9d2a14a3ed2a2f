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

type JsonOpt = ColumnType<unknown, string | null | undefined, string | null>;

export interface OutreachProviderTable {
  tenant_id: string;
  provider_id: string;
  name: string;
  channel: string;
  kind: string;
  config: Json;
  secrets_sealed: string;
  rate_per_second: number;
  is_default: ColumnType<boolean, boolean | undefined, boolean>;
  created_by: string;
  updated_by: string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface OutreachSettingsTable {
  tenant_id: string;
  frequency_cap: JsonOpt;
  quiet_hours: JsonOpt;
  default_time_zone: ColumnType<string, string | undefined, string>;
  updated_at: Date;
}

export interface OutreachCampaignTable {
  tenant_id: string;
  campaign_id: string;
  name: string;
  channel: string;
  status: string;
  target_tags: ColumnType<string[], string[] | undefined, string[]>;
  target_segment_id: string | null;
  template_id: string | null;
  content: JsonOpt;
  defaults: ColumnType<unknown, string | undefined, string>;
  link_url: string | null;
  variants: JsonOpt;
  ab_winner: JsonOpt;
  provider_id: string | null;
  reward_id: string | null;
  goal_event_type: string | null;
  conversion_window_hours: ColumnType<number, number | undefined, number>;
  frequency_cap: JsonOpt;
  quiet_hours: JsonOpt;
  transactional: ColumnType<boolean, boolean | undefined, boolean>;
  start_time: Date | null;
  end_time: Date | null;
  schedule_cron: string | null;
  schedule_time_zone: string | null;
  next_run_at: Date | null;
  actual_start_time: Date | null;
  actual_end_time: Date | null;
  created_by: string;
  updated_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface OutreachRunTable {
  tenant_id: string;
  run_id: string;
  campaign_id: string;
  execution_type: string;
  status: string;
  triggered_by: string;
  planned: ColumnType<number, number | undefined, number>;
  snapshot: Json;
  samples: ColumnType<unknown, string | undefined, string>;
  ab_state: JsonOpt;
  conversions_checked_until: Date | null;
  created_at: Date;
  started_at: Date | null;
  paused_at: Date | null;
  finished_at: Date | null;
}

export interface OutreachRecordTable {
  run_id: string;
  seq: number;
  tenant_id: string;
  campaign_id: string;
  customer_id: string;
  channel: string;
  variant: string | null;
  status: string;
  reason: string | null;
  error_message: string | null;
  address: string | null;
  provider_message_id: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Date;
  response: JsonOpt;
  sent_at: Date | null;
  delivered_at: Date | null;
  failed_at: Date | null;
  opened_at: Date | null;
  machine_opened_at: Date | null;
  clicked_at: Date | null;
  converted_at: Date | null;
  updated_at: Date;
}

export interface OutreachRunStatTable {
  tenant_id: string;
  run_id: string;
  variant: string;
  metric: string;
  n: ColumnType<string, number, number>;
}

export interface OutreachContactWindowTable {
  tenant_id: string;
  channel: string;
  customer_id: string;
  period_start: Date;
  n: number;
}

export interface OutreachSuppressionTable {
  tenant_id: string;
  channel: string;
  address: string;
  reason: string;
  created_at: Date;
}

export interface OutreachTables {
  outreach_template: OutreachTemplateTable;
  outreach_provider: OutreachProviderTable;
  outreach_settings: OutreachSettingsTable;
  outreach_campaign: OutreachCampaignTable;
  outreach_run: OutreachRunTable;
  outreach_record: OutreachRecordTable;
  outreach_run_stat: OutreachRunStatTable;
  outreach_contact_window: OutreachContactWindowTable;
  outreach_suppression: OutreachSuppressionTable;
}
