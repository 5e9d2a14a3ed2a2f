-- The composite item of the former redemption and grant set functions: since mh_redeem_set
-- (0026) and mh_grant_batch (0027) are gone no function takes or builds it (mh_redeem_batch reads
-- its items from JSON; mh_grant_set has its own mh_grant_item).
drop type if exists mh_redeem_item;
