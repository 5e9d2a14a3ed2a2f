import type { ItemRow, PromotionRow, ReservationRow } from './promotion.repo.js';
import type { PromotionView, ReservationView } from './promotion.schemas.js';
import type { PromotionTerms } from './promotion.tables.js';

export type Phase = 'scheduled' | 'active' | 'ended';

/** Where the promotion is in time: its window, and within it its time slots (a flash sale between slots is scheduled or ended). */
export function phaseOf(row: Pick<PromotionRow, 'start_time' | 'end_time'> & { terms: PromotionTerms }, now: Date): Phase {
  const t = now.getTime();
  if (t < row.start_time.getTime()) return 'scheduled';
  if (t >= row.end_time.getTime()) return 'ended';
  const slots = row.terms.type === 'flash_sale' ? row.terms.time_slots : undefined;
  if (!slots || slots.length === 0) return 'active';
  if (slots.some((s) => Date.parse(s.start_time) <= t && t < Date.parse(s.end_time))) return 'active';
  return slots.some((s) => Date.parse(s.start_time) > t) ? 'scheduled' : 'ended';
}

function termsView(terms: PromotionTerms): Pick<PromotionView, 'flash_sale' | 'bulk_discount' | 'gift'> {
  const { type, ...rest } = terms;
  return { [type]: rest } as Pick<PromotionView, 'flash_sale' | 'bulk_discount' | 'gift'>;
}

export function toPromotionView(row: PromotionRow, stock: readonly ItemRow[], now: Date): PromotionView {
  return {
    promotion_id: row.promotion_id,
    name: row.name,
    promotion_type: row.promotion_type,
    status: phaseOf(row, now),
    start_time: row.start_time.toISOString(),
    end_time: row.end_time.toISOString(),
    audience_id: row.audience_id,
    scope: row.scope,
    priority: row.priority,
    stacking_group: row.stacking_group,
    exclusive: row.exclusive,
    ...termsView(row.terms),
    stock: stock.map((s) => ({ item_id: s.item_id, kind: s.kind, stock: s.stock, sold: s.sold, per_user_limit: s.per_user_limit })),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toReservationView(r: ReservationRow): ReservationView {
  return {
    promotion_id: r.promotion_id,
    order_id: r.order_id,
    user_id: r.user_id,
    item_id: r.item_id,
    quantity: r.quantity,
    status: r.status,
    expires_at: r.expires_at ? r.expires_at.toISOString() : null,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
