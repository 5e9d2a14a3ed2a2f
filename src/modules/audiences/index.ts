import { Counter, type Registry } from 'prom-client';

export { createAudienceService, type AudienceService } from './audience.service.js';
export { audienceRoutes } from './audience.routes.js';
export type { AudienceView } from './audience.schemas.js';

/** The module's Prometheus metrics. */
export function audienceMetrics(registry: Registry) {
  return {
    evaluated: new Counter({
      name: 'marketing_audience_evaluated_total',
      help: 'Audience evaluations, by audience type and operation (member, count, preview)',
      labelNames: ['audience_type', 'operation'] as const,
      registers: [registry],
    }),
  };
}
