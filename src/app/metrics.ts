import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { WebhookOutcome } from '../platform/webhook.js';

/**
 * One registry per app instance (not prom-client's global), so several apps in one process
 * (tests) do not collide. Modules register their own counters on it.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function installHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    // From 1 ms to 10 s: the hot paths live in the low buckets.
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });

  app.addHook('onResponse', (request, reply, done) => {
    // The route pattern, never the raw URL: ids in paths would explode the label cardinality.
    const route = request.routeOptions.url ?? 'unmatched';
    if (route !== '/metrics') duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });

  app.get('/metrics', { schema: { hide: true }, config: { auth: 'public' } }, async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}

/**
 * Webhook delivery attempts of the job queues (reward grants, group-buy outcomes), by kind and
 * outcome. Each attempt counts, retries too: the failure ratio is per attempt. Outreach's webhook
 * channel counts in marketing_outreach_messages_total{channel="webhook"} instead.
 */
export function webhookDeliveryCounter(registry: Registry): (kind: 'reward_grant' | 'group_buy') => (outcome: WebhookOutcome) => void {
  const counter = new Counter({
    name: 'marketing_webhook_deliveries_total',
    help: 'Webhook delivery attempts by kind (reward_grant, group_buy) and outcome (delivered, rejected, unreachable, blocked)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  return (kind) => {
    // Zeros from the start, so a ratio over the first failures is not "no data".
    for (const outcome of ['delivered', 'rejected', 'unreachable', 'blocked'] as const) counter.inc({ kind, outcome }, 0);
    return (outcome) => counter.inc({ kind, outcome });
  };
}
