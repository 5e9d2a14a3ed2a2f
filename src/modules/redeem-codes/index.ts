import { Counter, Histogram, type Registry } from 'prom-client';
import type { RedeemMetrics } from './redemption.service.js';
import type { MirrorMetrics } from './redeem-code.mirror.js';

export { createBatchService, type BatchService, type BatchSettings, GENERATE_QUEUE } from './redeem-code.batch.js';
export { createCodeService, type CodeService } from './redeem-code.service.js';
export { createRedemptionService, type RedemptionService, type RedeemGuard, type RedeemAttempt, GRANT_SOURCE } from './redemption.service.js';
export { createShapeCache, type ShapeCache } from './redeem-code.shapes.js';
export { createCodeReader, type CodeReader } from './redeem-code.reader.js';
export { createRedemptionBatcher, type RedemptionBatcher } from './redemption.statement.js';
export { listShapesForCache } from './redeem-code.shapes-loader.js';
export { redeemCodeRoutes } from './redeem-code.routes.js';
export type { RewardRulePorts } from './redeem-code.document.js';
export { Batch, CreateBatchBody } from './redeem-code.schemas.js';
export { createCodeMirror, type CodeMirror, mirroredCreate, mirrorKeys } from './redeem-code.mirror.js';
export { createReconciler, type Reconciler, type ReconcileReport } from './redeem-code.reconcile.js';

/** The redeem-code module's metrics, plus refusals by their error code. */
export function redeemCodeMetrics(registry: Registry): RedeemMetrics & MirrorMetrics & { generated: Counter<'code_type'>; codesGenerated: Counter<'code_type' | 'mode'>; batchSize: Histogram; batchFailed: Counter } {
  return {
    batchSize: new Histogram({
      name: 'marketing_redeem_code_batch_size',
      help: 'Redemptions per group commit (one statement and one transaction for all of them)',
      buckets: [1, 2, 4, 8, 16, 32],
      registers: [registry],
    }),
    batchFailed: new Counter({
      name: 'marketing_redeem_code_batch_failed_total',
      help: 'Redemption group commits that failed as a whole (an error or a deadlock) and ran their redemptions one by one instead',
      registers: [registry],
    }),
    fastPath: new Counter({
      name: 'marketing_redeem_code_fast_path_total',
      help: 'Redemptions seen by the Redis fast path, by result: passed (known live, on to the database), miss (not provable from Redis), unavailable (no or failing Redis), refused_<reason>',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    fixed: new Counter({
      name: 'marketing_redeem_code_mirror_fixed_total',
      help: 'Entries of the Redis code mirror repaired by reconcile, by kind (missing, wrong, extra, batches, pending)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    generated: new Counter({
      name: 'marketing_redeem_code_generated_total',
      help: 'Redeem codes generated and stored',
      labelNames: ['code_type'] as const,
      registers: [registry],
    }),
    // The product document's metric. Labels stay bounded (4 code types x 2 modes): a campaign_id
    // label, as the document has it, would make one series per campaign forever (docs/redeem-codes.md).
    codesGenerated: new Counter({
      name: 'marketing_codes_generated_total',
      help: 'Redeem codes generated, by code type and mode (sync: inside the request; async: by the background job or the CLI)',
      labelNames: ['code_type', 'mode'] as const,
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
export { createRedemptionGate, type RedemptionGate } from './redemption.gate.js';
