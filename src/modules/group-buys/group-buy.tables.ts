import type { Generated } from 'kysely';

export interface GroupBuyActivityTable {
  tenant_id: string;
  activity_id: string;
  name: string;
  item_id: string;
  group_price: number;
  original_price: number;
  group_size: number;
  open_minutes: number;
  per_user_limit: number;
  start_time: Date;
  end_time: Date;
  virtual_fill: Generated<boolean>;
  webhook_url: string | null;
  webhook_secret: string | null;
  ended_at: Date | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export type GroupStatus = 'open' | 'succeeded' | 'failed';

export interface GroupBuyGroupTable {
  tenant_id: string;
  group_id: string;
  activity_id: string;
  leader_user_id: string;
  group_size: number;
  virtual_fill: boolean;
  member_count: Generated<number>;
  virtual_members: Generated<number>;
  status: GroupStatus;
  expires_at: Date;
  created_at: Date;
  completed_at: Date | null;
}

export interface GroupBuyMemberTable {
  tenant_id: string;
  group_id: string;
  user_id: string;
  activity_id: string;
  order_id: string | null;
  is_leader: boolean;
  joined_at: Date;
}

export interface GroupBuyParticipantTable {
  tenant_id: string;
  activity_id: string;
  user_id: string;
  groups_joined: number;
}

export interface GroupBuyTables {
  group_buy_activity: GroupBuyActivityTable;
  group_buy_group: GroupBuyGroupTable;
  group_buy_member: GroupBuyMemberTable;
  group_buy_participant: GroupBuyParticipantTable;
}
