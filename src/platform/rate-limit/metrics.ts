import { Counter, type Registry } from 'prom-client';

export interface RateLimitMetrics {
  /** Refused calls, by the rule that refused (`user`, `client_ip`, `product_hour`, `lockout`, ...). */
  rejected: Counter<'rule'>;
  /** Calls counted in-process because Redis failed or was in its cool-down after a failure. */
  redisFallback: Counter;
}

export function rateLimitMetrics(registry: Registry): RateLimitMetrics {
  return {
    rejected: new Counter({
      name: 'marketing_rate_limit_rejected_total',
      help: 'Calls refused by a rate limit or a failure lock-out, by rule',
      labelNames: ['rule'] as const,
      registers: [registry],
    }),
    redisFallback: new Counter({
      name: 'marketing_redis_fallback_total',
      help: 'Rate-limit checks counted in-process because Redis failed (per-process counts until it is back)',
      registers: [registry],
    }),
  };
}
