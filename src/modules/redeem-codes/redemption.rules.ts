/**
 * Redeeming a code of a batch with reward rules (the product document's rewardRules): the rules
 * whose condition the user meets decide what is granted. See docs/redeem-codes.md.
 */
import { type Database, type Executor, runTransaction } from '../../db/client.js';
import { retryTransient } from '../../db/retry.js';
import type { TenantActor } from '../../platform/actor.js';
import type { AppError } from '../../platform/errors.js';
import type { CampaignService } from '../campaigns/index.js';
import type { GrantService } from '../grants/index.js';
import { matchingRules, type RewardRulePorts } from './redeem-code.document.js';
import { redeemCodeErrors } from './redeem-code.errors.js';
import type * as repo from './redeem-code.repo.js';
import type { RedeemResultView, RuleOutcomeView } from './redeem-code.schemas.js';
import { codeIdOf } from './redeem-code.service.js';
import { type CodeFacts, isCodeRefusal, refusalOf } from './redemption.checks.js';
import { runRedeemStatement } from './redemption.statement.js';
import { GRANT_SOURCE, redemptionFromJson, toRedemptionView } from './redemption.view.js';

/** What the rule path needs of an attempt. */
export interface RuleAttempt {
  userId: string;
  code: string;
  productCode: string | null;
}

/** The code was refused under its row lock (used, voided ... since it was read): `error` is the answer. */
export class CodeRefusedUnderLock extends Error {
  constructor(readonly error: AppError) {
    super(error.code);
    this.name = 'CodeRefusedUnderLock';
  }
}

export function createRuleRedemption(deps: { db: Database; campaigns: CampaignService; grants: GrantService; rulePorts?: RewardRulePorts | undefined }) {
  const { db } = deps;
  /**
   * The rules whose condition the user meets (tags from the customers module) decide what is
   * granted; none is 403 no_reward_rule_matched before anything is written. The code's use and
   * redemption (mh_redeem_batch with no_grant), each REWARD rule's grant (grants service, cause
   * `<code_id>/<user_id>/<rule index>`) and each COUPON rule's claim (coupons module) commit
   * together in one transaction (the caller's, or its own): any refusal undoes all of it.
   */
  return async function redeemByRules(
    tenant: TenantActor,
    a: RuleAttempt,
    exec: Executor,
    row: repo.CodeWithBatch,
    facts: CodeFacts,
    redeem: Record<string, unknown>,
    now: Date,
  ): Promise<{ result: RedeemResultView; used: { uses: number; status: repo.CodeRow['status'] } }> {
    const ports = deps.rulePorts;
    const rules = row.reward_rules ?? [];
    const tags = ports ? await ports.userTags(tenant.tenantId, a.userId, exec) : [];
    const matched = new Set(matchingRules(rules, tags));
    if (matched.size === 0) throw redeemCodeErrors.noRewardRuleMatched(facts.display, a.userId);
    const codeId = codeIdOf(row.batch_id, row.seq);
    const work = async (trx: Executor) => {
      // The campaign is checked here too: a COUPON rule grants nothing through the grants service.
      await deps.campaigns.requireActiveCampaign(tenant.tenantId, row.campaign_id, trx);
      const answer = await runRedeemStatement(trx, { tenant_id: tenant.tenantId, user_id: a.userId, now: now.toISOString(), redeem });
      if (answer.outcome !== 'granted') {
        const code = String(answer.code);
        throw new CodeRefusedUnderLock(isCodeRefusal(code) ? refusalOf(code, facts, a.productCode) : redeemCodeErrors.codeNotFound(a.code));
      }
      const granted: RuleOutcomeView[] = [];
      for (const [i, rule] of rules.entries()) {
        if (!matched.has(rule)) continue;
        if (rule.type === 'REWARD') {
          const out = await deps.grants.grantReward(
            tenant,
            { reward_id: rule.id, user_id: a.userId, campaign_id: row.campaign_id, source: GRANT_SOURCE, source_id: `${codeId}/${a.userId}/${i}` },
            trx,
          );
          granted.push({ type: 'REWARD', id: rule.id, grant_id: out.grant.grant_id });
        } else {
          if (!ports) throw redeemCodeErrors.unknownCouponTemplate(rule.id, i);
          const coupon = await ports.claimCoupon(tenant.tenantId, rule.id, a.userId, trx);
          granted.push({ type: 'COUPON', id: rule.id, coupon_id: coupon.coupon_id });
        }
      }
      const redemption = toRedemptionView(redemptionFromJson(answer.redemption as Record<string, unknown>), facts.display);
      return { result: { redemption, grant: null, granted }, used: answer.code_state as { uses: number; status: repo.CodeRow['status'] } };
    };
    return exec.isTransaction ? work(exec) : retryTransient(() => runTransaction(db, work));
  };
}
