const MINUTE = 60_000;

/** The body of an activity that is active now (tests). */
export function activityBody(overrides: Record<string, unknown> = {}, now = Date.now()) {
  return {
    name: 'Tea set 拼团',
    item_id: 'sku-tea-1',
    group_price: 9_900,
    original_price: 15_900,
    group_size: 3,
    open_minutes: 60,
    start_time: new Date(now - MINUTE).toISOString(),
    end_time: new Date(now + 24 * 60 * MINUTE).toISOString(),
    ...overrides,
  };
}
