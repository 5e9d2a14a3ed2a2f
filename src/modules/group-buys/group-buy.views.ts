import type { ActivityRow, GroupRow, MemberRow } from './group-buy.repo.js';
import type { ActivityView, GroupView } from './group-buy.schemas.js';

export type ActivityStatus = 'scheduled' | 'active' | 'ended';

export function activityStatus(row: ActivityRow, now: Date): ActivityStatus {
  if (row.ended_at || row.end_time.getTime() <= now.getTime()) return 'ended';
  if (row.start_time.getTime() > now.getTime()) return 'scheduled';
  return 'active';
}

export function toActivityView(row: ActivityRow, now: Date): ActivityView {
  return {
    activity_id: row.activity_id,
    name: row.name,
    item_id: row.item_id,
    group_price: Number(row.group_price),
    original_price: Number(row.original_price),
    group_size: row.group_size,
    open_minutes: row.open_minutes,
    per_user_limit: row.per_user_limit,
    start_time: row.start_time.toISOString(),
    end_time: row.end_time.toISOString(),
    virtual_fill: row.virtual_fill,
    webhook_url: row.webhook_url,
    status: activityStatus(row, now),
    ended_at: row.ended_at ? row.ended_at.toISOString() : null,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toGroupView(row: GroupRow, members: MemberRow[]): GroupView {
  return {
    group_id: row.group_id,
    activity_id: row.activity_id,
    leader_user_id: row.leader_user_id,
    group_size: row.group_size,
    member_count: row.member_count,
    virtual_members: row.virtual_members,
    status: row.status,
    virtually_filled: row.virtual_members > 0,
    expires_at: row.expires_at.toISOString(),
    created_at: row.created_at.toISOString(),
    completed_at: row.completed_at ? row.completed_at.toISOString() : null,
    members: members
      .filter((m) => m.group_id === row.group_id)
      .map((m) => ({ user_id: m.user_id, order_id: m.order_id, is_leader: m.is_leader, joined_at: m.joined_at.toISOString() })),
  };
}
