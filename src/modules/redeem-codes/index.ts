import { Counter, type Registry } from 'prom-client';
import type { RedeemMetrics } from './redemption.service.js';

export { createBatchService, type BatchService, type BatchSettings, GENERATE_QUEUE } from './redeem-code.batch.js';
export { createCodeService, type CodeService } from './redeem-code.service.js';
export { createRedemptionService, type RedemptionService, type RedeemGuard, type RedeemAttempt, GRANT_SOURCE } from './redemption.service.js';
export { createShapeCache, type ShapeCache } from './redeem-code.shapes.js';
export { listShapesForCache } from './redeem-code.shapes-loader.js';
export { redeemCodeRoutes } from './redeem-code.routes.js';

/** Seed 000's redeem-code metrics, plus refusals by their error code. */
export function redeemCodeMetrics(registry: Registry): RedeemMetrics & { generated: Counter<'code_type'> } {
  return {
    generated: new Counter({
      name: 'marketing_redeem_code_generated_total',
      help: 'Redeem codes generated and stored',
      labelNames: ['code_type'] as const,
      registers: [registry],
    }),
    redeemed: new Counter({
      name: 'marketing_redeem_code_redeemed_total',
      help: 'Redeem codes redeemed (each grants its reward)',
      labelNames: ['code_type'] as const,
      registers: [registry],
    }),
    refused: new Counter({
      name: 'marketing_redeem_code_refused_total',
      help: 'Redemptions refused, by error code (code_not_found, code_already_redeemed, ...)',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
}
export { redemptionLimits } from './redemption.guard.js';
