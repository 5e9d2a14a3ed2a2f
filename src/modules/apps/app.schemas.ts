import { Type, type Static } from 'typebox';
import { PageQuery, Pagination, Slug, Timestamp } from '../../platform/http/common.schemas.js';

const Quota = (description: string) =>
  Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000_000 }), Type.Null()], { description }));

/**
 * The app's own redemption quotas (anti-abuse limits, 防刷: per product line, per hour and per day). A
 * missing field keeps the configured default (`rate_limits.redeem.per_product_hour|day`); null
 * turns that quota off for this app.
 */
export const AppRateLimits = Type.Object(
  {
    redeem_per_hour: Quota('Redemption attempts per sliding hour for this product line; null = no quota'),
    redeem_per_day: Quota('Redemption attempts per sliding day for this product line; null = no quota'),
  },
  { additionalProperties: false },
);
export type AppRateLimitsType = Static<typeof AppRateLimits>;

export const CreateAppBody = Type.Object(
  {
    product_code: Slug('Product line code, e.g. app1 (requests name it in the X-Product-Code header or a product_code field)', 64),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    rate_limits: Type.Optional(AppRateLimits),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type CreateAppInput = Static<typeof CreateAppBody>;

/** Rename, or set the quotas (`rate_limits` replaces the app's overrides as a whole), or both. */
export const UpdateAppBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    rate_limits: Type.Optional(AppRateLimits),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type UpdateAppInput = Static<typeof UpdateAppBody>;

export const App = Type.Object({
  tenant_id: Type.String(),
  product_code: Type.String(),
  name: Type.String(),
  rate_limits: AppRateLimits,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type AppView = Static<typeof App>;

export const AppList = Type.Object({ apps: Type.Array(App), pagination: Pagination });
export const AppListQuery = Type.Object(PageQuery, { additionalProperties: false });
export const AppParams = Type.Object({ product_code: Type.String({ maxLength: 64 }) });
