-- Referral hub: withdrawals of a user's BALANCE (request -> operator approves or
-- rejects), refunds of paid referral orders, and the debt a reversed reward leaves when the
-- user's balance could not cover it (paid first from the user's next referral rewards).

create table referral_withdrawal (
  withdrawal_id text primary key,
  tenant_id text not null,
  user_id text not null,
  amount bigint not null check (amount > 0),
  currency text not null,
  -- Free text from the tenant's backend: where to pay out (a bank account, a WeChat id...).
  account text,
  status text not null check (status in ('pending', 'approved', 'rejected')),
  note text,
  reason text,
  -- The ledger's SPEND entry that holds the amount from the request on (one per withdrawal).
  ledger_entry_id text not null,
  created_at timestamptz not null,
  decided_at timestamptz,
  check ((status = 'pending') = (decided_at is null))
);
create index referral_withdrawal_user on referral_withdrawal (tenant_id, user_id, created_at desc);
create index referral_withdrawal_status on referral_withdrawal (tenant_id, status, created_at desc);

create table referral_refund (
  -- Derived from the order ('rf_' || order_id): a retried refund is the same refund for the provider.
  out_refund_no text primary key,
  tenant_id text not null,
  order_id text not null references referral_order (order_id),
  amount bigint not null check (amount > 0),
  currency text not null,
  status text not null check (status in ('requested', 'succeeded')),
  refund_id text,
  reason text,
  requested_at timestamptz not null,
  settled_at timestamptz,
  check ((status = 'succeeded') = (settled_at is not null))
);
create unique index referral_refund_order on referral_refund (order_id);
create unique index referral_refund_id on referral_refund (refund_id) where refund_id is not null;

-- What reversed rewards could not take back from the balance, per user. amount = incurred - paid,
-- never negative; last_paid is what the latest payment took (read back by the same statement).
create table referral_debt (
  tenant_id text not null,
  user_id text not null,
  amount bigint not null check (amount >= 0),
  incurred bigint not null check (incurred >= 0),
  paid bigint not null check (paid >= 0),
  last_paid bigint not null default 0 check (last_paid >= 0),
  updated_at timestamptz not null,
  primary key (tenant_id, user_id),
  check (amount = incurred - paid)
);

-- A reward's debt payment (credited = amount - debt_paid) and, once reversed, what the ledger took
-- back (clawed_back) and what became debt (amount = clawed_back + debt).
alter table referral_reward
  add column debt_paid bigint not null default 0 check (debt_paid >= 0),
  add column reversed_at timestamptz,
  add column clawed_back bigint check (clawed_back is null or clawed_back >= 0),
  add column debt bigint check (debt is null or debt >= 0);
