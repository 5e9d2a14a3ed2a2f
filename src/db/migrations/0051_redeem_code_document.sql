-- Redeem codes, the product document's fields (docs/redeem-codes.md):
--   batches: the document's rule id, valid days (the batch's expiry was computed from them),
--   reward rules (what a redemption grants, decided per user by tag), one code per user for
--   hand-outs, and extra_data (a JSON object, capped in the application);
--   codes: extra_data (set at assignment);
--   redemptions: the device the code was redeemed from; reward_id and grant_id are empty for a
--   batch with reward rules (its grants and coupons are made by the rules, not by one reward).
alter table redeem_code_batch alter column reward_id drop not null;
alter table redeem_code_batch add column rule_id text;
alter table redeem_code_batch add column valid_days integer check (valid_days > 0);
alter table redeem_code_batch add column reward_rules jsonb;
alter table redeem_code_batch add column one_per_user boolean not null default false;
alter table redeem_code_batch add column extra_data jsonb;
alter table redeem_code add column extra_data jsonb;
alter table redeem_code_redemption add column device_id text;
alter table redeem_code_redemption alter column reward_id drop not null;
alter table redeem_code_redemption alter column grant_id drop not null;

-- The free codes of a batch, in order, for handing out the next one (FOR UPDATE SKIP LOCKED).
create index redeem_code_free on redeem_code (tenant_id, batch_id, seq)
  where assigned_user_id is null and status = 'ACTIVE' and uses = 0;

-- One code per user in a one_per_user batch's hand-outs: the hand-out's statement inserts here
-- and only assigns when the insert did; a second hand-out to the user finds this row.
create table redeem_code_batch_user (
  tenant_id text not null,
  batch_id text not null,
  user_id text not null,
  seq integer not null,
  created_at timestamptz not null,
  primary key (tenant_id, batch_id, user_id)
);
