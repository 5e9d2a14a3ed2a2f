import { Counter, Histogram, type Registry } from 'prom-client';

/** The outreach module's Prometheus metrics. */
export function outreachMetrics(registry: Registry) {
  return {
    messages: new Counter({
      name: 'marketing_outreach_messages_total',
      help: 'Outreach records decided, by channel and the status they reached (delivered, sent, failed, skipped, deferred, would_send)',
      labelNames: ['channel', 'status'] as const,
      registers: [registry],
    }),
    skipped: new Counter({
      name: 'marketing_outreach_skipped_total',
      help: 'Outreach records skipped at send time, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    deferred: new Counter({
      name: 'marketing_outreach_deferred_total',
      help: 'Outreach sends put off, by reason (throttled, provider_unavailable, quiet_hours_deferred)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    providerSeconds: new Histogram({
      name: 'marketing_outreach_provider_seconds',
      help: 'Time a provider took to answer one send, by provider kind',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    events: new Counter({
      name: 'marketing_outreach_events_total',
      help: 'Provider callbacks and tracking events applied, by kind (delivered, failed, bounced, opened, machine_opened, clicked, unsubscribed)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
  };
}

export type OutreachMetrics = ReturnType<typeof outreachMetrics>;
