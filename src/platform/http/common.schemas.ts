import { Type, type Static, type TSchema } from 'typebox';

/** The one error body of every route: `{"error": {"code", "message", "details"}, "requestId"}`. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. campaign_not_found' }),
      message: Type.String(),
      details: Type.Record(Type.String(), Type.Unknown()),
    }),
    requestId: Type.String(),
  },
  { $id: 'ErrorBody', title: 'Error' },
);
export type ErrorBodyType = Static<typeof ErrorBody>;

const errorRef = Type.Unsafe<ErrorBodyType>(Type.Ref('ErrorBody'));

/** Error responses for a route's schema: the statuses it can answer with besides success. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const status of statuses) out[status] = errorRef;
  return out;
}

/** The statuses every authenticated /v1 route may answer with. */
export const authErrors = [400, 401, 403] as const;

export const MAX_PAGE_SIZE = 500;

export const PageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 20 })),
};

export const Pagination = Type.Object({
  total: Type.Integer(),
  page: Type.Integer(),
  page_size: Type.Integer(),
});
export type PaginationType = Static<typeof Pagination>;

export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

/** Tenant ids and product codes: short, URL-safe, case-sensitive. */
export const Slug = (description: string, maxLength = 64) =>
  Type.String({ minLength: 1, maxLength, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', description });

export const ProductCodeHeader = Type.Object({
  'x-product-code': Type.Optional(Type.String({ maxLength: 64 })),
});
