-- A user's history must read in the order things happened. account_seq orders the entries of one
-- account (asset) only, so two entries of different assets written in the same millisecond had no
-- defined order. entry_seq is one increasing number over all entries.
alter table ledger_entry add column entry_seq bigint generated always as identity;

drop index ledger_entry_user_recent;
create index ledger_entry_user_recent on ledger_entry (tenant_id, user_id, created_at desc, entry_seq desc);
