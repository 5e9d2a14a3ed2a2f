/** Codes one by one: look up, list, assign to a user, void, and export a batch as CSV rows. */
import { type Database, type Executor } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { notFound } from '../../platform/errors.js';
import { pagination, toPage } from '../../platform/paging.js';
import { redeemCodeErrors } from './redeem-code.errors.js';
import * as repo from './redeem-code.repo.js';
import { displayCode, isCaseSensitive, lookupForms, stripInput } from './redeem-code.rules.js';
import type { AssignInput, AssignNextInput, CodeListInput, RedeemCodeView } from './redeem-code.schemas.js';
import { checkExtraData } from './redeem-code.document.js';

export const codeIdOf = (batchId: string, seq: number) => `${batchId}.${seq}`;

export function codeStatus(row: Pick<repo.CodeWithBatch, 'status' | 'batch_status' | 'expires_at'>, now: Date): RedeemCodeView['status'] {
  if (row.status === 'VOIDED' || row.batch_status === 'VOIDED') return 'VOIDED';
  if (row.status === 'REDEEMED') return 'REDEEMED';
  if (row.expires_at && row.expires_at.getTime() <= now.getTime()) return 'EXPIRED';
  return 'ACTIVE';
}

export function toCodeView(row: repo.CodeWithBatch, now: Date): RedeemCodeView {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    code: displayCode(row.code, row),
    code_id: codeIdOf(row.batch_id, row.seq),
    batch_id: row.batch_id,
    campaign_id: row.campaign_id,
    reward_id: row.reward_id,
    product_code: row.product_code,
    status: codeStatus(row, now),
    uses: row.uses,
    max_uses: row.max_uses,
    assigned_user_id: row.assigned_user_id,
    assigned_at: iso(row.assigned_at),
    expires_at: iso(row.expires_at),
    applicable_products: row.applicable_products,
    last_redeemed_at: iso(row.last_redeemed_at),
    voided_at: iso(row.voided_at),
    extra_data: row.extra_data ?? null,
  };
}

/**
 * The row typed input denotes: a case-sensitive (ALPHANUM_MIXED) code only as typed, any other
 * code in upper case; with both present, the exact spelling wins.
 */
export function pickTyped(rows: repo.CodeWithBatch[], input: string): repo.CodeWithBatch | undefined {
  const raw = stripInput(input);
  const upper = raw.toUpperCase();
  return rows.find((r) => isCaseSensitive(r.code_type) && r.code === raw) ?? rows.find((r) => !isCaseSensitive(r.code_type) && r.code === upper);
}

export const visibility = (a: TenantActor): repo.Visibility => ({ tenantId: a.tenantId, productCodes: a.productCodes });

