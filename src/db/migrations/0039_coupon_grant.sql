-- Coupons issued by grants of COUPON rewards that name a coupon template: which coupon each unit
-- of a grant issued. The primary key is the promise that one unit of one grant never issues a
-- second coupon, whatever path asks again (a replayed cause issues nothing in the first place).
-- grant_id is the grants module's id, kept as an opaque reference (no foreign key across modules).

create table coupon_grant (
  tenant_id text not null,
  grant_id text not null,
  unit integer not null check (unit >= 1),
  coupon_id text not null,
  created_at timestamptz not null,
  primary key (tenant_id, grant_id, unit),
  foreign key (tenant_id, coupon_id) references coupon (tenant_id, coupon_id)
);
create unique index coupon_grant_coupon on coupon_grant (tenant_id, coupon_id);
