import type { RawBuilder } from 'kysely';
import { sql } from 'kysely';
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { taggedCustomersSql } from '../customers/index.js';
import * as campaignRepo from './campaign.repo.js';
import { outreachErrors } from './outreach.errors.js';
import type { ProviderService } from './provider.service.js';
import { cancelOpen, fanOut, hasOpenRecords, type VariantCell } from './record.statements.js';
import * as repo from './run.repo.js';
import { counterRows, splitByVariant } from './run.stats.js';
import type { RunSnapshot } from './send.prepare.js';
import * as settingsRepo from './settings.repo.js';
import * as templateRepo from './template.repo.js';
import type { TemplateChannel } from './template.render.js';
import { literalLinks } from './tracking.js';

export type ExecutionType = 'actual' | 'simulation';

export interface RunServiceDeps {
  db: Database;
  clock: Clock;
  providers: ProviderService;
  /** The audiences module: an audience's members as a subquery (null when the tenant has none). */
  audienceMembers: (tenantId: string, audienceId: string, exec: Executor) => Promise<RawBuilder<{ user_id: string }> | null>;
  /** Rate assumed by a simulation when the channel has no provider yet. */
  simulationRate?: number;
}

export type RunService = ReturnType<typeof createRunService>;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function textsOf(content: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') out.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(content);
  return out;
}

