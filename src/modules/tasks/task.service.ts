import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { parseInstant } from '../../platform/time.js';
import type { AppService } from '../apps/index.js';
import type { CampaignService } from '../campaigns/index.js';
import type { RewardService } from '../rewards/index.js';
import * as logs from './task-log.repo.js';
import { taskErrors } from './task.errors.js';
import { localDay, periodKey } from './task.period.js';
import * as repo from './task.repo.js';
import { capOf, conditionOf, progressShown, validateTaskRules } from './task.rules.js';
import type { BatchInput, CompletionLogInput, CompletionLogView, CreateTaskInput, LinkInput, RepeatPolicy, StatsInput, TaskListInput, TaskView, TriggerInput, UpdateTaskInput } from './task.schemas.js';
import { createTriggerGrouper } from './task.group.js';
import { createTrigger, normalizeEvent, type TriggerDeps } from './task.trigger.js';

export type TaskService = ReturnType<typeof createTaskService>;

/** A date column as YYYY-MM-DD (pg gives a Date at local midnight, PGlite may give a string). */
function dayString(value: unknown): string {
  if (value instanceof Date) return `${value.getFullYear()}-${String(value.getMonth() + 1).padStart(2, '0')}-${String(value.getDate()).padStart(2, '0')}`;
  return String(value).slice(0, 10);
}

function previousDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function toTaskView(row: repo.TaskRow): TaskView {
  return {
    task_id: row.task_id,
    tenant_id: row.tenant_id,
    product_code: row.product_code,
    task_name: row.task_name,
    task_type: row.task_type,
    event_type: row.event_type,
    description: row.description,
    condition: conditionOf(row),
    repeat: row.repeat_policy,
    max_completions: row.max_completions,
    time_zone: row.time_zone,
    start_time: iso(row.start_time),
    end_time: iso(row.end_time),
    reward_id: row.reward_id,
    reward_quantity: row.reward_quantity,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
  };
}

function toLogView(r: repo.CompletionRow): CompletionLogView {
  return {
    completion_id: r.completion_id,
    task_id: r.task_id,
    campaign_id: r.campaign_id,
    product_code: r.product_code,
    user_id: r.user_id,
    event_id: r.event_id,
    period_key: r.period_key,
    seq: r.seq,
    reward_id: r.reward_id,
    reward_quantity: r.reward_quantity,
    grant_id: r.grant_id,
    grant_status: r.grant_status,
    grant_error: r.grant_error_code ? { code: r.grant_error_code, message: r.grant_error_message ?? '' } : null,
    completed_at: r.completed_at.toISOString(),
  };
}

const visibility = (a: TenantActor): repo.Visibility => ({ tenantId: a.tenantId, productCodes: a.productCodes });
// Fields that decide how events count: fixed once a user has progress, or progress would change meaning.
const COUNTING_FIELDS = ['condition', 'repeat', 'max_completions', 'time_zone', 'event_type'] as const;

