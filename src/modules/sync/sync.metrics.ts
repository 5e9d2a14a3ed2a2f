import { Counter, Histogram, type Registry } from 'prom-client';

/** Sync metrics: lag from the record's creation (the payment) to its row in the target, failures and deliveries by target type. */
export function syncMetrics(registry: Registry) {
  return {
    lag: new Histogram({
      name: 'marketing_sync_lag_seconds',
      help: 'Seconds from a sync record being written (in the payment transaction) to its row being in the target database, by target type',
      labelNames: ['target_type'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'marketing_sync_failures_total',
      help: 'Failed attempts to write a record into a target database (each is retried with backoff), by target type',
      labelNames: ['target_type'] as const,
      registers: [registry],
    }),
    synced: new Counter({ name: 'marketing_sync_synced_total', help: 'Records written into a target database, by target type', labelNames: ['target_type'] as const, registers: [registry] }),
  };
}
export type SyncMetrics = ReturnType<typeof syncMetrics>;