export function createRunService(deps: RunServiceDeps) {
  const { db, clock, providers } = deps;

  async function contentOf(exec: Executor, tenantId: string, content: unknown, templateId: string | null) {
    if (templateId) {
      const t = await templateRepo.findTemplate(exec, tenantId, templateId);
      if (!t) throw outreachErrors.templateNotFound(templateId);
      return { content: t.content as Record<string, unknown>, defaults: (t.defaults ?? {}) as Record<string, string | number | boolean> };
    }
    return { content: content as Record<string, unknown>, defaults: {} };
  }

  /** Everything a run needs, fixed now (content resolved from templates, provider, limits). */
  async function snapshotOf(exec: Executor, c: campaignRepo.CampaignRow, type: ExecutionType, now: Date): Promise<RunSnapshot> {
    const contents: Record<string, Record<string, unknown>> = {};
    let defaults: Record<string, string | number | boolean> = {};
    const variants = (c.variants ?? null) as { key: string; percent: number; content?: unknown; template_id?: string }[] | null;
    if (variants) {
      for (const v of variants) {
        const r = await contentOf(exec, c.tenant_id, v.content, v.template_id ?? null);
        contents[v.key] = r.content;
        defaults = { ...r.defaults, ...defaults };
      }
    } else {
      const r = await contentOf(exec, c.tenant_id, c.content, c.template_id);
      contents[''] = r.content;
      defaults = r.defaults;
    }
    defaults = { ...defaults, ...((c.defaults ?? {}) as Record<string, string | number | boolean>) };
    let provider: { provider_id: string; kind: string; rate_per_second: number } | null = null;
    try {
      provider = await providers.resolve(c.tenant_id, c.channel, c.provider_id, exec);
    } catch (err) {
      if (type === 'actual') throw err;
    }
    const settings = await settingsRepo.findSettings(exec, c.tenant_id);
    const ab = (c.ab_winner ?? null) as { metric: string; test_hours: number } | null;
    const links = [...(c.link_url ? [c.link_url] : []), ...literalLinks(Object.values(contents).flatMap(textsOf))];
    return {
      channel: c.channel as TemplateChannel,
      campaign_name: c.name,
      provider_id: provider?.provider_id ?? null,
      provider_kind: provider?.kind ?? null,
      rate_per_second: provider?.rate_per_second ?? deps.simulationRate ?? 10,
      contents,
      defaults,
      links: [...new Set(links)],
      link_url: c.link_url,
      frequency_cap: (c.frequency_cap ?? settings?.frequency_cap ?? null) as RunSnapshot['frequency_cap'],
      quiet_hours: (c.quiet_hours ?? settings?.quiet_hours ?? null) as RunSnapshot['quiet_hours'],
      default_time_zone: settings?.default_time_zone ?? 'UTC',
      transactional: c.transactional,
      end_time: iso(c.end_time),
      reward_id: c.reward_id,
      goal_event_type: c.goal_event_type,
      conversion_window_hours: c.conversion_window_hours,
      ab: ab && variants ? { metric: ab.metric, decide_at: new Date(now.getTime() + ab.test_hours * 3_600_000).toISOString(), keys: variants.map((v) => v.key) } : null,
    };
  }

  async function runView(exec: Executor, row: repo.RunRow) {
    const stats = splitByVariant(await counterRows(exec, row.tenant_id, [row.run_id]));
    const snapshot = row.snapshot as RunSnapshot;
    const rate = snapshot.rate_per_second;
    const toSend = stats.total.remaining;
    return {
      run_id: row.run_id,
      execution_id: row.run_id,
      campaign_id: row.campaign_id,
      execution_type: row.execution_type,
      status: row.status,
      triggered_by: row.triggered_by,
      planned: row.planned,
      provider_id: snapshot.provider_id,
      rate_per_second: rate,
      stats: stats.total,
      variants: stats.variants,
      eta_seconds: row.status === 'sending' || row.status === 'resolving' || row.status === 'paused' ? Math.ceil(toSend / rate) : 0,
      predicted_duration_seconds: row.execution_type === 'simulation' ? Math.ceil(stats.total.would_send / rate) : null,
      samples: (row.samples ?? []) as unknown[],
      ab: row.ab_state ?? (snapshot.ab ? { decide_at: snapshot.ab.decide_at, metric: snapshot.ab.metric, winner: null } : null),
      created_at: row.created_at.toISOString(),
      started_at: iso(row.started_at),
      paused_at: iso(row.paused_at),
      finished_at: iso(row.finished_at),
    };
  }

  async function requireRun(exec: Executor, tenantId: string, runId: string, forUpdate = false) {
    const row = await repo.findRun(exec, tenantId, runId, { forUpdate });
    if (!row) throw outreachErrors.runNotFound(runId);
    return row;
  }

  /** Starts a run of the campaign in `exec`: the run row is the work item (no job is lost with it). */
  async function startRun(trx: Executor, c: campaignRepo.CampaignRow, type: ExecutionType, by: string, now: Date) {
    if (c.status === 'archived') throw outreachErrors.archived();
    if (type === 'actual') {
      const live = await repo.liveActualRun(trx, c.tenant_id, c.campaign_id);
      if (live) throw outreachErrors.running(live.run_id);
    }
    const snapshot = await snapshotOf(trx, c, type, now);
    const run = await repo.insertRun(trx, {
      tenant_id: c.tenant_id,
      run_id: newId('run', now.getTime()),
      campaign_id: c.campaign_id,
      execution_type: type,
      status: 'resolving',
      triggered_by: by,
      snapshot: JSON.stringify(snapshot),
      created_at: now,
    });
    if (type === 'actual') {
      // A manual start before a one-off start_time is that start: the scheduler must not send it again.
      const startsNow = by !== 'schedule' && !c.schedule_cron ? { next_run_at: null } : {};
      await campaignRepo.updateCampaign(trx, c.tenant_id, c.campaign_id, { status: 'active', actual_start_time: c.actual_start_time ?? now, updated_at: now, ...startsNow });
    }
    return run;
  }

  const service = {
    /** Manual trigger (actual or simulation): answers at once; the run resolves and sends in the background. */
    async trigger(actor: Actor, campaignId: string, type: ExecutionType, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const c = await campaignRepo.findCampaign(trx, tenant.tenantId, campaignId, { forUpdate: true });
        if (!c) throw outreachErrors.campaignNotFound(campaignId);
        const run = await startRun(trx, c, type, tenant.keyId, clock.now());
        return runView(trx, run);
      });
    },

    /** The scheduler's trigger (locked campaign row in `trx`); returns null when the campaign cannot run now. */
    async triggerScheduled(trx: Executor, c: campaignRepo.CampaignRow, now: Date, onScheduledFailure?: (err: unknown, campaignId: string) => void) {
      if (c.status === 'archived') return null;
      if (await repo.liveActualRun(trx, c.tenant_id, c.campaign_id)) return null;
      // A refusal (no provider any more, a template deleted) is decided in code after reads that
      // succeeded, so the scheduler's transaction stays usable for its other campaigns.
      try {
        return await startRun(trx, c, 'actual', 'schedule', now);
      } catch (err) {
        onScheduledFailure?.(err, c.campaign_id);
        return null;
      }
    },

    /** The fan-out: one statement writes every record; then the run sends. Idempotent (skips a run already resolved). */
    async resolveRun(runId: string): Promise<number> {
      return inTransaction(db, async (trx) => {
        const run = await repo.lockResolvingRun(trx, runId);
        if (!run) return 0;
        const c = await campaignRepo.findCampaign(trx, run.tenant_id, run.campaign_id);
        const now = clock.now();
        const targets = c ? await targetsOf(trx, c) : null;
        const snapshot = run.snapshot as RunSnapshot;
        let cells: VariantCell[] | null = null;
        const variants = (c?.variants ?? null) as { key: string; percent: number }[] | null;
        if (variants) {
          let upTo = 0;
          cells = variants.map((v) => ({ key: v.key, upTo: (upTo += v.percent) }));
        }
        const planned = targets
          ? await fanOut(trx, {
              tenantId: run.tenant_id,
              runId,
              campaignId: run.campaign_id,
              channel: snapshot.channel,
              targets,
              cells,
              // A simulation does not wait for a winner: every record is decided now.
              heldUntil: snapshot.ab && run.execution_type === 'actual' ? new Date(snapshot.ab.decide_at) : null,
              now,
            })
          : 0;
        await repo.updateRun(trx, run.tenant_id, runId, { status: 'sending', planned, started_at: now });
        return planned;
      });
    },

    /** Completes a run with nothing left to send; the campaign completes unless a schedule continues it. */
    async completeIfDone(tenantId: string, runId: string): Promise<boolean> {
      return inTransaction(db, async (trx) => {
        const run = await repo.findRun(trx, tenantId, runId, { forUpdate: true });
        if (!run || run.status !== 'sending') return false;
        if (await hasOpenRecords(trx, runId)) return false;
        const now = clock.now();
        await repo.updateRun(trx, tenantId, runId, { status: 'completed', finished_at: now });
        if (run.execution_type === 'actual') await finishCampaign(trx, tenantId, run.campaign_id, now);
        return true;
      });
    },

    async pause(actor: Actor, runId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const run = await requireRun(trx, tenant.tenantId, runId, true);
        if (run.status === 'paused') return runView(trx, run);
        if (run.status !== 'sending' && run.status !== 'resolving') throw outreachErrors.runState('pause', run.status);
        const now = clock.now();
        const updated = await repo.updateRun(trx, tenant.tenantId, runId, { status: 'paused', paused_at: now });
        if (run.execution_type === 'actual') await campaignRepo.updateCampaign(trx, tenant.tenantId, run.campaign_id, { status: 'paused', updated_at: now });
        return runView(trx, updated);
      });
    },

    /** Continues where the run stopped: records already sent stay sent (each record is sent at most once). */
    async resume(actor: Actor, runId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const run = await requireRun(trx, tenant.tenantId, runId, true);
        if (run.status === 'sending') return runView(trx, run);
        if (run.status !== 'paused') throw outreachErrors.runState('resume', run.status);
        const now = clock.now();
        const updated = await repo.updateRun(trx, tenant.tenantId, runId, { status: run.started_at ? 'sending' : 'resolving', paused_at: null });
        if (run.execution_type === 'actual') await campaignRepo.updateCampaign(trx, tenant.tenantId, run.campaign_id, { status: 'active', updated_at: now });
        return runView(trx, updated);
      });
    },

    /** Stops the run for good: what is not sent yet is cancelled (records kept, counted). */
    async cancel(actor: Actor, runId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const run = await requireRun(trx, tenant.tenantId, runId, true);
        if (run.status === 'cancelled') return runView(trx, run);
        if (run.status === 'completed') throw outreachErrors.runState('cancel', run.status);
        const now = clock.now();
        await cancelOpen(trx, tenant.tenantId, runId, now);
        const updated = await repo.updateRun(trx, tenant.tenantId, runId, { status: 'cancelled', finished_at: now });
        if (run.execution_type === 'actual') await finishCampaign(trx, tenant.tenantId, run.campaign_id, now);
        return runView(trx, updated);
      });
    },

    async getRun(actor: Actor, runId: string, exec: Executor = db) {
      return runView(exec, await requireRun(exec, requireTenant(actor).tenantId, runId));
    },

    async listRuns(actor: Actor, query: { campaign_id?: string; status?: string; page?: number; page_size?: number }, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await repo.listRuns(exec, tenant.tenantId, { campaignId: query.campaign_id, status: query.status }, { limit: page.pageSize, offset: page.offset });
      return { runs: await Promise.all(rows.map((r) => runView(exec, r))), pagination: pagination(total, page) };
    },

    /** A campaign's stats over its actual runs (simulations apart), with the per-variant split. */
    async campaignStats(actor: Actor, campaignId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const c = await campaignRepo.findCampaign(exec, tenant.tenantId, campaignId);
      if (!c) throw outreachErrors.campaignNotFound(campaignId);
      const runs = await repo.runIdsOfCampaign(exec, tenant.tenantId, campaignId);
      const actual = runs.filter((r) => r.execution_type === 'actual').map((r) => r.run_id);
      const stats = splitByVariant(await counterRows(exec, tenant.tenantId, actual));
      return { campaign_id: campaignId, runs: actual.length, ...stats.total, variants: stats.variants };
    },

    /** The live actual run of a campaign (archive refuses while one exists). */
    async liveRunOf(tenantId: string, campaignId: string, exec: Executor = db): Promise<string | null> {
      return (await repo.liveActualRun(exec, tenantId, campaignId))?.run_id ?? null;
    },
  };

  async function targetsOf(exec: Executor, c: campaignRepo.CampaignRow): Promise<RawBuilder<{ user_id: string }> | null> {
    const tagged = c.target_tags.length > 0 ? taggedCustomersSql(c.tenant_id, c.target_tags) : null;
    const segment = c.target_segment_id ? await deps.audienceMembers(c.tenant_id, c.target_segment_id, exec) : null;
    if (c.target_segment_id && !segment) return null;
    if (tagged && segment) return sql<{ user_id: string }>`select user_id from (${tagged}) a intersect select user_id from (${segment}) b`;
    return tagged ?? segment;
  }

  async function finishCampaign(trx: Executor, tenantId: string, campaignId: string, now: Date) {
    const c = await campaignRepo.findCampaign(trx, tenantId, campaignId, { forUpdate: true });
    if (!c || c.status === 'archived') return;
    await campaignRepo.updateCampaign(trx, tenantId, campaignId, {
      status: c.next_run_at ? 'scheduled' : 'completed',
      actual_end_time: now,
      updated_at: now,
    });
  }

  return service;
}
