-- The console's customer search (GET /v1/customers): a tenant's profiles, most recently changed
-- first, a page at a time; and a user id prefix search. Tag (customer_tags) and phone / e-mail
-- (customer_attributes, by containment) filters use the GIN indexes of 0012.
create index customer_recent on customer (tenant_id, updated_at desc, user_id);
create index customer_user_prefix on customer (tenant_id, user_id text_pattern_ops);
