/**
 * The cart and the item scope, one definition for every module that prices a cart (coupons,
 * promotions and the quote): the TypeScript types, the request schemas, and the scope test.
 *
 * Money is integer minor units. At most 500 lines of at most 10,000 units at 1e9 each keep every
 * sum below 2^53, so totals stay exact integers.
 */
import { Type } from 'typebox';

export interface CartLine {
  item_id: string;
  category_id?: string | undefined;
  unit_price: number;
  quantity: number;
  /**
   * What the line costs after the offers applied before the one being evaluated (the quote sets
   * it; never part of a request). Absent: unit_price × quantity.
   */
  amount?: number | undefined;
}
export interface Cart {
  lines: CartLine[];
  shipping_fee?: number | undefined;
}

/** Which items an offer covers: {all: true}, or item ids and categories; exclude_item_ids always wins. */
export interface ItemScope {
  all?: boolean | undefined;
  item_ids?: string[] | undefined;
  category_ids?: string[] | undefined;
  exclude_item_ids?: string[] | undefined;
}

export function lineAmount(line: CartLine): number {
  return line.amount ?? line.unit_price * line.quantity;
}

export function inScope(scope: ItemScope, line: Pick<CartLine, 'item_id' | 'category_id'>): boolean {
  if (scope.exclude_item_ids?.includes(line.item_id)) return false;
  if (scope.all) return true;
  if (scope.item_ids?.includes(line.item_id)) return true;
  return line.category_id !== undefined && (scope.category_ids?.includes(line.category_id) ?? false);
}

export const MAX_CART_LINES = 500;

const Id = Type.String({ minLength: 1, maxLength: 128 });
const Ids = Type.Array(Id, { maxItems: 1000 });

export const ScopeSchema = Type.Object(
  { all: Type.Optional(Type.Boolean()), item_ids: Type.Optional(Ids), category_ids: Type.Optional(Ids), exclude_item_ids: Type.Optional(Ids) },
  { additionalProperties: false, description: '{all: true} or {item_ids, category_ids}; exclude_item_ids always wins' },
);

export const CartLineSchema = Type.Object(
  {
    item_id: Id,
    category_id: Type.Optional(Id),
    unit_price: Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: 'price of one unit, minor units' }),
    quantity: Type.Integer({ minimum: 1, maximum: 10_000 }),
  },
  { additionalProperties: false },
);
const Lines = Type.Array(CartLineSchema, { minItems: 1, maxItems: MAX_CART_LINES, description: 'at most 500 lines: every total stays an exact integer' });

/** A cart with an optional shipping fee (coupons and the quote). */
export const CartSchema = Type.Object({ lines: Lines, shipping_fee: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: 'minor units' })) }, { additionalProperties: false });
/** Lines only (a promotion's discount). */
export const LinesCartSchema = Type.Object({ lines: Lines }, { additionalProperties: false });

/**
 * Allocates `total` over `amounts` in proportion: each share rounded down, then the units left
 * over one each to the largest fractional parts (the first of equal ones). A share never exceeds
 * its amount when total <= sum(amounts), and the shares add up to `total` exactly.
 */
export function allocate(total: number, amounts: readonly number[]): number[] {
  const sum = amounts.reduce((a, b) => a + b, 0);
  if (sum === 0 || total === 0) return amounts.map(() => 0);
  // Exact in doubles while total * sum stays below 2^53 (every carts' usual case); BigInt beyond.
  if (total * sum <= Number.MAX_SAFE_INTEGER) return largestRemainder(total, amounts, (a) => total * a, (x) => Math.floor(x / sum), (x) => x % sum);
  const t = BigInt(total);
  const s = BigInt(sum);
  return largestRemainder(total, amounts, (a) => t * BigInt(a), (x) => Number(x / s), (x) => x % s);
}

function largestRemainder<N extends number | bigint>(total: number, amounts: readonly number[], scale: (a: number) => N, quotient: (x: N) => number, rest: (x: N) => N): number[] {
  const shares: number[] = [];
  const fractions: { index: number; rest: N }[] = [];
  amounts.forEach((a, index) => {
    const scaled = scale(a);
    shares.push(quotient(scaled));
    fractions.push({ index, rest: rest(scaled) });
  });
  let left = total - shares.reduce((a, b) => a + b, 0);
  if (left === 0) return shares;
  fractions.sort((x, y) => (x.rest === y.rest ? x.index - y.index : x.rest > y.rest ? -1 : 1));
  for (const f of fractions) {
    if (left <= 0) break;
    shares[f.index] = (shares[f.index] ?? 0) + 1;
    left--;
  }
  return shares;
}
