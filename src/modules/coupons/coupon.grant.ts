import { sql, type Transaction } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { DB } from '../../db/schema.js';
import type { Clock } from '../../platform/clock.js';
import { couponErrors } from './coupon.errors.js';
import * as repo from './coupon.repo.js';
import type { CouponService } from './coupon.service.js';

/**
 * Coupons issued by grants of COUPON rewards that name a coupon template. The grants and rewards
 * modules do not import this module: app/services.ts hands them these functions (the grants
 * module's CouponIssuer, the rewards module's couponTemplateExists), so the dependency points one
 * way only.
 *
 * Each coupon a grant issues is recorded in coupon_grant under the primary key (tenant_id,
 * grant_id, unit) (migration 0039): one coupon per unit of a grant, whatever path asks twice. The
 * coupon itself is claimed like any other (issueForTenant: source 'grant', the template's
 * usage_limit and per_user_limit each one conditional statement), in the grant's transaction.
 */


/** A coupon a grant issued, as the grant's payload shows it. */
export interface GrantCoupon {
  coupon_id: string;
  coupon_code: string;
  template_id: string;
  valid_from: string | null;
  valid_until: string | null;
}

/** How many coupons of the template the user claimed so far (the per-user counter the claim keeps). */
async function claimsOf(exec: Executor, tenantId: string, templateId: string, userId: string): Promise<number> {
  const row = await exec.selectFrom('coupon_user_claims').select('n').where('tenant_id', '=', tenantId).where('template_id', '=', templateId).where('user_id', '=', userId).executeTakeFirst();
  return row?.n ?? 0;
}

export function createCouponGrants(deps: { coupons: CouponService; clock: Clock }) {
  const { coupons, clock } = deps;
  return {
    /** Whether the template exists in the tenant (a COUPON reward that names it is checked when saved). */
    async templateExists(tenantId: string, templateId: string, exec: Executor): Promise<boolean> {
      return (await repo.findTemplate(exec, tenantId, templateId)) !== undefined;
    },

    /**
     * `quantity` coupons of the template for the user, one per unit of the grant, in the grant's
     * transaction. A refusal (coupon_usage_limit_reached, coupon_per_user_limit_reached,
     * coupon_template_not_claimable) is thrown: the grant's transaction undoes everything.
     */
    async issue(trx: Transaction<DB>, grant: { tenantId: string; grantId: string; templateId: string; userId: string; quantity: number }): Promise<GrantCoupon[]> {
      const out: GrantCoupon[] = [];
      for (let unit = 1; unit <= grant.quantity; unit++) {
        const coupon = await coupons.issueForTenant(grant.tenantId, grant.templateId, grant.userId, trx);
        await trx
          .insertInto('coupon_grant')
          .values({ tenant_id: grant.tenantId, grant_id: grant.grantId, unit, coupon_id: coupon.coupon_id, created_at: clock.now() })
          .execute();
        out.push({ coupon_id: coupon.coupon_id, coupon_code: coupon.code, template_id: coupon.template_id, valid_from: coupon.valid_from, valid_until: coupon.valid_until });
      }
      return out;
    },

    /**
     * What `issue` would refuse now, for the grant eligibility check (a read; the issue decides
     * under its own conditional statements): the same codes and messages as the claim.
     */
    async check(exec: Executor, g: { tenantId: string; templateId: string; userId: string; quantity: number }): Promise<{ code: string; message: string; details: Record<string, unknown> } | null> {
      const template = await repo.findTemplate(exec, g.tenantId, g.templateId);
      const now = clock.now();
      let err;
      if (!template) err = couponErrors.templateNotFound(g.templateId);
      else if (template.status !== 'active') err = couponErrors.templateNotClaimable(g.templateId, 'disabled');
      else if (template.valid_until && template.valid_until <= now) err = couponErrors.templateNotClaimable(g.templateId, 'ended');
      else if (template.per_user_limit !== null && (await claimsOf(exec, g.tenantId, g.templateId, g.userId)) + g.quantity > template.per_user_limit) {
        err = couponErrors.perUserLimitReached(g.templateId, template.per_user_limit);
      } else if (template.usage_limit !== null && template.claimed_count + g.quantity > template.usage_limit) err = couponErrors.usageLimitReached(g.templateId, template.usage_limit);
      return err ? { code: err.code, message: err.message, details: err.details ?? {} } : null;
    },

    /**
     * A revoked grant: its coupons still `available` become `voided`, in one conditional UPDATE;
     * a coupon that is used, locked by an order, expired or voided already stays as it is.
     */
    async voidOfGrant(exec: Executor, tenantId: string, grantId: string): Promise<{ coupon_id: string; voided: boolean }[]> {
      const issued = await exec.selectFrom('coupon_grant').select('coupon_id').where('tenant_id', '=', tenantId).where('grant_id', '=', grantId).orderBy('unit').execute();
      if (issued.length === 0) return [];
      const ids = issued.map((r) => r.coupon_id);
      const { rows } = await sql<{ coupon_id: string; user_id: string }>`
        update coupon set status = 'voided', order_id = null, locked_until = null, updated_at = ${clock.now()}
        where tenant_id = ${tenantId} and coupon_id = any (${ids}::text[]) and status = 'available'
        returning coupon_id, user_id`.execute(exec);
      // The owner's wallet cached for quotes goes (now and at the commit), as for any void.
      coupons.walletChanged(exec, tenantId, rows.map((r) => r.user_id));
      const voided = new Set(rows.map((r) => r.coupon_id));
      return ids.map((id) => ({ coupon_id: id, voided: voided.has(id) }));
    },
  };
}

export type CouponGrants = ReturnType<typeof createCouponGrants>;
