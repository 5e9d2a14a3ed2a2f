-- One path for one redemption or many: mh_redeem_batch settles every redemption of a
-- set completely and grants through the grants module's grant function, so the one-by-one
-- redemption (mh_redeem) and the fast path over plain redemptions (mh_redeem_set) are gone. The
-- item type mh_redeem_item stays while another function still names it.
drop function if exists mh_redeem(jsonb);
drop function if exists mh_redeem_set(mh_redeem_item[]);
