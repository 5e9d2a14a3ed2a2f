-- Referral hub: the product document's DELETE /api/v1/campaigns/:id is a soft delete;
-- the settings row stays (orders and rewards keep pointing at it) with the time it was deleted.
alter table referral_campaign add column deleted_at timestamptz;
