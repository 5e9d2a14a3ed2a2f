/**
 * Batches of codes: created with their rules, generated at once (small) or by a background job
 * (large), chunk by chunk with the progress committed alongside each chunk's codes.
 */
import type { Counter } from 'prom-client';
import { readBatchInput, type RewardRulePorts } from './redeem-code.document.js';
import type pg from 'pg';
import { type Database, type Executor, inTransaction, runTransaction } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, invalidRequest, notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import type { JobQueue } from '../../platform/jobs.js';
import { parseInstant } from '../../platform/time.js';
import type { AppService } from '../apps/index.js';
import type { CampaignService } from '../campaigns/index.js';
import type { RewardService } from '../rewards/index.js';
import { advanceProgress, type ChunkTarget, copyChunk, insertCodes } from './redeem-code.bulk.js';
import { redeemCodeErrors } from './redeem-code.errors.js';
import * as repo from './redeem-code.repo.js';
import { checkGuessability, type CodeRule, displayCode, entropyBits, generateCodes, resolveRule } from './redeem-code.rules.js';
import type { BatchListInput, BatchView, CreateBatchInput } from './redeem-code.schemas.js';
import type { ShapeCache } from './redeem-code.shapes.js';
import type { CodeMirror } from './redeem-code.mirror.js';

/** The queue large batches are generated through. */
export const GENERATE_QUEUE = 'redeem_codes.generate';

export interface BatchSettings {
  /** Largest count made inside the request (201); more goes to a job (202). */
  syncLimit: number;
  /** Codes per chunk transaction of a job. */
  chunkSize: number;
  /** Highest allowed chance that one random guess is a live code of the batch. */
  maxGuessProbability: number;
}

export const ruleOf = (b: repo.BatchRow): CodeRule => ({
  code_type: b.code_type,
  length: b.length,
  prefix: b.prefix,
  alphabet: b.alphabet,
  check_char: b.check_char,
  group_size: b.group_size,
});

export function toBatchView(b: repo.BatchRow, codes?: string[]): BatchView {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    batch_id: b.batch_id,
    tenant_id: b.tenant_id,
    campaign_id: b.campaign_id,
    reward_id: b.reward_id,
    product_code: b.product_code,
    code_type: b.code_type,
    length: b.length,
    prefix: b.prefix,
    alphabet: b.alphabet,
    check_char: b.check_char,
    group_size: b.group_size,
    expires_at: iso(b.expires_at),
    valid_days: b.valid_days,
    max_uses: b.max_uses,
    applicable_products: b.applicable_products,
    rule_id: b.rule_id,
    reward_rules: b.reward_rules,
    one_per_user: b.one_per_user,
    extra_data: b.extra_data,
    status: b.status,
    total: b.total,
    generated: b.generated,
    entropy_bits: Math.round(entropyBits(ruleOf(b)) * 100) / 100,
    voided_at: iso(b.voided_at),
    created_at: b.created_at.toISOString(),
    updated_at: b.updated_at.toISOString(),
    ...(codes ? { codes: codes.map((c) => displayCode(c, b)) } : {}),
  };
}

const visibility = (a: TenantActor): repo.Visibility => ({ tenantId: a.tenantId, productCodes: a.productCodes });
// Only a bound against looping forever in a nearly full code space; each round redraws what collided.
const REDRAW_ROUNDS = 100;
const COPY_COLLISION_RETRIES = 3;
/**
 * Largest chunk written without a pool (PGlite). There the engine runs inside this process and
 * its one connection serves every request: while a chunk is written nothing else is answered,
 * not even /health. 500 codes take 15-40 ms there; 50,000 (the PostgreSQL default) took 1.5 s
 * each, and /health waited 2-3 of them. The price: a chunk's fixed cost (four statements, about
 * 2 ms) 2,000 times per million codes, 15-30% more time for a whole batch.
 */
export const EMBEDDED_CHUNK_MAX = 500;

