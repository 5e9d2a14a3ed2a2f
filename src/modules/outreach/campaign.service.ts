import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import * as repo from './campaign.repo.js';
import { type CampaignDraft, checkContent, checkSchedule, checkTargets, checkTimes, nextRunAt } from './campaign.checks.js';
import type { CampaignListInput, CampaignView, CreateCampaignInput, UpdateCampaignInput } from './campaign.schemas.js';
import { outreachErrors } from './outreach.errors.js';
import * as providerRepo from './provider.repo.js';
import * as templateRepo from './template.repo.js';
import type { TemplateChannel } from './template.render.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toCampaignView(row: repo.CampaignRow): CampaignView {
  return {
    campaign_id: row.campaign_id,
    tenant_id: row.tenant_id,
    name: row.name,
    channel: row.channel,
    status: row.status,
    target_tags: row.target_tags,
    target_segment_id: row.target_segment_id,
    template_id: row.template_id,
    content: row.content ?? null,
    defaults: row.defaults ?? {},
    link_url: row.link_url,
    variants: row.variants ?? null,
    ab_winner: row.ab_winner ?? null,
    provider_id: row.provider_id,
    reward_id: row.reward_id,
    goal_event_type: row.goal_event_type,
    conversion_window_hours: row.conversion_window_hours,
    frequency_cap: row.frequency_cap ?? null,
    quiet_hours: row.quiet_hours ?? null,
    transactional: row.transactional,
    start_time: iso(row.start_time),
    end_time: iso(row.end_time),
    schedule: row.schedule_cron ? { cron: row.schedule_cron, time_zone: row.schedule_time_zone ?? 'UTC' } : null,
    next_run_at: iso(row.next_run_at),
    actual_start_time: iso(row.actual_start_time),
    actual_end_time: iso(row.actual_end_time),
    created_by: row.created_by,
    updated_by: row.updated_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** The stored row as the draft the checks read (for an update: current values under the change). */
function draftOf(row: repo.CampaignRow): CampaignDraft {
  const v = toCampaignView(row);
  return {
    ...v,
    channel: row.channel as TemplateChannel,
    content: v.content as CampaignDraft['content'],
    defaults: v.defaults as CampaignDraft['defaults'],
    variants: v.variants as CampaignDraft['variants'],
    ab_winner: v.ab_winner as CampaignDraft['ab_winner'],
    frequency_cap: v.frequency_cap as CampaignDraft['frequency_cap'],
    quiet_hours: v.quiet_hours as CampaignDraft['quiet_hours'],
    schedule: v.schedule as CampaignDraft['schedule'],
  };
}

export interface CampaignServiceDeps {
  db: Database;
  clock: Clock;
  /** The audiences module: a 404 for an audience the tenant does not have. */
  audienceExists: (actor: Actor, audienceId: string, exec: Executor) => Promise<unknown>;
  /** The rewards module: a 404 for a reward the tenant does not have. */
  rewardExists: (actor: Actor, rewardId: string, exec: Executor) => Promise<unknown>;
}

export type OutreachCampaignService = ReturnType<typeof createOutreachCampaignService>;

export function createOutreachCampaignService(deps: CampaignServiceDeps) {
  const { db, clock } = deps;

  /** Everything a campaign names must exist now and fit its channel. */
  async function checkReferences(actor: Actor, tenantId: string, d: CampaignDraft, exec: Executor) {
    checkTargets(d);
    checkContent(d);
    checkTimes(d);
    if (d.schedule) checkSchedule(d.schedule, clock.now());
    const templateIds = [d.template_id, ...(d.variants ?? []).map((v) => v.template_id)].filter((id): id is string => Boolean(id));
    for (const id of templateIds) {
      const t = await templateRepo.findTemplate(exec, tenantId, id);
      if (!t) throw outreachErrors.templateNotFound(id);
      if (t.channel !== d.channel) throw outreachErrors.channelMismatch('template_id', d.channel, t.channel);
    }
    if (d.provider_id) {
      const p = await providerRepo.findProvider(exec, tenantId, d.provider_id);
      if (!p) throw outreachErrors.providerNotFound(d.provider_id);
      if (p.channel !== d.channel) throw outreachErrors.channelMismatch('provider_id', d.channel, p.channel);
    }
    if (d.target_segment_id) await deps.audienceExists(actor, d.target_segment_id, exec);
    if (d.reward_id) await deps.rewardExists(actor, d.reward_id, exec);
  }

  function columnsOf(d: CampaignDraft, now: Date) {
    const next = nextRunAt(d, now);
    return {
      name: d.name,
      target_tags: d.target_tags ?? [],
      target_segment_id: d.target_segment_id ?? null,
      template_id: d.template_id ?? null,
      content: d.content ? JSON.stringify(d.content) : null,
      defaults: JSON.stringify(d.defaults ?? {}),
      link_url: d.link_url ?? null,
      variants: d.variants ? JSON.stringify(d.variants) : null,
      ab_winner: d.ab_winner ? JSON.stringify(d.ab_winner) : null,
      provider_id: d.provider_id ?? null,
      reward_id: d.reward_id ?? null,
      goal_event_type: d.goal_event_type ?? null,
      conversion_window_hours: d.conversion_window_hours ?? 72,
      frequency_cap: d.frequency_cap ? JSON.stringify(d.frequency_cap) : null,
      quiet_hours: d.quiet_hours ? JSON.stringify(d.quiet_hours) : null,
      transactional: d.transactional ?? false,
      start_time: d.start_time ? new Date(d.start_time) : null,
      end_time: d.end_time ? new Date(d.end_time) : null,
      schedule_cron: d.schedule?.cron ?? null,
      schedule_time_zone: d.schedule ? (d.schedule.time_zone ?? 'UTC') : null,
      next_run_at: next,
      status: next ? 'scheduled' : 'draft',
    };
  }

  return {
    /** Draft, or scheduled when the service will start it by itself (a future start_time or a cron schedule). */
    async createCampaign(actor: Actor, input: CreateCampaignInput, exec: Executor = db): Promise<CampaignView> {
      const tenant = requireTenant(actor);
      const d = input as CampaignDraft;
      await checkReferences(actor, tenant.tenantId, d, exec);
      const now = clock.now();
      const row = await repo.insertCampaign(exec, {
        tenant_id: tenant.tenantId,
        campaign_id: newId('oc', now.getTime()),
        channel: input.channel,
        ...columnsOf(d, now),
        created_by: tenant.keyId,
        updated_by: tenant.keyId,
        created_at: now,
        updated_at: now,
      });
      return toCampaignView(row);
    },

    async getCampaign(actor: Actor, campaignId: string, exec: Executor = db): Promise<CampaignView> {
      const row = await repo.findCampaign(exec, requireTenant(actor).tenantId, campaignId);
      if (!row) throw outreachErrors.campaignNotFound(campaignId);
      return toCampaignView(row);
    },

    async listCampaigns(actor: Actor, query: CampaignListInput, exec: Executor = db) {
      const page = toPage(query);
      const { rows, total } = await repo.listCampaigns(exec, requireTenant(actor).tenantId, query, { limit: page.pageSize, offset: page.offset });
      return { campaigns: rows.map(toCampaignView), pagination: pagination(total, page) };
    },

    /** Only before it starts (draft, scheduled); the change is checked as a whole campaign. */
    async updateCampaign(actor: Actor, campaignId: string, input: UpdateCampaignInput, exec: Executor = db): Promise<CampaignView> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const row = await repo.findCampaign(trx, tenant.tenantId, campaignId, { forUpdate: true });
        if (!row) throw outreachErrors.campaignNotFound(campaignId);
        if (row.status === 'archived') throw outreachErrors.archived();
        if (row.status !== 'draft' && row.status !== 'scheduled') throw outreachErrors.notEditable(row.status);
        const d: CampaignDraft = { ...draftOf(row), ...(input as Partial<CampaignDraft>) };
        // A new way of giving content replaces the others.
        if (input.content != null) Object.assign(d, { template_id: null, variants: null });
        if (input.template_id != null) Object.assign(d, { content: null, variants: null });
        if (input.variants != null) Object.assign(d, { content: null, template_id: null });
        await checkReferences(actor, tenant.tenantId, d, trx);
        const now = clock.now();
        const updated = await repo.updateCampaign(trx, tenant.tenantId, campaignId, { ...columnsOf(d, now), updated_by: tenant.keyId, updated_at: now });
        return toCampaignView(updated);
      });
    },

    /** Archived: never sent again, kept with its runs and records. Refused while a run is in progress. */
    async archiveCampaign(actor: Actor, campaignId: string, liveRun: (trx: Executor) => Promise<string | null>, exec: Executor = db): Promise<CampaignView> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const row = await repo.findCampaign(trx, tenant.tenantId, campaignId, { forUpdate: true });
        if (!row) throw outreachErrors.campaignNotFound(campaignId);
        if (row.status === 'archived') return toCampaignView(row);
        const running = await liveRun(trx);
        if (running) throw outreachErrors.running(running);
        const now = clock.now();
        const updated = await repo.updateCampaign(trx, tenant.tenantId, campaignId, {
          status: 'archived',
          next_run_at: null,
          updated_by: tenant.keyId,
          updated_at: now,
        });
        return toCampaignView(updated);
      });
    },
  };
}
