-- mh_grant(jsonb), the JSON form of one grant, is gone: its one caller (mh_redeem) is gone, and
-- every grant, one or many, goes through mh_grant_set (grants/sql/mh_grant_set.sql).
drop function if exists mh_grant(jsonb);
