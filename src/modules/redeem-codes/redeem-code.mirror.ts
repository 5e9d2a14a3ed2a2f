/**
 * The Redis fast path of redemptions (Redis + Lua in front of the database). The state
 * of every code is mirrored in Redis per tenant, so a Lua pre-check can turn away unknown, used-up,
 * expired, voided and foreign-assigned codes without a database round trip. The mirror only ever
 * refuses; a code it thinks is fine still goes through the database transaction, which decides.
 *
 * Why a refusal from the mirror is safe:
 * - Live writes are monotone (MERGE_*_LUA) and happen after the database committed the change, so
 *   the mirror is never "more used" than the database: it lags towards accepting, never refusing.
 * - "Unknown" needs proof that the mirror holds every code of the tenant: the code hash has exactly
 *   as many fields as the database has codes (a per-tenant count, read at most every
 *   `rosterReloadMs`), and no writer holds a pending token. A writer takes its token BEFORE its
 *   codes can commit and drops it after loading them, so codes committed after the count was read
 *   are covered by the token, and once it is gone by the count mismatch. A missing key, a flushed
 *   or restarted Redis, a crash between commit and load: all make the counts differ, and the
 *   answer is "ask the database".
 * - Redis failing (or absent) only means every redemption asks the database.
 *
 * Drift from outside (keys edited by hand, a restore) is repaired by reconcile
 * (redeem-code.reconcile.ts), where the database wins.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Counter } from 'prom-client';
import type { Database, Executor } from '../../db/client.js';
import { ensureRedisConnected } from '../../platform/redis.js';
import type { BatchRow, CodeWithBatch } from './redeem-code.repo.js';
import * as repo from './redeem-code.repo.js';
import { CHECK_LUA, MERGE_BATCHES_LUA, MERGE_CODES_LUA } from './redeem-code.mirror-lua.js';
import type { CodeType } from './redeem-code.rules.js';
import type { StoredCodeStatus } from './redeem-code.tables.js';
import { sql } from 'kysely';

export interface MirrorSettings {
  /** Prefix of every key (the platform's `data.redis.key_prefix`). */
  keyPrefix: string;
  /** How old the per-tenant code count may get before it is read again (background), in ms. */
  rosterReloadMs: number;
  /** How long a writer's pending token blocks "unknown" at most (a crashed writer's token expires). */
  pendingTtlMs: number;
  /** Codes per page when loading a batch from the database. */
  loadPageSize: number;
}

/** What the fast path did with a redemption, for marketing_redeem_code_fast_path_total. */
export type FastPathResult =
  | 'passed'
  | 'miss'
  | 'unavailable'
  | 'refused_unknown'
  | 'refused_used'
  | 'refused_expired'
  | 'refused_voided'
  | 'refused_not_assigned'
  | 'refused_product';

export interface MirrorMetrics {
  fastPath: Counter<'result'>;
  /** Mirror entries written by reconcile because they differed from the database, by kind. */
  fixed: Counter<'kind'>;
}

export interface MirroredBatch {
  status: 'A' | 'V';
  expiresAt: number | null;
  campaignId: string;
  productCode: string;
  codeType: CodeType;
  prefix: string;
  groupSize: number | null;
  maxUses: number;
  applicableProducts: string[] | null;
  /** Absent from entries written before it was mirrored. */
  rewardId: string | null;
}

export interface MirroredCode {
  status: 'A' | 'R' | 'V';
  uses: number;
  maxUses: number;
  batchId: string;
  /** The code's position in its batch (its key); null in entries written before it was mirrored. */
  seq: number | null;
  assignedUserId: string | null;
}

/** One CHECK_LUA step for a caller's script: its KEYS and ARGV, and how to read its answer. */
export interface PreparedProbe {
  keys: string[];
  args: (string | number)[];
  settle(out: string[]): Probe;
}

export type Probe = { kind: 'found'; code: string; state: MirroredCode; batch: MirroredBatch } | { kind: 'unknown' } | { kind: 'miss' } | { kind: 'unavailable' };

const STATUS_CHAR: Record<StoredCodeStatus, MirroredCode['status']> = { ACTIVE: 'A', REDEEMED: 'R', VOIDED: 'V' };
/** A mirrored status as the database spells it. */
export const STORED_STATUS: Record<MirroredCode['status'], StoredCodeStatus> = { A: 'ACTIVE', R: 'REDEEMED', V: 'VOIDED' };

