/** Turns the engine's answer into the quote the API returns, and its hash. */
import { createHash } from 'node:crypto';
import type { Cart } from '../../platform/cart.js';
import { reasonMessage } from './checkout.errors.js';
import type { QuoteView } from './checkout.schemas.js';
import type { Priced } from './stacking.js';

/**
 * The fingerprint of a price: lines, offers with their amounts, gifts, totals. Not a secret and
 * not bound to the user (the checkout prices again for its own user): equal carts priced equally
 * have equal hashes.
 */
export function quoteHash(view: Omit<QuoteView, 'quote_hash' | 'priced_at' | 'not_applied'>): string {
  const material = JSON.stringify([
    view.lines.map((l) => [l.item_id, l.quantity, l.unit_price, l.discount]),
    view.applied.map((a) => [a.kind, a.id, a.discount, a.shipping_discount, a.lines.map((l) => [l.line_index, l.discount]), a.gifts.map((g) => [g.item_id, g.quantity])]),
    view.shipping_fee,
    view.shipping_discount,
    view.total,
  ]);
  return createHash('sha256').update(material).digest('hex').slice(0, 32);
}

export function toQuoteView(userId: string, cart: Cart, priced: Priced, now: Date, chinese: boolean): QuoteView {
  const { result } = priced;
  const lines = cart.lines.map((l, i) => {
    const amount = l.unit_price * l.quantity;
    const discount = result.lineDiscounts[i] ?? 0;
    return { line_index: i, item_id: l.item_id, quantity: l.quantity, unit_price: l.unit_price, amount, discount, total: amount - discount };
  });
  const subtotal = lines.reduce((a, l) => a + l.amount, 0);
  const discount = lines.reduce((a, l) => a + l.discount, 0);
  const shippingFee = cart.shipping_fee ?? 0;
  const applied = result.applied.map((a) => ({ kind: a.kind, id: a.id, name: a.name, code: a.code, offer_type: a.offer_type, discount: a.discount, shipping_discount: a.shipping_discount, lines: a.lines, gifts: a.gifts }));
  const base = {
    user_id: userId,
    subtotal,
    discount,
    shipping_fee: shippingFee,
    shipping_discount: result.shippingDiscount,
    total: subtotal - discount + shippingFee - result.shippingDiscount,
    lines,
    applied,
    gifts: result.applied.flatMap((a) => a.gifts),
  };
  const notApplied = priced.notApplied
    .map(({ offer, failure }) => ({ kind: offer.kind, id: offer.id, name: offer.name, code: offer.coupon?.code ?? null, reason: failure.reason, message: reasonMessage(failure.reason, chinese), details: failure.details }))
    .sort((a, b) => (a.kind === b.kind ? (a.id < b.id ? -1 : 1) : a.kind === 'promotion' ? -1 : 1));
  return { ...base, not_applied: notApplied, quote_hash: quoteHash(base), priced_at: now.toISOString() };
}
