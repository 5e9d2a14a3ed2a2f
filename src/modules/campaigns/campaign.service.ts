import { Ajv } from 'ajv';
import type { Counter } from 'prom-client';
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { invalidRequest, notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { parseInstant } from '../../platform/time.js';
import type { AppService } from '../apps/index.js';
import { campaignErrors } from './campaign.errors.js';
import * as repo from './campaign.repo.js';
import type { CampaignListInput, CampaignView, CreateCampaignInput, UpdateCampaignInput } from './campaign.schemas.js';
import { type CampaignAction, campaignStatus, transitions } from './campaign.status.js';

export type CampaignService = ReturnType<typeof createCampaignService>;

const FORM_FIELDS_MAX_BYTES = 64 * 1024;
const METADATA_MAX_BYTES = 16 * 1024;
// Only used to check that form_fields is a well-formed JSON Schema (validateSchema), never to compile it.
const schemaChecker = new Ajv({ strict: false, validateSchema: true });

export function toCampaignView(row: repo.CampaignRow, now: Date): CampaignView {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    campaign_id: row.campaign_id,
    tenant_id: row.tenant_id,
    product_code: row.product_code,
    campaign_name: row.campaign_name,
    campaign_type: row.campaign_type as CampaignView['campaign_type'],
    description: row.description,
    start_time: iso(row.start_time),
    end_time: iso(row.end_time),
    audience_id: row.audience_id,
    form_fields: (row.form_fields as Record<string, unknown> | null) ?? null,
    metadata: (row.metadata as Record<string, unknown> | null) ?? {},
    status: campaignStatus(row, now),
    published_at: iso(row.published_at),
    paused_at: iso(row.paused_at),
    archived_at: iso(row.archived_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
    ...(row.created_by !== undefined && { created_by: row.created_by, updated_by: row.updated_by }),
  };
}

const visibilityOf = (actor: TenantActor): repo.Visibility => ({ tenantId: actor.tenantId, productCodes: actor.productCodes });

function checkWindow(start: Date | null, end: Date | null): void {
  if (start && end && end.getTime() <= start.getTime()) throw invalidRequest('end_time', 'must be after start_time');
}

function checkJsonSize(field: string, value: unknown, max: number): void {
  if (value === null || value === undefined) return;
  const size = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (size > max) throw invalidRequest(field, `is ${size} bytes; the limit is ${max}`, { limit_bytes: max });
}

function checkFormFields(value: Record<string, unknown> | null | undefined): void {
  if (value === null || value === undefined) return;
  checkJsonSize('form_fields', value, FORM_FIELDS_MAX_BYTES);
  if (value.type !== 'object') throw invalidRequest('form_fields', 'must be a JSON Schema whose root has "type": "object"');
  if (!schemaChecker.validateSchema(value)) {
    const first = schemaChecker.errors?.[0];
    throw invalidRequest('form_fields', `is not a valid JSON Schema (${first?.instancePath || '/'} ${first?.message ?? ''})`.trim());
  }
}

export function createCampaignService(deps: { db: Database; clock: Clock; apps: AppService; createdCounter: Counter<'campaign_type'> }) {
  const { db, clock, apps } = deps;

  async function loadVisible(exec: Executor, actor: TenantActor, campaignId: string, forUpdate = false) {
    const row = await repo.findCampaign(exec, visibilityOf(actor), campaignId, { forUpdate });
    if (!row) throw notFound('campaign', campaignId);
    return row;
  }

  const service = {
    /** Creates a campaign in DRAFT. */
    async createCampaign(actor: Actor, input: CreateCampaignInput, productHeader?: string, exec: Executor = db): Promise<CampaignView> {
      const tenant = requireTenant(actor);
      const start = parseInstant('start_time', input.start_time);
      const end = parseInstant('end_time', input.end_time);
      checkWindow(start, end);
      checkFormFields(input.form_fields);
      checkJsonSize('metadata', input.metadata, METADATA_MAX_BYTES);
      const productCode = await apps.resolveProductCode(tenant, input.product_code, productHeader, exec);
      const now = clock.now();
      const row = await repo.insertCampaign(exec, {
        tenant_id: tenant.tenantId,
        campaign_id: newId('cmp', now.getTime()),
        product_code: productCode,
        campaign_name: input.campaign_name,
        campaign_type: input.campaign_type,
        description: input.description ?? null,
        start_time: start,
        end_time: end,
        audience_id: input.audience_id ?? null,
        form_fields: input.form_fields ? JSON.stringify(input.form_fields) : null,
        metadata: JSON.stringify(input.metadata ?? {}),
        lifecycle_state: 'DRAFT',
        published_at: null,
        paused_at: null,
        archived_at: null,
        deleted_at: null,
        created_at: now,
        updated_at: now,
      });
      deps.createdCounter.inc({ campaign_type: row.campaign_type });
      return toCampaignView(row, now);
    },

    async getCampaign(actor: Actor, campaignId: string, exec: Executor = db): Promise<CampaignView> {
      const row = await loadVisible(exec, requireTenant(actor), campaignId);
      return toCampaignView(row, clock.now());
    },

    /** The caller's campaigns among `campaignIds`, in one statement (unknown or invisible ids are left out). */
    async getCampaigns(actor: Actor, campaignIds: readonly string[], exec: Executor = db): Promise<CampaignView[]> {
      const rows = await repo.findCampaigns(exec, visibilityOf(requireTenant(actor)), campaignIds);
      const now = clock.now();
      return rows.map((r) => toCampaignView(r, now));
    },

    /** Lists the caller's campaigns, newest first, filtered by status, type, product line, name and start/end time. */
    async listCampaigns(actor: Actor, query: CampaignListInput, productHeader?: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const now = clock.now();
      const { rows, total } = await repo.listCampaigns(
        exec,
        visibilityOf(tenant),
        {
          status: query.status,
          campaignType: query.campaign_type,
          productCode: query.product_code ?? productHeader,
          nameContains: query.name,
          startFrom: parseInstant('start_from', query.start_from) ?? undefined,
          startTo: parseInstant('start_to', query.start_to) ?? undefined,
          endFrom: parseInstant('end_from', query.end_from) ?? undefined,
          endTo: parseInstant('end_to', query.end_to) ?? undefined,
        },
        page,
        now,
      );
      return { campaigns: rows.map((r) => toCampaignView(r, now)), pagination: pagination(total, page) };
    },

    /**
     * Changes the given fields. Not once ARCHIVED or ENDED; product_code only while DRAFT (later
     * modules hang rewards and codes off the campaign's product line).
     */
    async updateCampaign(actor: Actor, campaignId: string, input: UpdateCampaignInput, exec: Executor = db): Promise<CampaignView> {
      const tenant = requireTenant(actor);
      const { tenant_id: _ignored, ...changes } = input;
      return inTransaction(exec, update);

      async function update(trx: Executor): Promise<CampaignView> {
        const now = clock.now();
        const current = await loadVisible(trx, tenant, campaignId, true);
        const status = campaignStatus(current, now);
        if (status === 'ARCHIVED' || status === 'ENDED') {
          throw campaignErrors.notEditable(status);
        }
        if (changes.product_code !== undefined && changes.product_code !== current.product_code) {
          if (current.lifecycle_state !== 'DRAFT') {
            throw campaignErrors.productCodeLocked(status);
          }
          await apps.resolveProductCode(tenant, changes.product_code, undefined, trx);
        }
        const start = changes.start_time !== undefined ? parseInstant('start_time', changes.start_time) : current.start_time;
        const end = changes.end_time !== undefined ? parseInstant('end_time', changes.end_time) : current.end_time;
        checkWindow(start, end);
        checkFormFields(changes.form_fields);
        checkJsonSize('metadata', changes.metadata, METADATA_MAX_BYTES);

        const row = await repo.updateCampaign(trx, visibilityOf(tenant), campaignId, {
          ...(changes.campaign_name !== undefined && { campaign_name: changes.campaign_name }),
          ...(changes.campaign_type !== undefined && { campaign_type: changes.campaign_type }),
          ...(changes.product_code !== undefined && { product_code: changes.product_code }),
          ...(changes.description !== undefined && { description: changes.description }),
          ...(changes.audience_id !== undefined && { audience_id: changes.audience_id }),
          ...(changes.start_time !== undefined && { start_time: start }),
          ...(changes.end_time !== undefined && { end_time: end }),
          ...(changes.form_fields !== undefined && { form_fields: changes.form_fields ? JSON.stringify(changes.form_fields) : null }),
          ...(changes.metadata !== undefined && { metadata: JSON.stringify(changes.metadata ?? {}) }),
          updated_at: now,
        });
        if (!row) throw notFound('campaign', campaignId);
        return toCampaignView(row, now);
      }
    },

    /** publish / pause / resume / archive; 409 invalid_campaign_transition when not allowed now. */
    async transitionCampaign(actor: Actor, campaignId: string, action: CampaignAction, exec: Executor = db): Promise<CampaignView> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const row = await repo.applyTransition(exec, visibilityOf(tenant), campaignId, action, now);
      if (row) return toCampaignView(row, now);

      const current = await loadVisible(exec, tenant, campaignId);
      const status = campaignStatus(current, now);
      if (action === 'publish' && status === 'DRAFT') {
        // Allowed from DRAFT, so the only reason left is a window that is already over.
        throw campaignErrors.windowPassed(current.end_time?.toISOString() ?? null);
      }
      throw campaignErrors.invalidTransition(action, status, transitions[action].from);
    },

    /** Deletes a DRAFT or ARCHIVED campaign (soft: it disappears from the API). */
    async deleteCampaign(actor: Actor, campaignId: string, exec: Executor = db): Promise<void> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const deleted = await repo.softDeleteCampaign(exec, visibilityOf(tenant), campaignId, now);
      if (deleted) return;
      const current = await loadVisible(exec, tenant, campaignId);
      throw campaignErrors.notDeletable(campaignStatus(current, now));
    },

    /** For other modules: the campaign of a tenant (any status) or campaign_not_found. */
    async findCampaignForTenant(tenantId: string, campaignId: string, exec: Executor = db) {
      const row = await repo.findCampaign(exec, { tenantId, productCodes: null }, campaignId);
      if (!row) throw notFound('campaign', campaignId);
      return row;
    },

    /**
     * For other modules: the campaign if it is ACTIVE now, else campaign_not_active (409) or
     * campaign_not_found (404).
     */
    async requireActiveCampaign(tenantId: string, campaignId: string, exec: Executor = db) {
      const row = await service.findForGrant(tenantId, campaignId, exec);
      if (!row) throw notFound('campaign', campaignId);
      service.assertActive(row);
      return row;
    },

    /**
     * For the audiences module (wired in app/services.ts): the live campaigns that use an
     * audience, any status, ARCHIVED included; an audience in use cannot be deleted.
     */
    campaignsUsingAudience(tenantId: string, audienceId: string, exec: Executor = db): Promise<{ campaign_id: string; product_code: string }[]> {
      return repo.findCampaignsUsingAudience(exec, tenantId, audienceId);
    },

    /** The campaign row a grant decides on (any product of the tenant), or undefined. */
    findForGrant(tenantId: string, campaignId: string, exec: Executor = db) {
      return repo.findCampaign(exec, { tenantId, productCodes: null }, campaignId);
    },

    /** 409 campaign_not_active unless `row` is ACTIVE now. */
    assertActive(row: repo.CampaignRow): void {
      const status = campaignStatus(row, clock.now());
      if (status !== 'ACTIVE') {
        throw campaignErrors.notActive(row.campaign_id, status);
      }
    },
  };
  return service;
}
