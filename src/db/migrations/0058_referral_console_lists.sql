-- The console's lists of referral orders and sync records: a tenant's orders newest first (also by
-- campaign), and its sync records by status, last changed first (the failed ones to retry).
create index referral_order_tenant_created on referral_order (tenant_id, created_at desc);
create index referral_order_tenant_campaign on referral_order (tenant_id, campaign_id, created_at desc);
create index sync_record_tenant_status on sync_record (tenant_id, status, updated_at desc);
