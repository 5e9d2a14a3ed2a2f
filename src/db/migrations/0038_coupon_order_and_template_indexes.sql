-- Coupons by order (the lock reads the order's held coupons; commit / release / refund of an order
-- change all of them) and by template (the template's stats count its coupons by status). Without
-- them both read the whole coupon table.
create index coupon_by_order on coupon (tenant_id, order_id) where order_id is not null;
create index coupon_by_template on coupon (tenant_id, template_id, status);
