-- Grants are applied by one function, mh_grant_set, called directly by the grants module (one grant
-- or a group commit's many). mh_grant_batch, which ran grants and redemptions together, is gone:
-- redemptions have their own batch function (redeem-codes/sql/mh_redeem_batch.sql).
drop function if exists mh_grant_batch(jsonb);
