-- Group-buys (拼团): an activity sells an item at a group price to groups of `group_size` users.
-- A group is opened by its leader and stays open `open_minutes` (never past the activity's end);
-- it succeeds when full, or at expiry when the activity allows a virtual fill; else it fails.
-- Every limit is held by the database: a join is one transaction whose group update carries
-- `member_count < group_size` (re-checked on the row's newest version under concurrency), the
-- member's primary key (one join per user and group) and the per-user counter's
-- `groups_joined < per_user_limit` upsert.

create table group_buy_activity (
  tenant_id text not null,
  activity_id text not null,
  name text not null,
  item_id text not null,
  group_price bigint not null check (group_price >= 0),
  original_price bigint not null check (original_price >= 0),
  group_size integer not null check (group_size >= 2),
  open_minutes integer not null check (open_minutes >= 1),
  per_user_limit integer not null check (per_user_limit >= 1),
  start_time timestamptz not null,
  end_time timestamptz not null,
  virtual_fill boolean not null default false,
  -- Where group outcomes are announced (signed like reward webhooks); null: not announced.
  webhook_url text,
  webhook_secret text,
  ended_at timestamptz,
  created_by text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, activity_id),
  check (end_time > start_time)
);
create index group_buy_activity_list on group_buy_activity (tenant_id, created_at desc);

create table group_buy_group (
  tenant_id text not null,
  group_id text not null,
  activity_id text not null,
  leader_user_id text not null,
  -- Copied from the activity when the group opens (an activity cannot change once started).
  group_size integer not null check (group_size >= 2),
  virtual_fill boolean not null,
  member_count integer not null default 0,
  -- Places filled at expiry by the activity's virtual fill (no member rows).
  virtual_members integer not null default 0 check (virtual_members >= 0),
  status text not null check (status in ('open', 'succeeded', 'failed')),
  expires_at timestamptz not null,
  created_at timestamptz not null,
  completed_at timestamptz,
  primary key (tenant_id, group_id),
  check (member_count >= 0 and member_count <= group_size)
);
create index group_buy_group_by_activity on group_buy_group (tenant_id, activity_id, status, expires_at);
create index group_buy_group_due on group_buy_group (expires_at) where status = 'open';

create table group_buy_member (
  tenant_id text not null,
  group_id text not null,
  user_id text not null,
  activity_id text not null,
  order_id text,
  is_leader boolean not null,
  joined_at timestamptz not null,
  primary key (tenant_id, group_id, user_id)
);

-- Groups a user has joined in an activity (a failed group gives its place back).
create table group_buy_participant (
  tenant_id text not null,
  activity_id text not null,
  user_id text not null,
  groups_joined integer not null check (groups_joined >= 0),
  primary key (tenant_id, activity_id, user_id)
);
