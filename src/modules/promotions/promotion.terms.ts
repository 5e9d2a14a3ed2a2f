import { promotionErrors } from './promotion.errors.js';
import type { CreatePromotionInput } from './promotion.schemas.js';
import type { PromotionScope, PromotionTerms, PromotionType } from './promotion.tables.js';

/** The stock rows a promotion holds: each flash-sale item, or the gift item. */
export interface StockRow {
  item_id: string;
  kind: 'flash' | 'gift';
  stock: number;
  per_user_limit: number | null;
}

const bad = promotionErrors.invalid;

function checkRate(field: string, rate: number): void {
  if (Math.abs(rate * 100 - Math.round(rate * 100)) > 1e-9) throw bad(field, 'has at most two decimals');
}

/** Checks the type's terms (the key named by promotion_type) and turns them into stored terms and stock rows. */
export function normalizeTerms(type: PromotionType, input: Pick<CreatePromotionInput, 'flash_sale' | 'bulk_discount' | 'gift'>, window: { start: Date; end: Date }): { terms: PromotionTerms; stock: StockRow[] } {
  for (const other of ['flash_sale', 'bulk_discount', 'gift'] as const) {
    if (other !== type && input[other] !== undefined) throw bad(other, `is not allowed with promotion_type ${type}`);
  }
  if (type === 'flash_sale') {
    const fs = input.flash_sale;
    if (!fs) throw bad('flash_sale', 'is required with promotion_type flash_sale');
    const seen = new Set<string>();
    fs.items.forEach((item, i) => {
      if (seen.has(item.item_id)) throw bad(`flash_sale.items.${i}.item_id`, 'appears twice');
      seen.add(item.item_id);
      if ((item.special_price === undefined) === (item.discount_rate === undefined)) throw bad(`flash_sale.items.${i}`, 'needs exactly one of special_price, discount_rate');
      if (item.discount_rate !== undefined) checkRate(`flash_sale.items.${i}.discount_rate`, item.discount_rate);
    });
    (fs.time_slots ?? []).forEach((slot, i) => {
      const s = new Date(slot.start_time);
      const e = new Date(slot.end_time);
      if (!(e > s)) throw bad(`flash_sale.time_slots.${i}`, 'end_time must be after start_time');
      if (s < window.start || e > window.end) throw bad(`flash_sale.time_slots.${i}`, 'must lie within start_time..end_time');
    });
    return {
      terms: { type, items: fs.items, ...(fs.time_slots ? { time_slots: fs.time_slots } : {}) },
      stock: fs.items.map((i) => ({ item_id: i.item_id, kind: 'flash' as const, stock: i.stock, per_user_limit: i.per_user_limit ?? null })),
    };
  }
  if (type === 'bulk_discount') {
    const b = input.bulk_discount;
    if (!b) throw bad('bulk_discount', 'is required with promotion_type bulk_discount');
    const given = [b.tiers, b.repeat, b.quantity_tiers].filter((x) => x !== undefined).length;
    if (given !== 1) throw bad('bulk_discount', 'needs exactly one of tiers, repeat, quantity_tiers');
    b.tiers?.forEach((t, i) => {
      if (t.off <= 0 || t.off > t.threshold) throw bad(`bulk_discount.tiers.${i}.off`, 'must be above 0 and at most threshold');
    });
    if (b.repeat && (b.repeat.every <= 0 || b.repeat.off <= 0 || b.repeat.off > b.repeat.every)) throw bad('bulk_discount.repeat', 'needs every > 0 and 0 < off <= every');
    b.quantity_tiers?.forEach((t, i) => checkRate(`bulk_discount.quantity_tiers.${i}.rate`, t.rate));
    return { terms: { type, ...b }, stock: [] };
  }
  const g = input.gift;
  if (!g) throw bad('gift', 'is required with promotion_type gift');
  if ((g.min_amount === undefined) === (g.min_quantity === undefined)) throw bad('gift', 'needs exactly one of min_amount, min_quantity');
  const terms = { type, ...g, gift_quantity: g.gift_quantity ?? 1 };
  return { terms, stock: [{ item_id: g.gift_item_id, kind: 'gift', stock: g.gift_stock, per_user_limit: null }] };
}

export function normalizeScope(scope: PromotionScope | undefined): PromotionScope {
  if (!scope) return { all: true };
  const hasList = (scope.item_ids?.length ?? 0) + (scope.category_ids?.length ?? 0) > 0;
  if (!scope.all && !hasList) throw bad('scope', 'needs all: true or item_ids / category_ids');
  return scope;
}

export function checkWindow(start: Date, end: Date): void {
  if (!(end > start)) throw bad('end_time', 'must be after start_time');
}