type CodeFields = Pick<CodeWithBatch, 'code' | 'status' | 'uses' | 'max_uses' | 'batch_id' | 'seq' | 'assigned_user_id'>;
type BatchFields = Pick<BatchRow, 'campaign_id' | 'reward_id' | 'product_code' | 'code_type' | 'prefix' | 'group_size' | 'expires_at' | 'max_uses' | 'applicable_products'> & {
  status: BatchRow['status'];
};

export const codeValue = (c: CodeFields) => `${STATUS_CHAR[c.status]}|${c.uses}|${c.max_uses}|${c.batch_id}#${c.seq}|${c.assigned_user_id ?? ''}`;

export function batchValue(b: BatchFields): string {
  const info = {
    e: b.expires_at ? b.expires_at.getTime() : null,
    c: b.campaign_id,
    p: b.product_code,
    t: b.code_type,
    x: b.prefix,
    g: b.group_size,
    m: b.max_uses,
    a: b.applicable_products,
    r: b.reward_id,
  };
  return `${b.status === 'VOIDED' ? 'V' : 'A'}|${JSON.stringify(info)}`;
}

export function parseCode(v: string): MirroredCode | null {
  const m = /^([ARV])\|(\d+)\|(\d+)\|([^|#]*)(?:#(\d+))?\|(.*)$/s.exec(v);
  if (!m) return null;
  return { status: m[1] as MirroredCode['status'], uses: Number(m[2]), maxUses: Number(m[3]), batchId: m[4]!, seq: m[5] ? Number(m[5]) : null, assignedUserId: m[6] || null };
}

export function parseBatch(v: string): MirroredBatch | null {
  try {
    const i = JSON.parse(v.slice(2)) as { e: number | null; c: string; p: string; t: CodeType; x: string; g: number | null; m: number; a: string[] | null; r?: string };
    return { status: v[0] === 'V' ? 'V' : 'A', expiresAt: i.e, campaignId: i.c, productCode: i.p, codeType: i.t, prefix: i.x, groupSize: i.g, maxUses: i.m, applicableProducts: i.a, rewardId: i.r ?? null };
  } catch {
    return null;
  }
}

type Script = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

function defineScripts(redis: Redis) {
  const defs = { mhCodeCheck: CHECK_LUA, mhCodeMerge: MERGE_CODES_LUA, mhBatchMerge: MERGE_BATCHES_LUA };
  for (const [name, lua] of Object.entries(defs)) if (!(name in redis)) redis.defineCommand(name, { lua });
  const get = (name: keyof typeof defs) => (redis as unknown as Record<string, Script>)[name]!.bind(redis);
  return { check: get('mhCodeCheck'), mergeCodes: get('mhCodeMerge'), mergeBatches: get('mhBatchMerge') };
}

/** The per-tenant keys; `{tenant}` keeps them in one Redis Cluster slot for the multi-key scripts. */
export const mirrorKeys = (prefix: string, tenantId: string) => {
  const base = `${prefix}rc:{${tenantId}}`;
  return { codes: `${base}:codes`, batches: `${base}:batches`, pending: `${base}:pending` };
};

/** The number of codes a tenant has in the database (the batches' committed `generated`). */
export async function countTenantCodes(db: Executor, tenantId: string): Promise<number> {
  const r = await db
    .selectFrom('redeem_code_batch')
    .select(sql<string>`coalesce(sum(generated), 0)`.as('n'))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

const WRITE_CHUNK = 2000;

export function createCodeMirror(deps: {
  redis: Redis | null;
  db: Database;
  settings: MirrorSettings;
  metrics: MirrorMetrics;
  log?: { warn: (err: unknown, message: string) => void; info: (message: string) => void };
  /** After a Redis failure, skip Redis this long (default 1 s), as the rate limiter does. */
  retryRedisAfterMs?: number;
}) {
  const { redis, db, settings, metrics } = deps;
  const scripts = redis ? defineScripts(redis) : null;
  const retryAfter = deps.retryRedisAfterMs ?? 1000;
  let skipUntil = 0;
  let failing = false;
  const keys = (tenantId: string) => mirrorKeys(settings.keyPrefix, tenantId);

  /** Runs `fn` against Redis, or returns `fallback` when there is none or it is failing (cool-down). */
  async function withRedis<T>(fn: (r: Redis, s: NonNullable<typeof scripts>) => Promise<T>, fallback: T): Promise<T> {
    if (!redis || !scripts || performance.now() < skipUntil) return fallback;
    try {
      await ensureRedisConnected(redis);
      const out = await fn(redis, scripts);
      if (failing) {
        failing = false;
        deps.log?.info('redeem-code mirror: Redis answers again');
      }
      return out;
    } catch (err) {
      redisFailed(err);
      return fallback;
    }
  }

  function redisFailed(err: unknown): void {
    skipUntil = performance.now() + retryAfter;
    if (!failing) {
      failing = true;
      deps.log?.warn(err, 'redeem-code mirror: Redis failed; redemptions ask the database until it answers again');
    }
  }

  /** CHECK_LUA's answer as a Probe. */
  function toProbe(out: string[]): Probe {
    if (failing) {
      failing = false;
      deps.log?.info('redeem-code mirror: Redis answers again');
    }
    if (out[0] === 'unknown') return { kind: 'unknown' };
    if (out[0] !== 'found') return { kind: 'miss' };
    const state = parseCode(out[2]!);
    const batch = parseBatch(out[3]!);
    if (!state || !batch) return { kind: 'miss' };
    return { kind: 'found', code: out[1]!, state, batch };
  }

  /** The probe's KEYS and ARGV (CHECK_LUA), or null when Redis is absent or cooling down. */
  async function prepareProbe(tenantId: string, forms: string[]): Promise<PreparedProbe | null> {
    if (!redis || performance.now() < skipUntil) return null;
    // Write-backs still waiting for their turn go first: one connection keeps commands in
    // order, so a probe never overtakes a use whose answer has already been sent.
    if (flushing) flush();
    const expected = await expectedCodes(tenantId);
    const k = keys(tenantId);
    return { keys: [k.codes, k.batches, k.pending], args: [Date.now(), expected, ...forms], settle: toProbe };
  }

  // Per-tenant code counts from the database: fresh for rosterReloadMs, then refreshed in the
  // background while the old value serves for up to 5x as long; older than that, the request waits.
  const roster = new Map<string, { codes: number; at: number }>();
  const rosterLoading = new Map<string, Promise<number>>();
  function loadRoster(tenantId: string): Promise<number> {
    let p = rosterLoading.get(tenantId);
    if (!p) {
      // Read before the value is used, so `at` is no later than the moment the count was true.
      const at = performance.now();
      p = countTenantCodes(db, tenantId)
        .then((codes) => {
          if (roster.size >= 10_000 && !roster.has(tenantId)) roster.delete(roster.keys().next().value!);
          roster.set(tenantId, { codes, at });
          return codes;
        })
        .finally(() => rosterLoading.delete(tenantId));
      rosterLoading.set(tenantId, p);
    }
    return p;
  }
  async function expectedCodes(tenantId: string): Promise<number> {
    const entry = roster.get(tenantId);
    const age = entry ? performance.now() - entry.at : Infinity;
    if (entry && age < settings.rosterReloadMs) return entry.codes;
    if (entry && age < Math.max(5 * settings.rosterReloadMs, 1)) {
      loadRoster(tenantId).catch(() => undefined);
      return entry.codes;
    }
    return loadRoster(tenantId).catch(() => -1);
  }

  async function writeCodes(tenantId: string, rows: readonly CodeFields[]): Promise<void> {
    if (rows.length === 0) return;
    await withRedis(async (_r, s) => {
      for (let i = 0; i < rows.length; i += WRITE_CHUNK) {
        const args: string[] = [];
        for (const row of rows.slice(i, i + WRITE_CHUNK)) args.push(row.code, codeValue(row));
        await s.mergeCodes(1, keys(tenantId).codes, ...args);
      }
    }, undefined);
  }

  // Write-backs of redemptions that commit close together go to Redis in one call: the ones queued
  // while the event loop is busy are flushed together on the next turn (one round trip, not one
  // per redemption). A redemption answers without waiting for its write-back (the database has
  // decided; the mirror only saves later attempts a round trip), and probe() flushes what is
  // still queued before it asks, so no later attempt reads the mirror from before the use.
  const queued = new Map<string, { rows: CodeFields[]; done: (() => void)[] }>();
  let flushing = false;
  function flush(): void {
    flushing = false;
    const work = [...queued];
    queued.clear();
    for (const [tenantId, q] of work) void writeCodes(tenantId, q.rows).finally(() => q.done.forEach((d) => d()));
  }
  function queueCode(tenantId: string, row: CodeFields): Promise<void> {
    let q = queued.get(tenantId);
    if (!q) queued.set(tenantId, (q = { rows: [], done: [] }));
    q.rows.push(row);
    const written = new Promise<void>((resolve) => q.done.push(resolve));
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
    return written;
  }

  const writeBatch = (tenantId: string, batchId: string, b: BatchFields) =>
    withRedis((_r, s) => s.mergeBatches(1, keys(tenantId).batches, batchId, batchValue(b)), undefined);

  return {
    enabled: redis !== null,
    keys,
    withRedis,
    count: (result: FastPathResult) => metrics.fastPath.inc({ result }),

    /** Looks the typed input's stored forms up in Redis (one Lua call). Never throws. */
    async probe(tenantId: string, forms: string[]): Promise<Probe> {
      const prepared = await prepareProbe(tenantId, forms);
      if (!prepared) return { kind: 'unavailable' };
      const out = await withRedis((_r, s) => s.check(3, ...prepared.keys, ...prepared.args) as Promise<string[]>, null);
      return out ? prepared.settle(out) : { kind: 'unavailable' };
    },

    /**
     * The probe as a step of a caller's own Lua call that embeds CHECK_LUA (the redemption gate);
     * null when Redis is absent or cooling down. A failure of that call goes to noteRedisFailure.
     */
    prepareProbe,
    noteRedisFailure: redisFailed,

    /**
     * Takes a pending token before codes of this tenant may commit: while it is held (at most
     * pendingTtlMs) the mirror answers no "unknown" for the tenant. Returns its release.
     */
    async hold(tenantId: string): Promise<() => Promise<void>> {
      const token = randomUUID();
      const k = keys(tenantId).pending;
      const held = await withRedis(async (r) => {
        await r.hset(k, token, String(Date.now() + settings.pendingTtlMs));
        return true;
      }, false);
      return async () => {
        if (held) await withRedis((r) => r.hdel(k, token), 0);
      };
    },

    /**
     * After a commit: the code's state as the database has it now (monotone; best effort), and its
     * batch's entry unless `batch: false` (a redemption changes only the code).
     */
    async noteRow(row: CodeWithBatch, options: { batch?: boolean } = {}): Promise<void> {
      if (options.batch !== false) await writeBatch(row.tenant_id, row.batch_id, { ...row, status: row.batch_status });
      await queueCode(row.tenant_id, row);
    },

    /** After a commit (a batch voided): the batch's entry as the database has it. Best effort. */
    async refreshBatch(tenantId: string, batchId: string): Promise<void> {
      if (!redis || performance.now() < skipUntil) return;
      const batch = await repo.findBatch(db, { tenantId, productCodes: null }, batchId).catch(() => undefined);
      if (batch) await writeBatch(tenantId, batchId, batch);
    },

    /** After a commit (a code assigned or voided): the code's entry as the database has it. Best effort. */
    async refreshCode(tenantId: string, codeId: string): Promise<void> {
      if (!redis || performance.now() < skipUntil) return;
      const dot = codeId.lastIndexOf('.');
      const row = await repo.findCodeByKey(db, tenantId, codeId.slice(0, dot), Number(codeId.slice(dot + 1))).catch(() => undefined);
      if (row) await this.noteRow(row);
    },

    /** Copies a batch's committed codes after seq `afterSeq` into the mirror, page by page. Returns how many. */
    async loadBatch(tenantId: string, batchId: string, afterSeq = 0): Promise<number> {
      if (!redis || performance.now() < skipUntil) return 0;
      const batch = await repo.findBatch(db, { tenantId, productCodes: null }, batchId);
      if (!batch) return 0;
      await writeBatch(tenantId, batchId, batch);
      let after = afterSeq;
      let loaded = 0;
      for (;;) {
        const page = await repo.pageOfBatch(db, tenantId, batchId, after, settings.loadPageSize);
        await writeCodes(tenantId, page.map((c) => ({ ...c, max_uses: batch.max_uses })));
        loaded += page.length;
        if (page.length < settings.loadPageSize) return loaded;
        after = page.at(-1)!.seq;
      }
    },
  };
}

export type CodeMirror = ReturnType<typeof createCodeMirror>;

/**
 * Runs `create` (which commits a batch's codes) under a pending token, then loads what it made
 * into the mirror. Used by the HTTP route and the CLI around createBatch; best effort throughout.
 */
export async function mirroredCreate<T extends { batch: { batch_id: string; tenant_id: string }; async: boolean }>(
  mirror: CodeMirror | undefined,
  tenantId: string,
  create: () => Promise<T>,
): Promise<T> {
  if (!mirror?.enabled) return create();
  const release = await mirror.hold(tenantId);
  try {
    const result = await create();
    if (!result.async) await mirror.loadBatch(tenantId, result.batch.batch_id).catch(() => 0);
    return result;
  } finally {
    await release();
  }
}
