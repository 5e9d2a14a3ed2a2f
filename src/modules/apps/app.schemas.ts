import { Type, type Static } from 'typebox';
import { PageQuery, Pagination, Slug, Timestamp } from '../../app/common.schemas.js';

export const CreateAppBody = Type.Object(
  {
    product_code: Slug('Product line code, e.g. app1 (seed: x-product-code)', 64),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type CreateAppInput = Static<typeof CreateAppBody>;

export const UpdateAppBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }), tenant_id: Type.Optional(Type.String({ maxLength: 64 })) },
  { additionalProperties: false },
);

export const App = Type.Object({
  tenant_id: Type.String(),
  product_code: Type.String(),
  name: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type AppView = Static<typeof App>;

export const AppList = Type.Object({ apps: Type.Array(App), pagination: Pagination });
export const AppListQuery = Type.Object(PageQuery, { additionalProperties: false });
export const AppParams = Type.Object({ product_code: Type.String({ maxLength: 64 }) });
