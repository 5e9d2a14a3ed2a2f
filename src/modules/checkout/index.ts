import { Counter, type Registry } from 'prom-client';

export { createCheckoutService, type CheckoutService } from './checkout.service.js';
export { checkoutRoutes } from './checkout.routes.js';
export type { CheckoutPorts, LivePromotionLike, OrderAction, QuoteCouponLike } from './ports.js';

export function checkoutMetrics(registry: Registry) {
  return {
    quotes: new Counter({ name: 'marketing_checkout_quotes_total', help: 'Carts priced by the quote', registers: [registry] }),
    orders: new Counter({ name: 'marketing_checkout_orders_total', help: 'Checkout orders by the status they reached', labelNames: ['status'] as const, registers: [registry] }),
  };
}
