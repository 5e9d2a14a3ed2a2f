/** The redemption as answered: from its row (a read, or the statement's to_jsonb of it). */
import type * as repo from './redeem-code.repo.js';
import type { RedemptionView } from './redeem-code.schemas.js';
import { codeIdOf } from './redeem-code.service.js';

/** The source of every redemption's grants (the grants' cause is this source and the code id). */
export const GRANT_SOURCE = 'redeem_code';

export function toRedemptionView(r: repo.RedemptionRow, display: string): RedemptionView {
  return {
    redemption_id: r.redemption_id,
    code: display,
    code_id: codeIdOf(r.batch_id, r.seq),
    batch_id: r.batch_id,
    campaign_id: r.campaign_id,
    reward_id: r.reward_id,
    user_id: r.user_id,
    grant_id: r.grant_id,
    product_code: r.product_code,
    client_ip: r.client_ip,
    device_id: r.device_id ?? null,
    created_at: r.created_at.toISOString(),
  };
}

/** A redeem_code_redemption row as to_jsonb gives it. */
export function redemptionFromJson(json: Record<string, unknown>): repo.RedemptionRow {
  return { ...json, created_at: new Date(json.created_at as string) } as unknown as repo.RedemptionRow;
}
