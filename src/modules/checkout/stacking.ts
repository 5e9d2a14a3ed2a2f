/**
 * The pricing engine: applies a combination of offers to a cart in stages (docs/pricing.md) and
 * picks the best combination the stacking rules allow. Pure: no database, no clock but `now`.
 * What one offer gives is decided by its own module's rule (calculateDiscount of promotions,
 * evaluateCoupon of coupons); this file only orders, combines and allocates.
 */
import { allocate, type Cart, inScope, lineAmount } from '../../platform/cart.js';
import { evaluateCoupon } from '../coupons/index.js';
import { calculateDiscount } from '../promotions/index.js';
import type { CouponOfferInput, PromotionOfferInput, PromotionTerms } from './offers.js';
import { bestCombination, type Choice } from './stacking.search.js';


export type OfferKind = 'promotion' | 'coupon';
export interface Failure {
  reason: string;
  details: Record<string, unknown>;
}

/** One offer as the engine sees it. Stage: 1 flash price, 2 order promotion, 3 goods coupon, 4 shipping coupon. */
export interface Offer {
  kind: OfferKind;
  id: string;
  name: string;
  stage: 1 | 2 | 3 | 4;
  priority: number;
  group: string | null;
  exclusive: boolean;
  promotion?: PromotionOfferInput;
  coupon?: CouponOfferInput;
  /** What it saves alone on the cart (set once candidates are known; orders coupons and group members). */
  alone: number;
}

export interface AppliedOffer {
  kind: OfferKind;
  id: string;
  name: string;
  code: string | null;
  /** The coupon's template (stats are per template). */
  template_id: string | null;
  offer_type: string;
  discount: number;
  shipping_discount: number;
  lines: { line_index: number; discount: number }[];
  gifts: { item_id: string; quantity: number }[];
  /** Stock the order takes: flash-sale units at the sale price, gift units. */
  takes: { item_id: string; quantity: number }[];
}

export interface Evaluated {
  saving: number;
  giftUnits: number;
  prioritySum: number;
  key: string;
  applied: AppliedOffer[];
  lineDiscounts: number[];
  shippingDiscount: number;
  failed: Map<string, Failure>;
}

export function toOffers(promotions: readonly PromotionOfferInput[], coupons: readonly CouponOfferInput[]): Offer[] {
  const out: Offer[] = [];
  for (const p of promotions) {
    out.push({ kind: 'promotion', id: p.id, name: p.name, stage: p.terms.type === 'flash_sale' ? 1 : 2, priority: p.priority, group: p.stacking_group, exclusive: p.exclusive, promotion: p, alone: 0 });
  }
  for (const c of coupons) {
    const stage = c.terms.coupon_type === 'shipping' ? 4 : 3;
    out.push({ kind: 'coupon', id: c.id, name: c.name, stage, priority: 0, group: c.terms.stacking_group, exclusive: c.terms.exclusive, coupon: c, alone: 0 });
  }
  return out;
}

function leftOf(p: PromotionOfferInput, itemId: string): number {
  return p.stock.find((s) => s.item_id === itemId)?.left ?? 0;
}

/** A flash sale's terms limited by the stock left: the sale price for at most min(per-user limit, left) units. */
function flashTerms(p: PromotionOfferInput): Extract<PromotionTerms, { type: 'flash_sale' }> {
  const terms = p.terms as Extract<PromotionTerms, { type: 'flash_sale' }>;
  const items = terms.items
    .map((i) => ({ ...i, per_user_limit: Math.min(i.per_user_limit ?? Number.MAX_SAFE_INTEGER, leftOf(p, i.item_id)) }))
    .filter((i) => i.per_user_limit > 0);
  return { ...terms, items };
}

function flashUnits(p: PromotionOfferInput, itemId: string, quantity: number): number {
  const terms = p.terms as Extract<PromotionTerms, { type: 'flash_sale' }>;
  const item = terms.items.find((i) => i.item_id === itemId);
  return Math.min(quantity, item?.per_user_limit ?? quantity, leftOf(p, itemId));
}

