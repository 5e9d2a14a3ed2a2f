-- One path for one grant or many: mh_grant_set settles every grant of a group commit
-- completely (stale, replayed, per-user limit, stock, minimum interval), and mh_grant is that set
-- function run over one item. Its item type carries what only mh_grant used to read
-- (per_user_limit, min_interval_ms, prefer_slot, nowait), so it is not mh_redeem_item any more.
-- A grant's ledger credit is written by the ledger module's mh_ledger_credit_set, whose item type
-- is mh_ledger_credit_item. The functions themselves live in their files (src/modules/*/sql/).

create type mh_grant_item as (
  ord integer,
  tenant_id text,
  user_id text,
  now timestamptz,
  reward_id text,
  reward_version integer,
  campaign_id text,
  campaign_version integer,
  grant_id text,
  reward_type text,
  product_code text,
  quantity bigint,
  source text,
  source_id text,
  status text,
  distributor text,
  delivery_status text,
  payload jsonb,
  period_key text,
  per_user_limit bigint,
  min_interval_ms bigint,
  credit jsonb,
  job jsonb,
  prefer_slot smallint,
  nowait boolean
);

create type mh_ledger_credit_item as (
  ord integer,
  tenant_id text,
  user_id text,
  asset text,
  amount bigint,
  entry_id text,
  entry_type text,
  cause_type text,
  cause_id text,
  memo text,
  now timestamptz
);

-- The fast path over plain grants only, replaced by mh_grant_set(mh_grant_item[]).
drop function if exists mh_grant_set(mh_redeem_item[]);