export function createBatchService(deps: {
  db: Database;
  clock: Clock;
  apps: AppService;
  campaigns: CampaignService;
  rewards: RewardService;
  jobs: JobQueue;
  /** PostgreSQL pool for COPY; null (PGlite) writes chunks with INSERT, EMBEDDED_CHUNK_MAX codes at most. */
  pool: pg.Pool | null;
  shapes: ShapeCache;
  generated: Counter<'code_type'>;
  /** marketing_codes_generated_total: by code type and mode (sync: in the request; async: job or CLI). */
  codesGenerated?: Counter<'code_type' | 'mode'> | undefined;
  /** Coupon templates of COUPON reward rules (absent: such rules are refused). */
  rulePorts?: Pick<RewardRulePorts, 'couponTemplateExists'> | undefined;
  settings: BatchSettings;
  /** The Redis mirror of code states: each chunk is loaded into it after it commits. */
  mirror?: CodeMirror | undefined;
  /** The tenants module's code quota: charges a batch's count in its transaction, or refuses it (code_quota_exceeded). */
  chargeCodes?: ((exec: Executor, tenantId: string, count: number) => Promise<unknown>) | undefined;
}) {
  const { db, clock, campaigns, rewards, jobs, shapes, settings } = deps;
  const countGenerated = (codeType: string, mode: 'sync' | 'async', n: number) => {
    deps.generated.inc({ code_type: codeType }, n);
    deps.codesGenerated?.inc({ code_type: codeType, mode }, n);
  };
  const chunkSize = deps.pool ? settings.chunkSize : Math.min(settings.chunkSize, EMBEDDED_CHUNK_MAX);

  /** Inserts codes seq from+1..from+count in `trx`, redrawing any that collide with existing ones. */
  async function insertDrawn(trx: Executor, t: Pick<ChunkTarget, 'tenantId' | 'batchId' | 'from'>, rule: CodeRule, count: number): Promise<string[]> {
    const codes = generateCodes(rule, count);
    let seqs = codes.map((_, i) => t.from + i + 1);
    let drawn = codes;
    for (let round = 0; round < REDRAW_ROUNDS; round++) {
      const missing = await insertCodes(trx, t, seqs, drawn);
      if (missing.length === 0) return codes;
      // Each collision gets a fresh code; a redraw that collides again is simply drawn again.
      drawn = generateCodes(rule, missing.length);
      missing.forEach((seq, i) => (codes[seq - t.from - 1] = drawn[i]!));
      seqs = missing;
    }
    throw redeemCodeErrors.codeSpaceExhausted();
  }

  /** Writes one chunk in its own transaction; 'stale' when the batch moved on or was voided. */
  async function writeChunk(batch: repo.BatchRow, from: number, count: number): Promise<'written' | 'stale'> {
    const rule = ruleOf(batch);
    const target: ChunkTarget = { tenantId: batch.tenant_id, batchId: batch.batch_id, from, total: batch.total, now: clock.now() };
    if (deps.pool) {
      for (let attempt = 0; attempt < COPY_COLLISION_RETRIES; attempt++) {
        const outcome = await copyChunk(deps.pool, target, generateCodes(rule, count));
        if (outcome !== 'collision') return outcome;
      }
    }
    // PGlite, or a chunk that kept colliding under COPY: INSERT skips and redraws collisions.
    return runTransaction(db, async (trx) => {
      if (!(await advanceProgress(trx, target, from + count))) return 'stale';
      await insertDrawn(trx, target, rule, count);
      return 'written';
    });
  }

  return {
    /**
     * Creates a batch of `count` codes for a campaign. Up to settings.syncLimit they are made in
     * the caller's transaction and returned (`codes`); above, a job makes them (`async: true`).
     */
    async createBatch(
      actor: Actor,
      campaignId: string,
      body: CreateBatchInput,
      exec: Executor = db,
      /** The CLI runs the batch itself and delays the job, which then only finishes what a dead CLI left. */
      options: { deferJobMs?: number } = {},
    ): Promise<{ batch: BatchView; async: boolean }> {
      const tenant = requireTenant(actor);
      const input = readBatchInput(body);
      const rule = resolveRule(input);
      checkGuessability(rule, input.count, settings.maxGuessProbability);
      const now = clock.now();
      // validDays: counted from the batch's creation (docs/redeem-codes.md), so every code of the
      // batch shares one expiry, checked wherever a code is (read, row lock, Redis mirror).
      const expiresAt = input.valid_days !== null ? new Date(now.getTime() + input.valid_days * 86_400_000) : parseInstant('expires_at', input.expires_at);
      if (expiresAt && expiresAt.getTime() <= now.getTime()) throw invalidRequest('expires_at', 'must be in the future');
      return inTransaction(exec, async (trx) => {
        const campaign = await campaigns.getCampaign(tenant, campaignId, trx);
        const rewardOf = async (rewardId: string, field: string) => {
          const reward = await rewards.findForGrant(tenant, rewardId, trx).catch((err: unknown) => {
            if (err instanceof AppError && err.kind === 'not_found') throw redeemCodeErrors.unknownReward(rewardId, field);
            throw err;
          });
          if (reward.campaign_id && reward.campaign_id !== campaignId) throw redeemCodeErrors.rewardCampaignMismatch(reward.reward_id, reward.campaign_id);
          return reward;
        };
        const reward = input.reward_id ? await rewardOf(input.reward_id, 'reward_id') : null;
        for (const [i, r] of (input.reward_rules ?? []).entries()) {
          if (r.type === 'REWARD') await rewardOf(r.id, `reward_rules/${i}/id`);
          else if (!(await deps.rulePorts?.couponTemplateExists(tenant.tenantId, r.id, trx))) throw redeemCodeErrors.unknownCouponTemplate(r.id, i);
        }
        const products = input.applicable_products;
        for (const code of products ?? []) await deps.apps.resolveProductCode(tenant, code, undefined, trx);
        const async = input.count > settings.syncLimit;
        await deps.chargeCodes?.(trx, tenant.tenantId, input.count);
        let batch = await repo.insertBatch(trx, {
          tenant_id: tenant.tenantId,
          batch_id: newId('rcb', now.getTime()),
          campaign_id: campaignId,
          reward_id: reward?.reward_id ?? null,
          product_code: campaign.product_code,
          ...rule,
          expires_at: expiresAt,
          max_uses: input.max_uses,
          applicable_products: products,
          rule_id: input.rule_id,
          valid_days: input.valid_days,
          reward_rules: input.reward_rules ? JSON.stringify(input.reward_rules) : null,
          one_per_user: input.one_per_user,
          extra_data: input.extra_data ? JSON.stringify(input.extra_data) : null,
          total: input.count,
          status: 'PENDING',
          job_id: null,
          voided_at: null,
          created_at: now,
          updated_at: now,
        });
        shapes.invalidate(tenant.tenantId);
        if (async) {
          const runAt = new Date(now.getTime() + (options.deferJobMs ?? 0));
          const jobId = await jobs.enqueue(trx, { tenantId: tenant.tenantId, queue: GENERATE_QUEUE, payload: { batch_id: batch.batch_id }, runAt });
          await repo.setBatchJob(trx, tenant.tenantId, batch.batch_id, jobId);
          return { batch: toBatchView({ ...batch, job_id: jobId }), async };
        }
        const target = { tenantId: tenant.tenantId, batchId: batch.batch_id, from: 0, total: input.count, now };
        const codes = await insertDrawn(trx, target, rule, input.count);
        await advanceProgress(trx, target, input.count);
        countGenerated(rule.code_type, 'sync', input.count);
        batch = { ...batch, generated: input.count, status: 'DONE' };
        return { batch: toBatchView(batch, codes), async };
      });
    },

    /**
     * Generates what a batch still lacks, chunk by chunk; each chunk commits with the progress,
     * so after a crash this resumes where the last commit left off. Stops when the batch is done
     * or voided. Used by the job, the CLI and the bench.
     */
    async runBatch(tenantId: string, batchId: string, onProgress?: (generated: number, total: number) => void): Promise<repo.BatchRow | undefined> {
      const all: repo.Visibility = { tenantId, productCodes: null };
      let batch = await repo.findBatch(db, all, batchId);
      while (batch && (batch.status === 'PENDING' || batch.status === 'RUNNING') && batch.generated < batch.total) {
        const count = Math.min(chunkSize, batch.total - batch.generated);
        // The chunk's codes become redeemable at its commit: the mirror's pending token covers
        // them until they are loaded into it (see redeem-code.mirror.ts).
        const release = deps.mirror?.enabled ? await deps.mirror.hold(tenantId) : null;
        let outcome: Awaited<ReturnType<typeof writeChunk>>;
        try {
          outcome = await writeChunk(batch, batch.generated, count);
          if (outcome === 'written' && deps.mirror) await deps.mirror.loadBatch(tenantId, batchId, batch.generated).catch(() => 0);
        } finally {
          await release?.();
        }
        if (outcome === 'written') {
          countGenerated(batch.code_type, 'async', count);
          batch = { ...batch, generated: batch.generated + count, status: batch.generated + count === batch.total ? 'DONE' : 'RUNNING' };
        } else {
          batch = await repo.findBatch(db, all, batchId);
        }
        if (batch) onProgress?.(batch.generated, batch.total);
      }
      return batch;
    },

    async getBatch(actor: Actor, batchId: string, exec: Executor = db): Promise<BatchView> {
      const row = await repo.findBatch(exec, visibility(requireTenant(actor)), batchId);
      if (!row) throw notFound('batch', batchId);
      return toBatchView(row);
    },

    /** The tenant's batches, newest first, one page at a time (filters: campaign, status). */
    async listBatches(actor: Actor, query: BatchListInput, exec: Executor = db) {
      const page = toPage(query);
      const { rows, total } = await repo.listBatches(
        exec,
        visibility(requireTenant(actor)),
        { ...(query.campaign_id && { campaignId: query.campaign_id }), ...(query.status && { status: query.status }) },
        page,
      );
      return { batches: rows.map((r) => toBatchView(r)), pagination: pagination(total, page) };
    },

    /** Voids a whole batch: none of its codes redeems afterwards, and unfinished generation stops. */
    async voidBatch(actor: Actor, batchId: string, exec: Executor = db): Promise<BatchView> {
      const tenant = requireTenant(actor);
      const row = await repo.voidBatch(exec, visibility(tenant), batchId, clock.now());
      if (row) return toBatchView(row);
      const current = await repo.findBatch(exec, visibility(tenant), batchId);
      if (!current) throw notFound('batch', batchId);
      throw redeemCodeErrors.batchAlreadyVoided(batchId);
    },
  };
}

export type BatchService = ReturnType<typeof createBatchService>;
