import { Counter, type Registry } from 'prom-client';

export { createCustomerService, type CustomerService } from './customer.service.js';
export type { CustomerRow } from './customer.repo.js';
export { customerRoutes } from './customer.routes.js';
export { CHANNELS, type Channel } from './customer.schemas.js';
export { instantMs } from './customer.dates.js';

/** The module's Prometheus metrics. */
export function customerMetrics(registry: Registry) {
  return {
    imported: new Counter({
      name: 'marketing_customer_imported_total',
      help: 'Customer import rows, by result (imported, failed)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
  };
}
export { findCustomers, taggedCustomersSql, optOutByAddress } from './customer.reach.js';
