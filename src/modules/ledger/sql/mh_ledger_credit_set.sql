-- Credits (positive amounts) to ledger accounts as a SET, for statements that move many accounts
-- at once (a group commit of grants: mh_grant_set). One upsert per account, however many of its
-- credits are in the set, then one INSERT of the entries: each entry gets the balance and the
-- account_seq after it, in the order of `ord`, so the ledger reads as if the credits were posted
-- one by one. Accounts are locked in (tenant, user, asset) order, the order every batch uses, so
-- two sets cannot deadlock on each other's accounts.
--
-- An entry is never dated before the account's previous one (updated_at only moves forward): a
-- credit decided a moment before another may reach the account after it, and the ledger's order
-- (created_at, entry_seq) must be the order the balance moved in. No duplicate check: the caller
-- owns the cause (a grant's cause is its grant row, claimed before this runs). A balance above
-- the account's maximum fails the statement (check ledger_account_balance_max), as any credit does.
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
create or replace function mh_ledger_credit_set(p_credits mh_ledger_credit_item[])
returns void
language plpgsql as $$
begin
  with credits as (
    select * from unnest(p_credits) k
  ),
  accounts as (
    insert into ledger_account as a (tenant_id, user_id, asset, balance, entry_count, updated_at)
    select k.tenant_id, k.user_id, k.asset, sum(k.amount), count(*), max(k.now)
    from credits k
    group by k.tenant_id, k.user_id, k.asset
    order by k.tenant_id, k.user_id, k.asset
    on conflict (tenant_id, user_id, asset) do update
      set balance = a.balance + excluded.balance, entry_count = a.entry_count + excluded.entry_count,
          updated_at = greatest(a.updated_at, excluded.updated_at)
    returning a.tenant_id, a.user_id, a.asset, a.balance, a.entry_count, a.updated_at
  )
  insert into ledger_entry (tenant_id, entry_id, user_id, asset, amount, balance_after, account_seq,
                            entry_type, cause_type, cause_id, reverses_entry_id, memo, created_at)
  select k.tenant_id, k.entry_id, k.user_id, k.asset, k.amount,
         a.balance - coalesce(sum(k.amount) over later, 0),
         a.entry_count - coalesce(count(*) over later, 0),
         k.entry_type, k.cause_type, k.cause_id, null, k.memo, a.updated_at
  from credits k
  join accounts a on a.tenant_id = k.tenant_id and a.user_id = k.user_id and a.asset = k.asset
  window later as (partition by k.tenant_id, k.user_id, k.asset order by k.ord desc
                   rows between unbounded preceding and 1 preceding)
  order by k.ord;
end $$;
