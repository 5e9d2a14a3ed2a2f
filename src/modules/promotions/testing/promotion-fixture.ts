/** A promotion body running from `start` for `hours` (flash sale of item `a` by default). */
export function promotionBody(start: Date, overrides: Record<string, unknown> = {}, hours = 24): Record<string, unknown> {
  return {
    name: 'Flash',
    promotion_type: 'flash_sale',
    start_time: start.toISOString(),
    end_time: new Date(start.getTime() + hours * 3_600_000).toISOString(),
    flash_sale: { items: [{ item_id: 'a', special_price: 699, stock: 20, per_user_limit: 2 }] },
    ...overrides,
  };
}