export function createCodeService(deps: { db: Database; clock: Clock; exportPageSize: number }) {
  const { db, clock } = deps;

  async function find(exec: Executor, tenant: TenantActor, code: string): Promise<repo.CodeWithBatch> {
    const row = pickTyped(await repo.findCodes(exec, visibility(tenant), lookupForms(code)), code);
    if (!row) throw redeemCodeErrors.codeNotFound(code);
    return row;
  }

  const key = (row: repo.CodeWithBatch) => ({ tenantId: row.tenant_id, batchId: row.batch_id, seq: row.seq });

  return {
    async getCode(actor: Actor, code: string, exec: Executor = db): Promise<RedeemCodeView> {
      return toCodeView(await find(exec, requireTenant(actor), code), clock.now());
    },

    async listCodes(actor: Actor, query: CodeListInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const now = clock.now();
      const { rows, total } = await repo.listCodes(
        exec,
        visibility(tenant),
        {
          ...(query.campaign_id && { campaignId: query.campaign_id }),
          ...(query.batch_id && { batchId: query.batch_id }),
          ...(query.status && { status: query.status }),
          ...(query.user_id && { userId: query.user_id }),
          now,
        },
        page,
      );
      return { redeem_codes: rows.map((r) => toCodeView(r, now)), pagination: pagination(total, page) };
    },

    /** Reserves an unused code for one user: afterwards only that user can redeem it. */
    async assignCode(actor: Actor, code: string, input: Pick<AssignInput, 'user_id' | 'extra_data'>, exec: Executor = db): Promise<RedeemCodeView> {
      const tenant = requireTenant(actor);
      const userId = input.user_id;
      const extra = checkExtraData(input.extra_data);
      const now = clock.now();
      const row = await find(exec, tenant, code);
      const status = codeStatus(row, now);
      const display = displayCode(row.code, row);
      if (status === 'VOIDED') throw redeemCodeErrors.codeVoided(display);
      if (status === 'EXPIRED') throw redeemCodeErrors.codeExpired(display, row.expires_at?.toISOString() ?? null);
      if (await repo.assignCode(exec, key(row), userId, now, extra && JSON.stringify(extra))) return this.getCode(tenant, code, exec);
      const current = await find(exec, tenant, code);
      if (current.assigned_user_id && current.assigned_user_id !== userId) {
        throw redeemCodeErrors.alreadyAssigned(current.assigned_user_id);
      }
      if (current.status === 'VOIDED') throw redeemCodeErrors.codeVoided(display);
      throw redeemCodeErrors.alreadyRedeemed(display, current.max_uses);
    },

    /**
     * Hands the batch's next free code to the user (one statement, FOR UPDATE SKIP LOCKED): parallel
     * calls never get the same code; none left is 409 batch_exhausted. A one_per_user batch gives
     * a user one code: a repeat answers that code again (`reused: true`, nothing changed).
     */
    async assignNext(actor: Actor, batchId: string, input: AssignNextInput, exec: Executor = db): Promise<{ redeem_code: RedeemCodeView; reused: boolean }> {
      const tenant = requireTenant(actor);
      const extra = checkExtraData(input.extra_data);
      const now = clock.now();
      const batch = await repo.findBatch(exec, visibility(tenant), batchId);
      if (!batch) throw notFound('batch', batchId);
      const k = { tenantId: tenant.tenantId, batchId, userId: input.user_id };
      const view = async (seq: number) => toCodeView((await repo.findCodeByKey(exec, tenant.tenantId, batchId, seq))!, now);
      if (batch.one_per_user) {
        const had = await repo.handedTo(exec, k);
        if (had !== undefined) return { redeem_code: await view(had), reused: true };
      }
      if (batch.status === 'VOIDED') throw redeemCodeErrors.batchClosed(batchId, 'voided');
      if (batch.expires_at && batch.expires_at.getTime() <= now.getTime()) throw redeemCodeErrors.batchClosed(batchId, 'expired');
      const seq = await repo.assignNext(exec, { ...k, onePerUser: batch.one_per_user, extraData: extra && JSON.stringify(extra), now });
      if (seq !== undefined) return { redeem_code: await view(seq), reused: false };
      // A parallel hand-out to the same user won the (batch, user) row: its code is the answer.
      const had = batch.one_per_user ? await repo.handedTo(exec, k) : undefined;
      if (had !== undefined) return { redeem_code: await view(had), reused: true };
      throw redeemCodeErrors.batchExhausted(batchId);
    },

    /** Voids one code; a used-up code stays REDEEMED (409 code_already_redeemed). */
    async voidCode(actor: Actor, code: string, exec: Executor = db): Promise<RedeemCodeView> {
      const tenant = requireTenant(actor);
      const row = await find(exec, tenant, code);
      const display = displayCode(row.code, row);
      if (row.batch_status === 'VOIDED' || row.status === 'VOIDED') throw redeemCodeErrors.codeVoided(display);
      if (!(await repo.voidCode(exec, key(row), clock.now()))) {
        throw redeemCodeErrors.alreadyRedeemed(display, row.max_uses);
      }
      return this.getCode(tenant, code, exec);
    },

    /**
     * The codes of a batch in seq order, read `exportPageSize` at a time by primary key (keyset, no
     * OFFSET), so an export of any size holds one page in memory. Throws batch_not_found first.
     */
    async exportBatch(actor: Actor, batchId: string, options: { onPage?: (rows: number) => void; pageSize?: number } = {}) {
      const tenant = requireTenant(actor);
      const batch = await repo.findBatch(db, visibility(tenant), batchId);
      if (!batch) throw notFound('batch', batchId);
      const pageSize = options.pageSize ?? deps.exportPageSize;
      async function* rows(): AsyncGenerator<RedeemCodeView> {
        let after = 0;
        for (;;) {
          const page = await repo.pageOfBatch(db, tenant.tenantId, batchId, after, pageSize);
          options.onPage?.(page.length);
          const now = clock.now();
          for (const code of page) yield toCodeView({ ...batch!, ...code, batch_status: batch!.status }, now);
          if (page.length < pageSize) return;
          after = page.at(-1)!.seq;
        }
      }
      return { batch, rows: rows() };
    },
  };
}

export type CodeService = ReturnType<typeof createCodeService>;