function applyFlash(cart: Cart, offers: Offer[], state: State): void {
  const best: ({ offer: Offer; discount: number } | undefined)[] = cart.lines.map(() => undefined);
  const claimed = new Map<string, number[]>();
  for (const o of offers) {
    const p = o.promotion!;
    const r = calculateDiscount(flashTerms(p), p.scope, cart);
    if (!r.applicable) {
      // Out of scope only because the stock ran out: sold out.
      const soldOut = calculateDiscount(p.terms, p.scope, cart).applicable;
      state.failed.set(o.id, soldOut ? { reason: 'sold_out', details: {} } : { reason: r.reason ?? 'out_of_scope', details: {} });
      continue;
    }
    const lines: number[] = [];
    for (const l of r.lines) {
      if (l.discount <= 0) continue;
      lines.push(l.line_index);
      const cur = best[l.line_index];
      const better = !cur || l.discount > cur.discount || (l.discount === cur.discount && (o.priority > cur.offer.priority || (o.priority === cur.offer.priority && o.id < cur.offer.id)));
      if (better) best[l.line_index] = { offer: o, discount: l.discount };
    }
    claimed.set(o.id, lines);
  }
  const won = new Map<string, { line_index: number; discount: number }[]>();
  best.forEach((b, index) => {
    if (!b) return;
    const list = won.get(b.offer.id) ?? [];
    list.push({ line_index: index, discount: b.discount });
    won.set(b.offer.id, list);
  });
  for (const o of offers) {
    if (state.failed.has(o.id)) continue;
    const lines = won.get(o.id);
    if (!lines) {
      const winners = [...new Set((claimed.get(o.id) ?? []).map((i) => best[i]?.offer.id).filter((x): x is string => x !== undefined && x !== o.id))];
      state.failed.set(o.id, winners.length > 0 ? { reason: 'not_stackable_with', details: { conflicts_with: winners } } : { reason: 'out_of_scope', details: {} });
      continue;
    }
    const p = o.promotion!;
    const takes = lines.map((l) => {
      const line = cart.lines[l.line_index]!;
      return { item_id: line.item_id, quantity: flashUnits(p, line.item_id, line.quantity) };
    });
    state.add(o, lines, 0, [], takes);
  }
}

function applyOrderPromotion(o: Offer, state: State): void {
  const p = o.promotion!;
  const r = calculateDiscount(p.terms, p.scope, state.priced());
  if (!r.applicable) {
    state.failed.set(o.id, { reason: r.reason ?? 'below_threshold', details: { eligible_amount: r.eligible_amount } });
    return;
  }
  let takes: { item_id: string; quantity: number }[] = [];
  if (p.terms.type === 'gift') {
    const g = p.terms;
    if (leftOf(p, g.gift_item_id) < g.gift_quantity) {
      state.failed.set(o.id, { reason: 'sold_out', details: { item_id: g.gift_item_id } });
      return;
    }
    takes = [{ item_id: g.gift_item_id, quantity: g.gift_quantity }];
  }
  state.add(o, r.lines.filter((l) => l.discount > 0).map((l) => ({ line_index: l.line_index, discount: l.discount })), 0, r.gifts, takes);
}

function applyCoupon(o: Offer, state: State, now: Date): void {
  const c = o.coupon!;
  const cart = state.priced();
  const v = evaluateCoupon(c.terms, now, { ...cart, shipping_fee: state.shippingLeft() });
  if (!v.usable) {
    state.failed.set(o.id, { reason: v.reason, details: v.details });
    return;
  }
  const discount = v.discount ?? 0;
  const scoped = cart.lines.map((l, i) => ({ i, amount: inScope(c.terms.scope, l) ? lineAmount(l) : 0 }));
  const shares = allocate(discount, scoped.map((s) => s.amount));
  const lines = scoped.map((s, k) => ({ line_index: s.i, discount: shares[k] ?? 0 })).filter((l) => l.discount > 0);
  const gifts = v.gift_item_id ? [{ item_id: v.gift_item_id, quantity: 1 }] : [];
  state.add(o, lines, v.shipping_discount ?? 0, gifts, []);
}

class State {
  readonly failed = new Map<string, Failure>();
  readonly applied: AppliedOffer[] = [];
  readonly lineDiscounts: number[];
  shippingDiscount = 0;
  giftUnits = 0;
  prioritySum = 0;
  /** The cart as priced so far (each line's amount after the discounts applied), updated in place. */
  private readonly current: Cart;
  constructor(private readonly cart: Cart) {
    this.lineDiscounts = cart.lines.map(() => 0);
    this.current = { lines: cart.lines.map((l) => ({ ...l, amount: l.unit_price * l.quantity })), shipping_fee: cart.shipping_fee };
  }
  priced(): Cart {
    return this.current;
  }
  shippingLeft(): number {
    return (this.cart.shipping_fee ?? 0) - this.shippingDiscount;
  }
  add(o: Offer, lines: { line_index: number; discount: number }[], shipping: number, gifts: { item_id: string; quantity: number }[], takes: { item_id: string; quantity: number }[]): void {
    let discount = 0;
    for (const l of lines) {
      this.lineDiscounts[l.line_index] = (this.lineDiscounts[l.line_index] ?? 0) + l.discount;
      const line = this.current.lines[l.line_index]!;
      line.amount = (line.amount ?? 0) - l.discount;
      discount += l.discount;
    }
    this.shippingDiscount += shipping;
    for (const g of gifts) this.giftUnits += g.quantity;
    this.prioritySum += o.priority;
    const offerType = o.promotion ? o.promotion.terms.type : o.coupon!.terms.coupon_type;
    this.applied.push({ kind: o.kind, id: o.id, name: o.name, code: o.coupon?.code ?? null, template_id: o.coupon?.template_id ?? null, offer_type: offerType, discount, shipping_discount: shipping, lines, gifts, takes });
  }
}

