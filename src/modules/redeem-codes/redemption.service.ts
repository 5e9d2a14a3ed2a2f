/**
 * Redeeming a code: the use, the grant and the redemption record in ONE statement (mh_redeem_batch),
 * so a code is used exactly when its reward was granted. The path is kept lean for the hot case:
 * typed input is recognised from memory first (shape and check character), then one read of the
 * code with its batch, then the statement, which re-checks the code under its row lock and
 * shares a group commit with other redemptions when there is no caller's transaction.
 */
import type { Counter } from 'prom-client';
import { type Database, type Executor, runTransaction } from '../../db/client.js';
import { retryTransient } from '../../db/retry.js';
import type { AnswerRecorder } from '../../platform/http/unit-of-work.js';
import { type Actor, canSeeProduct, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { AppError } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { parseInstant } from '../../platform/time.js';
import type { CampaignService } from '../campaigns/index.js';
import type { GrantService, GrantStatementRunner } from '../grants/index.js';
import { redeemCodeErrors } from './redeem-code.errors.js';
import * as repo from './redeem-code.repo.js';
import { displayCode, lookupForms } from './redeem-code.rules.js';
import type { RedeemInput, RedeemResultView, RedemptionListInput } from './redeem-code.schemas.js';
import type { RewardRulePorts } from './redeem-code.document.js';
import { CodeRefusedUnderLock, createRuleRedemption } from './redemption.rules.js';
import { GRANT_SOURCE, redemptionFromJson, toRedemptionView } from './redemption.view.js';

export { toRedemptionView } from './redemption.view.js';
import { codeIdOf, pickTyped, visibility } from './redeem-code.service.js';
import type { ShapeCache } from './redeem-code.shapes.js';
import type { CodeMirror, Probe } from './redeem-code.mirror.js';
import type { CodeReader } from './redeem-code.reader.js';
import { type CodeFacts, firstRefusal, isCodeRefusal, refusalOf } from './redemption.checks.js';
import { fastPathDecision, rowFromProbe } from './redemption.fast-path.js';
import type { RedemptionGate } from './redemption.gate.js';
import { type RedeemAnswer, type RedemptionBatcher, runRedeemStatement } from './redemption.statement.js';

/** What a guard (rate limits, lock-out, a cache in front of the database) sees of an attempt. */
export interface RedeemAttempt {
  tenantId: string;
  userId: string;
  /** The code as typed. */
  code: string;
  clientIp: string | null;
  /**
   * The end user's address for per-IP limits: `client_ip` given by the calling backend, else
   * null (a backend's own address is not a user's; see src/platform/client-ip.ts).
   */
  limitIp: string | null;
  productCode: string | null;
  /** X-Device-Id of the request, kept with the redemption. */
  deviceId?: string | null | undefined;
}

/**
 * A seam for abuse defence built elsewhere: `before` runs ahead of any database work and may
 * refuse by throwing an AppError (e.g. 429 rate_limited); `after` learns the outcome
 * ('redeemed' or the refusal code), e.g. to count failures towards a lock-out. Neither runs
 * inside the redemption's transaction, so a guard may call Redis.
 */
export interface RedeemGuard {
  before?(attempt: RedeemAttempt): Promise<void>;
  after?(attempt: RedeemAttempt, outcome: string): Promise<void>;
}

export interface RedeemMetrics {
  redeemed: Counter<'code_type'>;
  refused: Counter<'code'>;
}

/**
 * Records the redemption's answer in its transaction (an HTTP Idempotency-Key's answer: see
 * platform/http/unit-of-work.ts). With one, the redemption opens a transaction for its statement
 * and the record; without, its one statement is atomic on its own and needs none.
 */
export type RedeemRecorder = AnswerRecorder<RedeemResultView>;

export { GRANT_SOURCE } from './redemption.view.js';


/** What the checks of redemption.checks.ts read of a code row (read from the database or vouched by the mirror). */
function factsOf(row: repo.CodeWithBatch): CodeFacts {
  return {
    display: displayCode(row.code, row),
    voided: row.status === 'VOIDED' || row.batch_status === 'VOIDED',
    expiresAt: row.expires_at,
    assignedUserId: row.assigned_user_id,
    applicableProducts: row.applicable_products,
    uses: row.uses,
    maxUses: row.max_uses,
    redeemed: row.status === 'REDEEMED',
  };
}

/** The code refused under its row lock (mh_redeem_batch answered a refusal with details.stage 'code'). */
class CodeRefusal extends Error {
  constructor(readonly code: string) {
    super(code);
    this.name = 'CodeRefusal';
  }
}



export function createRedemptionService(deps: {
  db: Database;
  clock: Clock;
  campaigns: CampaignService;
  grants: GrantService;
  shapes: ShapeCache;
  metrics: RedeemMetrics;
  guard?: RedeemGuard | undefined;
  /** Group commit of redemptions (redemption.statement.ts; absent: one statement each). */
  batcher?: RedemptionBatcher | undefined;
  /** Grouped reads of codes (absent: each redemption reads its code on its own). */
  reader?: CodeReader | undefined;
  /** The Redis mirror of code states (fast refusals); absent or disabled without Redis. */
  mirror?: CodeMirror | undefined;
  /** Admission, probe and failure count in one Redis call (redemption.gate.ts); absent without Redis. */
  gate?: RedemptionGate | undefined;
  /** Tags, coupon claims: what batches with reward rules need of other modules. */
  rulePorts?: RewardRulePorts | undefined;
}) {
  const { db, clock, shapes, metrics, mirror } = deps;
  const redeemByRules = createRuleRedemption({ db, campaigns: deps.campaigns, grants: deps.grants, rulePorts: deps.rulePorts });

  // Best effort: the outcome is already decided (and committed); a failing guard must not change the answer.
  const after = (attempt: RedeemAttempt, outcome: string) => deps.guard?.after?.(attempt, outcome).catch(() => undefined);

  // What the transaction saw of the code, for the mirror's write-back after it ended.
  interface Seen {
    codeType?: string;
    row?: repo.CodeWithBatch;
    /** The row came from the mirror: nothing to teach it on a refusal. */
    fromMirror?: boolean;
    used?: { uses: number; status: repo.CodeRow['status'] };
  }

  /** The typed code's row: alone inside a caller's transaction, else in a read shared with concurrent redemptions. */
  async function readCode(tenant: TenantActor, a: RedeemAttempt, exec: Executor): Promise<repo.CodeWithBatch | undefined> {
    const forms = lookupForms(a.code);
    const seenBy = visibility(tenant);
    const candidates =
      deps.reader && !exec.isTransaction
        ? (await deps.reader.find(tenant.tenantId, forms)).filter((r) => repo.visibleTo(seenBy, r.product_code))
        : await repo.findCodes(exec, seenBy, forms);
    return pickTyped(candidates, a.code);
  }

  /**
   * The code's row (`vouched` by the Redis mirror, else one read outside any transaction), the
   * checks on it, then ONE statement that uses the code, grants its reward and records the
   * redemption (mh_redeem_batch, sql/mh_redeem_batch.sql): it re-checks the code under its row
   * lock, so what changed since the read is still refused, and verifies a vouched row against
   * the database (code_changed: read and try again). Without a caller's transaction the
   * statement shares a group commit with other redemptions.
   */
  async function redeemOnce(tenant: TenantActor, a: RedeemAttempt, exec: Executor, seen: Seen, vouched: repo.CodeWithBatch | null): Promise<RedeemResultView> {
    const now = clock.now();
    const row = vouched ?? (await readCode(tenant, a, exec));
    if (!row) throw redeemCodeErrors.codeNotFound(a.code);
    seen.row = row;
    seen.fromMirror = vouched !== null;
    const facts = factsOf(row);
    // The campaign (ACTIVE, within its window) is checked by the grant below, from its snapshot
    // cache verified in the grant statement: a read here would cost a round trip per redemption
    // for the same answer. So code refusals (expired, used, ...) come before campaign_not_active,
    // as on the Redis fast path, which does not know campaigns either.
    const refusal = firstRefusal(facts, a.userId, a.productCode, now);
    if (refusal) throw refusalOf(refusal, facts, a.productCode);
    const codeId = codeIdOf(row.batch_id, row.seq);
    // The cause of the grant: the code, or (multi-use) the code for this user. The grant flow keeps
    // one grant per cause, so this code can never grant this reward twice to the same redemption.
    const sourceId = row.max_uses === 1 ? codeId : `${codeId}/${a.userId}`;
    const redeem = {
      batch_id: row.batch_id,
      seq: row.seq,
      max_uses: row.max_uses,
      ...(row.expires_at && { expires_at: row.expires_at.toISOString() }),
      redemption_id: newId('rdm', now.getTime()),
      code: row.code,
      campaign_id: row.campaign_id,
      product_code: a.productCode,
      client_ip: a.clientIp,
      device_id: a.deviceId ?? null,
      ...(vouched && { expect_batch: true }),
    };
    if (row.reward_rules) {
      const byRules = await redeemByRules(tenant, a, exec, row, facts, { ...redeem, no_grant: true }, now).catch((err: unknown) => {
        // Refused under the row lock: the read is older than what refused, the mirror must not learn it.
        if (err instanceof CodeRefusedUnderLock) delete seen.row;
        throw err instanceof CodeRefusedUnderLock ? err.error : err;
      });
      seen.used = byRules.used;
      seen.codeType = row.code_type;
      return byRules.result;
    }
    // The grants service decides the grant; this module runs it, inside its own statement
    // (mh_redeem_batch), in its own group commit unless there is a caller's transaction.
    let made: RedeemAnswer | undefined;
    const statement: GrantStatementRunner = async (stmtExec, parameter) => {
      const p = { ...parameter, redeem };
      const answer = deps.batcher && !stmtExec.isTransaction ? await deps.batcher.submit(p) : await runRedeemStatement(stmtExec, p);
      // The code itself was refused under its lock: not a refusal of the grant.
      if (answer.outcome === 'refused' && (answer.details as { stage?: string } | undefined)?.stage === 'code') throw new CodeRefusal(answer.code as string);
      if (answer.outcome === 'granted') made = answer;
      return answer;
    };
    let outcome;
    try {
      outcome = await deps.grants.grantReward(
        tenant,
        // A batch without reward rules always has its reward (one or the other, checked at creation).
        { reward_id: row.reward_id!, user_id: a.userId, campaign_id: row.campaign_id, source: GRANT_SOURCE, source_id: sourceId },
        exec,
        { statement },
      );
    } catch (err) {
      // The statement found the code changed since the read (used, voided, assigned meanwhile).
      if (err instanceof CodeRefusal) {
        // The mirror's picture of the code or its batch is out of date: read them and try again.
        if (err.code === 'code_changed' && vouched) return redeemOnce(tenant, a, exec, seen, null);
        delete seen.row; // the read is older than what refused: the mirror must not learn it
        // The same error the check on a fresh read would give (the one order of redemption.checks.ts).
        if (isCodeRefusal(err.code)) throw refusalOf(err.code, facts, a.productCode);
        throw redeemCodeErrors.codeNotFound(a.code);
      }
      throw err;
    }
    // An earlier grant for this cause: this user already redeemed this multi-use code.
    if (!outcome.created || !made) throw refusalOf('code_already_redeemed', facts, a.productCode);
    const redemption = redemptionFromJson(made.redemption as Record<string, unknown>);
    seen.used = made.code_state as Seen['used'];
    seen.codeType = row.code_type;
    return { redemption: toRedemptionView(redemption, facts.display), grant: outcome.grant };
  }

  return {
    /**
     * The attempt a request makes: product from the body or X-Product-Code (they must agree, and
     * the key must be allowed it), client address from the body (a server calling for its user)
     * or the connection.
     */
    attemptOf(
      actor: Actor,
      input: Pick<RedeemInput, 'code' | 'user_id' | 'product_code' | 'client_ip'>,
      productHeader: string | undefined,
      callerIp: string | undefined,
      limitIp?: string | null,
      deviceId?: string | null,
    ): RedeemAttempt {
      const tenant = requireTenant(actor);
      if (input.product_code && productHeader && input.product_code !== productHeader) {
        throw redeemCodeErrors.productCodeMismatch(input.product_code, productHeader);
      }
      // A client request (publishable key) redeems from its key's app unless it names it.
      const product = input.product_code ?? productHeader ?? tenant.client?.productCode ?? null;
      if (product !== null && !canSeeProduct(tenant, product)) {
        throw redeemCodeErrors.productNotAllowed(product, tenant.productCodes);
      }
      return {
        tenantId: tenant.tenantId,
        userId: input.user_id,
        code: input.code,
        clientIp: input.client_ip ?? callerIp ?? null,
        limitIp: limitIp ?? null,
        productCode: product,
        deviceId: deviceId ?? tenant.client?.deviceId ?? null,
      };
    },

    /**
     * Redeems a code: recognised from memory (unknown shapes and wrong check characters never
     * reach the database), then checked, used and granted in one transaction via `transact`.
     */
    async redeem(actor: Actor, attempt: RedeemAttempt, recorder?: RedeemRecorder | null): Promise<RedeemResultView> {
      const tenant = requireTenant(actor);
      // The transaction opens here, around the database work only: the admission, the probe and
      // the mirror's write-backs (Redis) stay outside it. A deadlock victim runs again whole.
      const run = (work: (exec: Executor) => Promise<RedeemResultView>): Promise<RedeemResultView> =>
        recorder
          ? retryTransient(() =>
              runTransaction(db, async (trx) => {
                const value = await work(trx);
                await recorder.record(trx, value);
                return value;
              }),
            )
          : work(db);
      const seenCode: Seen = {};
      let failureCounted = false;
      try {
        const seen = await shapes.recognize(tenant.tenantId, attempt.code);
        const recognized = seen.kind !== 'none' && seen.kind !== 'bad_check';
        // The admission (rate limits, lock-out) and the Redis probe of the code in one call, which
        // also counts the failure of an unknown code; the admission's answer comes first (a
        // limited caller gets its 429 whatever the code). Without the gate, the same as two calls
        // sent together.
        const gated = recognized && mirror?.enabled && deps.gate ? await deps.gate.run(attempt, lookupForms(attempt.code)) : null;
        let probe: Probe | null = null;
        if (gated) {
          probe = gated.probe;
          failureCounted = gated.failureCounted;
        } else {
          const admitted = deps.guard?.before?.(attempt);
          const probed = recognized && mirror?.enabled ? mirror.probe(tenant.tenantId, lookupForms(attempt.code)) : null;
          // Whatever ends this attempt early, the probe must not reject unobserved.
          probed?.catch(() => undefined);
          await admitted;
          probe = probed && (await probed);
        }
        if (seen.kind === 'bad_check') throw redeemCodeErrors.codeMistyped();
        if (seen.kind === 'none') throw redeemCodeErrors.codeNotFound(attempt.code);
        let vouched: repo.CodeWithBatch | null = null;
        if (mirror?.enabled && probe) {
          // Redis first: unknown, used-up, expired, voided and foreign codes end here. A code it
          // passes is not read again from the database: the statement verifies what Redis said.
          const decided = fastPathDecision(probe, tenant, attempt, clock.now());
          mirror.count(decided.result);
          if (decided.refusal) throw decided.refusal;
          if (probe.kind === 'found') vouched = rowFromProbe(tenant.tenantId, probe);
        }
        // The work's value is exactly the response (the unit of work records it for
        // Idempotency-Key replays); the code type for the metric comes out on the side.
        const result = await run((exec) => redeemOnce(tenant, attempt, exec, seenCode, vouched));
        recorder?.committed();
        metrics.redeemed.inc({ code_type: seenCode.codeType ?? 'UNKNOWN' });
        // Committed: the mirror learns the use (a replayed answer ran nothing and teaches nothing).
        // Not awaited: the answer does not depend on it, and a later probe is sent after it.
        if (mirror?.enabled && seenCode.row && seenCode.used) void mirror.noteRow({ ...seenCode.row, ...seenCode.used }, { batch: false }).catch(() => undefined);
        await after(attempt, 'redeemed');
        return result;
      } catch (err) {
        if (err instanceof AppError) {
          metrics.refused.inc({ code: err.code });
          // Refused: the code is as it was read (committed state), which heals a mirror that let
          // a used or voided code through.
          if (mirror?.enabled && seenCode.row && !seenCode.fromMirror) await mirror.noteRow(seenCode.row).catch(() => undefined);
          // The gate already counted an unknown code's failure in its call.
          if (!failureCounted) await after(attempt, err.code);
        }
        throw err;
      }
    },

    /** Who redeemed what, when, from which product and address; newest first. */
    async listRedemptions(actor: Actor, query: RedemptionListInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await repo.listRedemptions(
        exec,
        visibility(tenant),
        {
          ...(query.user_id && { userId: query.user_id }),
          ...(query.code && { code: lookupForms(query.code) }),
          ...(query.batch_id && { batchId: query.batch_id }),
          ...(query.campaign_id && { campaignId: query.campaign_id }),
          ...(query.product_code && { productCode: query.product_code }),
          ...(query.device_id && { deviceId: query.device_id }),
          from: parseInstant('created_from', query.created_from),
          to: parseInstant('created_to', query.created_to),
        },
        page,
      );
      return { redemptions: rows.map((r) => toRedemptionView(r, displayCode(r.code, r))), pagination: pagination(total, page) };
    },
  };
}

export type RedemptionService = ReturnType<typeof createRedemptionService>;