export function createTaskService(
  deps: TriggerDeps & {
    db: Database;
    clock: Clock;
    apps: AppService;
    campaigns: CampaignService;
    rewards: RewardService;
    /** Group commit of single events (see task.group.ts); absent or maxSize 1: each event alone. */
    grouping?: { maxSize: number; concurrency: number } | undefined;
  },
) {
  const { db, clock, apps, campaigns, rewards } = deps;
  const trigger = createTrigger(deps);
  const grouper =
    deps.grouping && deps.grouping.maxSize > 1
      ? createTriggerGrouper(db, clock, { group: (exec, tenant, events, now) => trigger.triggerGroup(exec, tenant, events, now, 'single'), one: trigger.triggerOne }, deps.grouping)
      : null;

  async function loadVisible(exec: Executor, tenant: TenantActor, taskId: string, forUpdate = false) {
    const row = await repo.findTask(exec, visibility(tenant), taskId, { forUpdate });
    if (!row) throw notFound('task', taskId);
    return row;
  }

  async function checkReward(tenant: TenantActor, rewardId: string | null, exec: Executor): Promise<void> {
    if (rewardId === null) return;
    await rewards.findForGrant({ ...tenant, productCodes: null }, rewardId, exec).catch((err: unknown) => {
      if (err instanceof AppError && err.code === 'reward_not_found') {
        throw taskErrors.unknownReward(rewardId);
      }
      throw err;
    });
  }

  return {
    /** Creates a task; every field is checked against the others first. */
    async createTask(actor: Actor, input: CreateTaskInput, productHeader?: string, exec: Executor = db): Promise<TaskView> {
      const tenant = requireTenant(actor);
      const rules = {
        condition: input.condition,
        repeat: input.repeat ?? 'ONCE',
        max_completions: input.max_completions ?? null,
        time_zone: input.time_zone ?? 'UTC',
        reward_id: input.reward_id ?? null,
        reward_quantity: input.reward_quantity,
        start_time: parseInstant('start_time', input.start_time),
        end_time: parseInstant('end_time', input.end_time),
      };
      validateTaskRules(rules);
      const productCode = await apps.resolveProductCode(tenant, input.product_code, productHeader, exec);
      await checkReward(tenant, rules.reward_id, exec);
      const now = clock.now();
      const row = await repo.insertTask(exec, {
        tenant_id: tenant.tenantId,
        task_id: newId('tsk', now.getTime()),
        product_code: productCode,
        task_name: input.task_name,
        task_type: input.task_type,
        event_type: input.event_type,
        description: input.description ?? null,
        condition: JSON.stringify(rules.condition),
        repeat_policy: rules.repeat,
        max_completions: rules.max_completions,
        time_zone: rules.time_zone,
        start_time: rules.start_time,
        end_time: rules.end_time,
        reward_id: rules.reward_id,
        reward_quantity: input.reward_quantity ?? 1,
        deleted_at: null,
        created_at: now,
        updated_at: now,
      });
      deps.metrics.created.inc({ task_type: row.task_type });
      return toTaskView(row);
    },

    async getTask(actor: Actor, taskId: string, exec: Executor = db): Promise<TaskView> {
      return toTaskView(await loadVisible(exec, requireTenant(actor), taskId));
    },

    async listTasks(actor: Actor, query: TaskListInput, productHeader?: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await repo.listTasks(exec, visibility(tenant), { taskType: query.task_type, eventType: query.event_type, productCode: query.product_code ?? productHeader, campaignId: query.campaign_id }, page);
      return { tasks: rows.map(toTaskView), pagination: pagination(total, page) };
    },

    /**
     * Changes the given fields. The counting rules (condition, repeat, max_completions,
     * time_zone, event_type) are fixed once any user has progress: 409 task_field_locked.
     */
    async updateTask(actor: Actor, taskId: string, input: UpdateTaskInput, exec: Executor = db): Promise<TaskView> {
      const tenant = requireTenant(actor);
      const { tenant_id: _ignored, ...changes } = input;
      return inTransaction(exec, async (trx) => {
        const current = await loadVisible(trx, tenant, taskId, true);
        const rules = {
          condition: changes.condition ?? conditionOf(current),
          repeat: (changes.repeat ?? current.repeat_policy) as RepeatPolicy,
          max_completions: changes.max_completions !== undefined ? changes.max_completions : current.max_completions,
          time_zone: changes.time_zone ?? current.time_zone,
          reward_id: changes.reward_id !== undefined ? changes.reward_id : current.reward_id,
          reward_quantity: changes.reward_quantity ?? current.reward_quantity,
          start_time: changes.start_time !== undefined ? parseInstant('start_time', changes.start_time) : current.start_time,
          end_time: changes.end_time !== undefined ? parseInstant('end_time', changes.end_time) : current.end_time,
        };
        validateTaskRules(rules);
        const touched = COUNTING_FIELDS.filter((f) => changes[f] !== undefined);
        if (touched.length && (await repo.hasProgress(trx, tenant.tenantId, taskId))) {
          throw taskErrors.countingFieldsLocked(touched);
        }
        if (changes.product_code !== undefined && changes.product_code !== current.product_code) {
          // Links join a task to campaigns of its product; moving it would leave them pointing across products.
          if (await repo.hasLinks(trx, tenant.tenantId, taskId)) {
            throw taskErrors.productCodeLocked();
          }
          await apps.resolveProductCode(tenant, changes.product_code, undefined, trx);
        }
        if (changes.reward_id !== undefined) await checkReward(tenant, rules.reward_id, trx);
        const row = await repo.updateTask(trx, tenant.tenantId, taskId, {
          ...(changes.task_name !== undefined && { task_name: changes.task_name }),
          ...(changes.task_type !== undefined && { task_type: changes.task_type }),
          ...(changes.event_type !== undefined && { event_type: changes.event_type }),
          ...(changes.product_code !== undefined && { product_code: changes.product_code }),
          ...(changes.description !== undefined && { description: changes.description }),
          ...(changes.condition !== undefined && { condition: JSON.stringify(changes.condition) }),
          ...(changes.repeat !== undefined && { repeat_policy: changes.repeat }),
          ...(changes.max_completions !== undefined && { max_completions: changes.max_completions }),
          ...(changes.time_zone !== undefined && { time_zone: changes.time_zone }),
          ...(changes.start_time !== undefined && { start_time: rules.start_time }),
          ...(changes.end_time !== undefined && { end_time: rules.end_time }),
          ...(changes.reward_id !== undefined && { reward_id: changes.reward_id }),
          ...(changes.reward_quantity !== undefined && { reward_quantity: changes.reward_quantity }),
          updated_at: clock.now(),
        });
        if (!row) throw notFound('task', taskId);
        return toTaskView(row);
      });
    },

    /** Deletes a task (soft: its completion log stays) and unlinks it from its campaigns. */
    async deleteTask(actor: Actor, taskId: string, exec: Executor = db): Promise<void> {
      const tenant = requireTenant(actor);
      await inTransaction(exec, async (trx) => {
        await loadVisible(trx, tenant, taskId, true);
        await repo.softDeleteTask(trx, tenant.tenantId, taskId, clock.now());
      });
    },

    /** Links a task to a campaign of the same product; 409 task_already_linked if it is. */
    async linkTask(actor: Actor, campaignId: string, input: LinkInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const campaign = await campaigns.getCampaign(tenant, campaignId, exec);
      if (campaign.status === 'ARCHIVED' || campaign.status === 'ENDED') {
        throw taskErrors.campaignNotEditable(campaign.status);
      }
      const task = await loadVisible(exec, tenant, input.task_id);
      if (task.product_code !== campaign.product_code) {
        throw taskErrors.productMismatch(task.task_id, task.product_code, campaign.product_code);
      }
      const now = clock.now();
      const sortOrder = input.sort_order ?? 0;
      if (!(await repo.insertLink(exec, { tenant_id: tenant.tenantId, campaign_id: campaignId, task_id: task.task_id, sort_order: sortOrder, created_at: now }))) {
        throw taskErrors.alreadyLinked(task.task_id, campaignId);
      }
      return { campaign_id: campaignId, sort_order: sortOrder, linked_at: now.toISOString(), task: toTaskView(task) };
    },

    async unlinkTask(actor: Actor, campaignId: string, taskId: string, exec: Executor = db): Promise<void> {
      const tenant = requireTenant(actor);
      await campaigns.getCampaign(tenant, campaignId, exec);
      await loadVisible(exec, tenant, taskId);
      if (!(await repo.deleteLink(exec, tenant.tenantId, campaignId, taskId))) {
        throw taskErrors.linkNotFound(campaignId, taskId);
      }
    },

    async listCampaignTasks(actor: Actor, campaignId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      await campaigns.getCampaign(tenant, campaignId, exec);
      const rows = await repo.listLinks(exec, visibility(tenant), campaignId);
      return {
        campaign_id: campaignId,
        tasks: rows.map((r) => ({ campaign_id: campaignId, sort_order: r.sort_order, linked_at: r.linked_at.toISOString(), task: toTaskView(r) })),
      };
    },

    /**
     * One event (the body of POST /v1/tasks/trigger): in the caller's transaction when `exec` is one (an
     * Idempotency-Key's unit of work), else in a group commit with other events under load.
     */
    async trigger(actor: Actor, input: TriggerInput, productHeader: string | undefined, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const event = normalizeEvent(tenant, input, productHeader, now);
      if (grouper && !exec.isTransaction) return grouper.submit(tenant, event);
      return inTransaction(exec, (trx) => trigger.triggerOne(trx, tenant, event, now));
    },

    /** Up to 1,000 events in one transaction; a bad event is a per-event error, not a failed batch. */
    async triggerBatch(actor: Actor, input: BatchInput, productHeader: string | undefined, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const events = input.events.map((e) => {
        try {
          return normalizeEvent(tenant, e, productHeader, now);
        } catch (err) {
          if (err instanceof AppError) return err;
          throw err;
        }
      });
      return inTransaction(exec, (trx) => trigger.triggerMany(trx, tenant, events, now));
    },

    async listCompletionLogs(actor: Actor, query: CompletionLogInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await logs.listCompletions(
        exec,
        visibility(tenant),
        { taskId: query.task_id, campaignId: query.campaign_id, userId: query.user_id, from: parseInstant('completed_from', query.completed_from), to: parseInstant('completed_to', query.completed_to) },
        page,
      );
      return { task_completion_logs: rows.map(toLogView), pagination: pagination(total, page) };
    },

    /** Completions, unique users, rewards granted and refused: in all and by day in the task's zone. */
    async completionStats(actor: Actor, taskId: string, query: StatsInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const task = await loadVisible(exec, tenant, taskId);
      const { total, byDay } = await logs.completionStats(exec, tenant.tenantId, taskId, task.time_zone, parseInstant('from', query.from), parseInstant('to', query.to));
      return { task_id: taskId, time_zone: task.time_zone, completions: total.completions, unique_users: total.unique_users, rewards_granted: total.rewards_granted, grants_refused: total.grants_refused, by_day: byDay };
    },

    /** A user's progress on every task that can progress now, in each task's current period. */
    async userTasks(actor: Actor, userId: string, productCode: string | undefined, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const active = (await repo.findActiveTasks(exec, tenant.tenantId, null, now)).filter(
        (t) => (tenant.productCodes === null || tenant.productCodes.includes(t.product_code)) && (!productCode || t.product_code === productCode),
      );
      const byTask = new Map<string, { task: repo.ActiveTaskRow; campaigns: string[] }>();
      for (const t of active) {
        const entry = byTask.get(t.task_id);
        if (entry) entry.campaigns.push(t.campaign_id);
        else byTask.set(t.task_id, { task: t, campaigns: [t.campaign_id] });
      }
      const progress = await repo.readUserProgress(exec, tenant.tenantId, userId, [...byTask.keys()]);
      const found = new Map(progress.map((p) => [`${p.task_id}\u0000${p.period_key}`, p]));
      const tasks = [...byTask.values()].map(({ task, campaigns: ids }) => {
        const repeat = task.repeat_policy as RepeatPolicy;
        const key = periodKey(repeat, now, task.time_zone);
        const state = found.get(`${task.task_id}\u0000${key}`);
        const condition = conditionOf(task);
        const cap = capOf(repeat, task.max_completions);
        // A streak whose last day is before yesterday is already broken: it shows 0 until the next day counts.
        const broken = condition.type === 'consecutive_days' && state?.last_day != null && dayString(state.last_day) < previousDay(localDay(now, task.time_zone));
        return {
          task: toTaskView(task),
          campaign_ids: ids,
          period_key: key,
          progress: broken && !(cap !== null && state!.completions >= cap) ? 0 : progressShown(condition, cap, state),
          target: condition.target,
          completions: state?.completions ?? 0,
          completed: cap !== null && (state?.completions ?? 0) >= cap,
        };
      });
      return { user_id: userId, tasks };
    },
  };
}
