import type { Readable } from 'node:stream';
import type { RawBuilder } from 'kysely';
import type { Counter } from 'prom-client';
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { invalidRequest, notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import type { UploadFormat } from '../../platform/upload.js';
import type { AppService } from '../apps/index.js';
import { audienceErrors } from './audience.errors.js';
import * as repo from './audience.repo.js';
import { checkSegmentRule, checkTagRule, type Cond } from './audience.rule.js';
import type { AudienceListInput, AudienceView, CreateAudienceInput, RulePreviewInput, UpdateAudienceInput } from './audience.schemas.js';
import { explain } from './audience.sql.js';
import type { AudienceType } from './audience.tables.js';
import { uploadMembers } from './audience.upload.js';

export type AudienceService = ReturnType<typeof createAudienceService>;
export type EvaluationKind = 'member' | 'count' | 'preview';

export function toAudienceView(row: repo.AudienceRow): AudienceView {
  return {
    audience_id: row.audience_id,
    tenant_id: row.tenant_id,
    product_code: row.product_code,
    audience_name: row.audience_name,
    audience_type: row.audience_type,
    description: row.description,
    rule: (row.rule as Record<string, unknown> | null) ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
  };
}

/** Validates the rule for its type; 400 invalid_rule names the node (details.path). */
export function checkRule(type: AudienceType, rule: unknown): Cond | null {
  if (type === 'LIST') {
    if (rule !== undefined && rule !== null) throw invalidRequest('rule', 'a LIST audience has no rule; add members with POST /v1/audiences/{id}/members');
    return null;
  }
  if (rule === undefined || rule === null) {
    throw audienceErrors.ruleRequired(type);
  }
  return type === 'TAG' ? checkTagRule(rule) : checkSegmentRule(rule);
}

const visibilityOf = (actor: TenantActor): repo.Visibility => ({ tenantId: actor.tenantId, productCodes: actor.productCodes });

export interface AudienceServiceDeps {
  db: Database;
  clock: Clock;
  apps: AppService;
  evaluated: Counter<'audience_type' | 'operation'>;
  /** Ids per INSERT of a member upload (default 5,000). */
  uploadChunkSize?: number;
  /** Largest member upload body (default 256 MiB). */
  uploadMaxBytes?: number;
  /**
   * The live campaigns that use an audience (the campaigns module, passed in by app/services.ts
   * so this module does not import campaigns): listed in the 409 of a refused delete.
   */
  campaignsUsing?: (tenantId: string, audienceId: string, exec: Executor) => Promise<{ campaign_id: string; product_code: string }[]>;
}

/** How many campaign ids a refused delete lists (the count is always complete). */
const IN_USE_LIST_MAX = 100;

export function createAudienceService(deps: AudienceServiceDeps) {
  const { db, clock, apps } = deps;

  async function loadVisible(exec: Executor, actor: TenantActor, audienceId: string) {
    const row = await repo.findAudience(exec, visibilityOf(actor), audienceId);
    if (!row) throw notFound('audience', audienceId);
    return row;
  }

  /** The stored rule as conditions (it was checked on save). */
  function condOf(row: repo.AudienceRow): Cond {
    return checkRule(row.audience_type, row.rule)!;
  }

  function counted(row: repo.AudienceRow, operation: EvaluationKind) {
    deps.evaluated.inc({ audience_type: row.audience_type, operation });
  }

  async function membership(row: repo.AudienceRow, userId: string, exec: Executor) {
    counted(row, 'member');
    if (row.audience_type === 'LIST') {
      const member = await repo.isListMember(exec, row.tenant_id, row.audience_id, userId);
      return { member, reasons: [member ? 'in the list' : 'not in the list'] };
    }
    const cond = condOf(row);
    const values = await repo.leafValues(exec, row.tenant_id, userId, cond, clock.now());
    if (!values) return { member: false, reasons: ['no customer profile'] };
    const { value, reasons } = explain(cond, values);
    return { member: value, reasons };
  }

  const service = {
    async createAudience(actor: Actor, input: CreateAudienceInput, productHeader?: string, exec: Executor = db): Promise<AudienceView> {
      const tenant = requireTenant(actor);
      checkRule(input.audience_type, input.rule);
      const productCode = await apps.resolveProductCode(tenant, input.product_code, productHeader, exec);
      const now = clock.now();
      const row = await repo.insertAudience(exec, {
        tenant_id: tenant.tenantId,
        audience_id: newId('aud', now.getTime()),
        product_code: productCode,
        audience_name: input.audience_name,
        audience_type: input.audience_type,
        description: input.description ?? null,
        rule: input.rule ? JSON.stringify(input.rule) : null,
        created_at: now,
        updated_at: now,
      });
      return toAudienceView(row);
    },

    async getAudience(actor: Actor, audienceId: string, exec: Executor = db): Promise<AudienceView> {
      return toAudienceView(await loadVisible(exec, requireTenant(actor), audienceId));
    },

    async listAudiences(actor: Actor, query: AudienceListInput, productHeader?: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await repo.listAudiences(
        exec,
        visibilityOf(tenant),
        { audienceType: query.audience_type, productCode: query.product_code ?? productHeader, nameContains: query.name },
        page,
      );
      return { audiences: rows.map(toAudienceView), pagination: pagination(total, page) };
    },

    /** Changes name, description, product or rule; the type is fixed (409 audience_field_locked). */
    async updateAudience(actor: Actor, audienceId: string, input: UpdateAudienceInput, exec: Executor = db): Promise<AudienceView> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const current = await repo.findAudience(trx, visibilityOf(tenant), audienceId, { forUpdate: true });
        if (!current) throw notFound('audience', audienceId);
        if (input.audience_type !== undefined && input.audience_type !== current.audience_type) {
          throw audienceErrors.typeLocked(current.audience_type);
        }
        if (input.rule !== undefined) checkRule(current.audience_type, input.rule);
        if (input.product_code !== undefined && input.product_code !== current.product_code) {
          await apps.resolveProductCode(tenant, input.product_code, undefined, trx);
        }
        const row = await repo.updateAudience(trx, tenant.tenantId, audienceId, {
          ...(input.audience_name !== undefined && { audience_name: input.audience_name }),
          ...(input.description !== undefined && { description: input.description }),
          ...(input.product_code !== undefined && { product_code: input.product_code }),
          ...(input.rule !== undefined && { rule: input.rule ? JSON.stringify(input.rule) : null }),
          updated_at: clock.now(),
        });
        if (!row) throw notFound('audience', audienceId);
        return toAudienceView(row);
      });
    },

    /**
     * Deletes an audience and its list members; 409 audience_in_use while a campaign (any status,
     * ARCHIVED included) names it, listing those campaigns.
     */
    async deleteAudience(actor: Actor, audienceId: string, exec: Executor = db): Promise<void> {
      const tenant = requireTenant(actor);
      const v = visibilityOf(tenant);
      return inTransaction(exec, async (trx) => {
        // The row lock first: a campaign write naming this audience checks its key with a KEY
        // SHARE lock on this row, so it waits for us (and is then refused), and one that got in
        // before has committed by the time we hold the lock, so the lookup below sees it.
        const row = await repo.findAudience(trx, v, audienceId, { forUpdate: true });
        if (!row) throw notFound('audience', audienceId);
        const users = deps.campaignsUsing ? await deps.campaignsUsing(tenant.tenantId, audienceId, trx) : [];
        if (users.length > 0) {
          // A product-limited key learns how many campaigns hold it, but only its own products' ids.
          const visible = users.filter((c) => !v.productCodes || v.productCodes.includes(c.product_code)).map((c) => c.campaign_id);
          throw audienceErrors.inUse(audienceId, visible.slice(0, IN_USE_LIST_MAX), users.length);
        }
        if (!(await repo.deleteAudience(trx, v, audienceId))) throw notFound('audience', audienceId);
      });
    },

    /** Is the user in the audience, and why (the conditions that decided it). */
    async getMembership(actor: Actor, audienceId: string, userId: string, exec: Executor = db) {
      const row = await loadVisible(exec, requireTenant(actor), audienceId);
      return { audience_id: audienceId, user_id: userId, ...(await membership(row, userId, exec)) };
    },

    /**
     * For other modules (tasks, grants): the user's membership, evaluated now in one query.
     * Any product of the tenant; 404 audience_not_found when the tenant has no such audience.
     */
    async checkMember(tenantId: string, audienceId: string, userId: string, exec: Executor = db): Promise<{ member: boolean; reasons: string[] }> {
      const found = await service.findMembership(tenantId, audienceId, userId, exec);
      if (!found) throw notFound('audience', audienceId);
      return found;
    },

    /**
     * As checkMember, but null when the tenant has no such audience: a campaign stored before
     * references were checked may name one, and its caller (a trigger, a grant) decides what
     * that means for it instead of failing as a whole.
     */
    async findMembership(tenantId: string, audienceId: string, userId: string, exec: Executor = db): Promise<{ member: boolean; reasons: string[] } | null> {
      const row = await repo.findAudience(exec, { tenantId, productCodes: null }, audienceId);
      return row ? membership(row, userId, exec) : null;
    },

    /**
     * For other modules (outreach): the audience's members now as a subquery
     * (`select user_id ...`) to build one set-based statement on; null when the tenant has no such audience.
     */
    async membersSql(tenantId: string, audienceId: string, exec: Executor = db): Promise<RawBuilder<{ user_id: string }> | null> {
      const row = await repo.findAudience(exec, { tenantId, productCodes: null }, audienceId);
      if (!row) return null;
      counted(row, 'preview');
      return row.audience_type === 'LIST' ? repo.listMembersSql(tenantId, audienceId) : repo.matchingSql(tenantId, condOf(row), clock.now());
    },

    /** How many users the audience holds now: one COUNT query. */
    async countAudience(actor: Actor, audienceId: string, exec: Executor = db) {
      const row = await loadVisible(exec, requireTenant(actor), audienceId);
      counted(row, 'count');
      const now = clock.now();
      const count =
        row.audience_type === 'LIST'
          ? await repo.countMembers(exec, row.tenant_id, audienceId)
          : await repo.countMatching(exec, row.tenant_id, condOf(row), now);
      return { audience_id: audienceId, count, evaluated_at: now.toISOString() };
    },

    /**
     * A rule not yet saved, evaluated as a saved one is (the same checks and SQL): how many users
     * it matches now and the first of them, so an editor can show the audience before it exists.
     */
    async previewRule(actor: Actor, input: RulePreviewInput, exec: Executor = db) {
      const tenantId = requireTenant(actor).tenantId;
      const cond = checkRule(input.audience_type, input.rule)!;
      deps.evaluated.inc({ audience_type: input.audience_type, operation: 'count' });
      const now = clock.now();
      const limit = input.page_size ?? 10;
      const [count, rows] = await Promise.all([
        repo.countMatching(exec, tenantId, cond, now),
        limit > 0 ? repo.previewMatching(exec, tenantId, cond, now, undefined, limit) : Promise.resolve([]),
      ]);
      return {
        count,
        customers: rows.map((r) => ({ user_id: r.user_id, tags: r.tags, attributes: r.attributes })),
        evaluated_at: now.toISOString(),
      };
    },

    /** A page of the audience's users in user_id order (keyset: pass next_after as after). */
    async previewAudience(actor: Actor, audienceId: string, query: { page_size?: number | undefined; after?: string | undefined }, exec: Executor = db) {
      const row = await loadVisible(exec, requireTenant(actor), audienceId);
      counted(row, 'preview');
      const limit = query.page_size ?? 20;
      const rows =
        row.audience_type === 'LIST'
          ? await repo.previewMembers(exec, row.tenant_id, audienceId, query.after, limit)
          : await repo.previewMatching(exec, row.tenant_id, condOf(row), clock.now(), query.after, limit);
      return {
        audience_id: audienceId,
        customers: rows.map((r) => ({ user_id: r.user_id, tags: r.tags, attributes: r.attributes })),
        next_after: rows.length === limit ? rows[rows.length - 1]!.user_id : null,
      };
    },

    /** Adds user ids to a LIST audience (already present ones are counted, not duplicated). */
    async addMembers(actor: Actor, audienceId: string, userIds: string[], exec: Executor = db) {
      const row = await loadList(exec, requireTenant(actor), audienceId);
      const unique = [...new Set(userIds)];
      const added = await repo.addMembers(exec, row.tenant_id, audienceId, unique, clock.now());
      return { audience_id: audienceId, added, already_present: unique.length - added };
    },

    /**
     * Adds the ids of a streamed CSV / NDJSON upload to a LIST audience, chunk by chunk (see
     * audience.upload.ts); bad rows are reported by line and never stop the others.
     */
    async uploadMembers(actor: Actor, audienceId: string, format: UploadFormat, body: Readable, exec: Executor = db) {
      const row = await loadList(exec, requireTenant(actor), audienceId);
      const upload = { db: exec, clock, chunkSize: deps.uploadChunkSize ?? 5000, maxBytes: deps.uploadMaxBytes ?? 256 * 1024 * 1024 };
      return uploadMembers(upload, { tenantId: row.tenant_id, audienceId }, format, body);
    },

    async removeMembers(actor: Actor, audienceId: string, userIds: string[], exec: Executor = db) {
      const row = await loadList(exec, requireTenant(actor), audienceId);
      const removed = await repo.removeMembers(exec, row.tenant_id, audienceId, [...new Set(userIds)]);
      return { audience_id: audienceId, removed };
    },

    /** Erasure of a customer (called by the customers module inside its transaction). */
    forgetUser(exec: Executor, tenantId: string, userId: string): Promise<void> {
      return repo.forgetUser(exec, tenantId, userId);
    },
  };

  async function loadList(exec: Executor, actor: TenantActor, audienceId: string) {
    const row = await loadVisible(exec, actor, audienceId);
    if (row.audience_type !== 'LIST') {
      throw audienceErrors.notList(audienceId, row.audience_type);
    }
    return row;
  }

  return service;
}
