import type { ColumnType, Generated } from 'kysely';

type Json = ColumnType<unknown, string, string>;
type NullableJson = ColumnType<unknown, string | null | undefined, string | null>;

export interface TaskTable {
  tenant_id: string;
  task_id: string;
  product_code: string;
  task_name: string;
  task_type: string;
  event_type: string;
  description: string | null;
  condition: Json;
  repeat_policy: string;
  max_completions: number | null;
  time_zone: string;
  start_time: Date | null;
  end_time: Date | null;
  reward_id: string | null;
  reward_quantity: number;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
  version: Generated<number>;
}

export interface CampaignTaskTable {
  tenant_id: string;
  campaign_id: string;
  task_id: string;
  sort_order: number;
  created_at: Date;
}

export interface TaskEventTable {
  tenant_id: string;
  event_id: string;
  user_id: string;
  event_type: string;
  product_code: string | null;
  occurred_at: Date;
  received_at: Date;
  results: NullableJson;
}

export interface TaskProgressTable {
  tenant_id: string;
  task_id: string;
  user_id: string;
  period_key: string;
  progress: number;
  completions: number;
  last_day: ColumnType<string | null, string | null, string | null>;
  last_gain: number;
  updated_at: Date;
}

export interface TaskProgressValueTable {
  tenant_id: string;
  task_id: string;
  user_id: string;
  period_key: string;
  value: string;
}

export interface TaskCompletionLogTable {
  tenant_id: string;
  completion_id: string;
  task_id: string;
  campaign_id: string;
  product_code: string;
  user_id: string;
  event_id: string;
  period_key: string;
  seq: number;
  reward_id: string | null;
  reward_quantity: number | null;
  grant_id: string | null;
  grant_status: 'GRANTED' | 'REFUSED' | 'NONE';
  grant_error_code: string | null;
  grant_error_message: string | null;
  completed_at: Date;
}

export interface TaskTables {
  task: TaskTable;
  campaign_task: CampaignTaskTable;
  task_event: TaskEventTable;
  task_progress: TaskProgressTable;
  task_progress_value: TaskProgressValueTable;
  task_completion_log: TaskCompletionLogTable;
}