function byPriority(a: Offer, b: Offer): number {
  return b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
function byAlone(a: Offer, b: Offer): number {
  return b.alone - a.alone || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Applies exactly these offers (the stacking rules are the caller's): stage by stage. */
export function evaluate(cart: Cart, offers: readonly Offer[], now: Date): Evaluated {
  const state = new State(cart);
  applyFlash(cart, offers.filter((o) => o.stage === 1), state);
  for (const o of offers.filter((x) => x.stage === 2).sort(byPriority)) applyOrderPromotion(o, state);
  for (const o of offers.filter((x) => x.stage === 3).sort(byAlone)) applyCoupon(o, state, now);
  for (const o of offers.filter((x) => x.stage === 4).sort(byAlone)) applyCoupon(o, state, now);
  const saving = state.lineDiscounts.reduce((a, b) => a + b, 0) + state.shippingDiscount;
  let key: string | undefined;
  return {
    saving,
    giftUnits: state.giftUnits,
    prioritySum: state.prioritySum,
    // Only a tie on everything else reads it.
    get key() {
      key ??= state.applied.map((a) => a.id).sort().join('\u0000');
      return key;
    },
    applied: state.applied, lineDiscounts: state.lineDiscounts, shippingDiscount: state.shippingDiscount, failed: state.failed };
}

/** Better for the customer: more saved, then more gift units, then higher priorities, then the ids that sort first. */
export function better(a: Evaluated, b: Evaluated): boolean {
  if (a.saving !== b.saving) return a.saving > b.saving;
  if (a.giftUnits !== b.giftUnits) return a.giftUnits > b.giftUnits;
  if (a.prioritySum !== b.prioritySum) return a.prioritySum > b.prioritySum;
  return a.key < b.key;
}

export interface Priced {
  result: Evaluated;
  notApplied: { offer: Offer; failure: Failure }[];
}

/**
 * Prices the cart with the best combination of `offers`. `blocked` are offers known not to apply
 * before any pricing (not in the audience, a coupon code of a used coupon...), listed with their reason.
 */
export function price(cart: Cart, offers: readonly Offer[], now: Date, blocked: { offer: Offer; failure: Failure }[] = []): Priced {
  const notApplied = [...blocked];
  const candidates: Offer[] = [];
  for (const o of offers) {
    const alone = evaluate(cart, [o], now);
    const failure = alone.failed.get(o.id);
    if (failure) notApplied.push({ offer: o, failure });
    else candidates.push({ ...o, alone: alone.saving });
  }
  const choices: Choice<Offer>[] = [];
  const groups = new Map<string, Offer[]>();
  for (const o of candidates.filter((c) => !c.exclusive)) {
    if (o.group === null) choices.push({ key: `~${o.id}`, options: [o] });
    else groups.set(o.group, [...(groups.get(o.group) ?? []), o]);
  }
  for (const [group, members] of groups) choices.push({ key: group, options: members.sort(byAlone) });
  choices.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let best = bestCombination(choices, (chosen) => evaluate(cart, chosen, now), better);
  for (const o of candidates.filter((c) => c.exclusive)) {
    const alone = evaluate(cart, [o], now);
    if (better(alone, best.result)) best = { result: alone, chosen: [o] };
  }
  const applied = new Set(best.result.applied.map((a) => a.id));
  for (const o of candidates) {
    if (applied.has(o.id)) continue;
    notApplied.push({ offer: o, failure: whyNot(cart, o, best.chosen, best.result, now) });
  }
  return { result: best.result, notApplied };
}

/** Why a candidate is not in the best combination. */
function whyNot(cart: Cart, o: Offer, chosen: readonly Offer[], result: Evaluated, now: Date): Failure {
  const appliedOffers = chosen.filter((c) => result.applied.some((a) => a.id === c.id));
  const exclusive = appliedOffers.find((c) => c.exclusive);
  if (exclusive) return { reason: 'not_stackable_with', details: { conflicts_with: [exclusive.id] } };
  if (o.exclusive) return { reason: 'not_stackable_with', details: { conflicts_with: appliedOffers.map((c) => c.id) } };
  const sameGroup = o.group !== null ? appliedOffers.filter((c) => c.group === o.group) : [];
  if (sameGroup.length > 0) return { reason: 'not_stackable_with', details: { conflicts_with: sameGroup.map((c) => c.id) } };
  const own = result.failed.get(o.id);
  if (own) return own;
  const withIt = evaluate(cart, [...chosen, o], now);
  return withIt.failed.get(o.id) ?? { reason: 'worse_combination', details: { saving_without: result.saving, saving_with: withIt.saving } };
}
