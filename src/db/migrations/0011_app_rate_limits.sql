-- Per-app (product line) overrides of the redemption quotas (seed 002: per-product hour and day
-- limits): {"redeem_per_hour": 100, "redeem_per_day": 1000}. A missing key keeps the configured
-- default (rate_limits.redeem.*), null turns that quota off for the app. Nullable, so existing
-- rows and code that does not know the column are unaffected.

alter table app add column rate_limits jsonb;
