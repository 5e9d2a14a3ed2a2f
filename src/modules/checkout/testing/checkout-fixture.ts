/** Creates a stacking case's promotions and coupons through the API, so a case runs on the quote route too. */
import { must, type TenantFixture } from '../../../../test/helpers/test-app.js';
import type { StackingCase } from '../stacking.cases.js';

export async function createCaseOffers(t: TenantFixture, c: StackingCase, start: Date, userId: string): Promise<{ codes: string[] }> {
  const window = { start_time: start.toISOString(), end_time: new Date(start.getTime() + 86_400_000).toISOString() };
  for (const p of c.promotions) {
    const common = { name: p.id, ...window, scope: p.scope, priority: p.priority, stacking_group: p.stacking_group, exclusive: p.exclusive };
    const terms = p.terms;
    let body: Record<string, unknown>;
    if (terms.type === 'flash_sale') {
      const items = terms.items.map((i) => ({
        item_id: i.item_id,
        ...(i.special_price !== undefined ? { special_price: i.special_price } : { discount_rate: i.discount_rate }),
        stock: p.stock.find((s) => s.item_id === i.item_id)?.left ?? 0,
        ...(i.per_user_limit !== undefined ? { per_user_limit: i.per_user_limit } : {}),
      }));
      body = { ...common, promotion_type: 'flash_sale', flash_sale: { items } };
    } else if (terms.type === 'bulk_discount') {
      const { type: _t, ...rest } = terms;
      body = { ...common, promotion_type: 'bulk_discount', bulk_discount: JSON.parse(JSON.stringify(rest)) };
    } else {
      const left = p.stock[0]?.left ?? 0;
      body = { ...common, promotion_type: 'gift', gift: { min_amount: terms.min_amount, gift_item_id: terms.gift_item_id, gift_quantity: terms.gift_quantity, gift_stock: left } };
    }
    must(await t.call('POST', '/v1/promotions', body, { key: t.admin }), 201);
  }
  const codes: string[] = [];
  for (const k of c.coupons) {
    const x = k.terms;
    const tpl = must(
      await t.call(
        'POST',
        '/v1/coupons/templates',
        {
          name: k.id,
          coupon_type: x.coupon_type,
          discount_kind: x.discount_kind,
          value: x.value,
          max_discount: x.max_discount,
          gift_item_id: x.gift_item_id,
          min_amount: x.min_amount,
          scope: x.scope,
          stacking_group: x.stacking_group,
          exclusive: x.exclusive,
        },
        { key: t.admin },
      ),
      201,
    ).body;
    const coupon = must(await t.call('POST', `/v1/coupons/templates/${tpl.template_id}/issue`, { user_id: userId }, { key: t.admin }), 201).body;
    codes.push(coupon.code as string);
  }
  return { codes };
}
