-- The ledger (promise 4, "one ledger"): points, cash balance (integer minor units) and
-- subscription days move only through append-only entries. Each account row holds the running
-- balance; it changes in the same statement that appends the entry explaining it, and only when
-- the result stays >= 0, so no read-modify-write and no optimistic-lock retry loop is needed.

create table ledger_account (
  tenant_id text not null,
  user_id text not null,
  asset text not null check (asset in ('POINTS', 'BALANCE', 'SUBSCRIPTION_DAYS')),
  balance bigint not null default 0 constraint ledger_account_balance_non_negative check (balance >= 0),
  entry_count bigint not null default 0,
  updated_at timestamptz not null,
  primary key (tenant_id, user_id, asset),
  -- Balances come back to JavaScript as numbers: keep them exactly representable (2^53 - 1).
  constraint ledger_account_balance_max check (balance <= 9007199254740991)
);

create table ledger_entry (
  tenant_id text not null,
  entry_id text not null,
  user_id text not null,
  asset text not null,
  -- Signed: credits positive, debits negative; never 0 (an entry that moves nothing explains nothing).
  amount bigint not null check (amount <> 0),
  balance_after bigint not null check (balance_after >= 0),
  -- Position of the entry in its account (1, 2, ...): the exact order within an account even when
  -- several entries share a millisecond, and entry_count of the account after it.
  account_seq bigint not null,
  entry_type text not null check (entry_type in ('GRANT', 'REVOKE', 'SPEND', 'EXPIRE', 'ADJUST')),
  cause_type text not null,
  cause_id text not null,
  reverses_entry_id text,
  memo text,
  created_at timestamptz not null,
  primary key (tenant_id, entry_id),
  foreign key (tenant_id, user_id, asset) references ledger_account (tenant_id, user_id, asset)
);

-- A cause (a reward grant, a debit's reference_id, ...) posts each entry type of an asset once:
-- a retried grant cannot credit twice. Reversals carry the cause they reverse and are kept unique
-- by ledger_entry_reversal instead.
create unique index ledger_entry_cause on ledger_entry (tenant_id, cause_type, cause_id, entry_type, asset)
  where reverses_entry_id is null;

-- A reference_id sent to the debit / adjust routes names one entry whatever its asset, so reusing
-- it for another asset is refused even when the two requests race.
create unique index ledger_entry_reference on ledger_entry (tenant_id, cause_type, cause_id)
  where reverses_entry_id is null and cause_type in ('debit', 'adjust');

-- An entry is reversed at most once.
create unique index ledger_entry_reversal on ledger_entry (tenant_id, reverses_entry_id)
  where reverses_entry_id is not null;

-- A user's history, newest first (GET /v1/users/{user_id}/ledger).
create index ledger_entry_user_recent on ledger_entry (tenant_id, user_id, created_at desc, account_seq desc, entry_id desc);
