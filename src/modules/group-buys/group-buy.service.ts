import type { Transaction } from 'kysely';
import { afterCommit, type Database, type Executor, runTransaction } from '../../db/client.js';
import type { DB } from '../../db/schema.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { invalidRequest, isAppError } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import type { JobQueue } from '../../platform/jobs.js';
import { groupBuyErrors } from './group-buy.errors.js';
import type { GroupBuyGuard } from './group-buy.limits.js';
import type { GroupBuyMetrics } from './group-buy.metrics.js';
import * as repo from './group-buy.repo.js';
import type {
  ActivityListQueryType,
  ActivityStatsView,
  ActivityView,
  CreateActivityInput,
  GroupListQueryType,
  GroupView,
  JoinInput,
  UpdateActivityInput,
} from './group-buy.schemas.js';
import { activityStatus, toActivityView, toGroupView } from './group-buy.views.js';

/** The queue of group outcome webhooks (group-buy.notify.ts). */
export const GROUP_BUY_NOTIFY_QUEUE = 'group_buy.notify';
export type GroupEvent = 'group_buy.succeeded' | 'group_buy.failed';

export interface GroupBuyServiceDeps {
  db: Database;
  clock: Clock;
  jobs: JobQueue;
  metrics: GroupBuyMetrics;
  /** group_buys.max_group_size: the largest group_size an activity may ask for. */
  maxGroupSize: number;
  /** Creates and joins per end user and per end-user IP (rate_limits.group_buy_join); none: unlimited. */
  guard?: GroupBuyGuard;
}

export type GroupBuyService = ReturnType<typeof createGroupBuyService>;

const SWEEP_BATCH = 100;

export function createGroupBuyService(deps: GroupBuyServiceDeps) {
  const { db, clock, jobs, metrics, maxGroupSize } = deps;

  async function requireActivity(exec: Executor, tenantId: string, activityId: string) {
    const row = await repo.findActivity(exec, tenantId, activityId);
    if (!row) throw groupBuyErrors.activityNotFound(activityId);
    return row;
  }

  function checkActivity(a: { group_size: number; group_price: number; original_price: number; start_time: Date; end_time: Date; webhook_url: string | null; webhook_secret: string | null }) {
    if (a.group_size > maxGroupSize) throw groupBuyErrors.groupSizeTooLarge(a.group_size, maxGroupSize);
    if (a.group_price > a.original_price) throw invalidRequest('group_price', 'must not be above original_price');
    if (a.end_time.getTime() <= a.start_time.getTime()) throw groupBuyErrors.invalidTimes();
    if ((a.webhook_url === null) !== (a.webhook_secret === null)) throw groupBuyErrors.webhookIncomplete();
  }

  async function notifyIn(trx: Executor, group: repo.GroupRow, event: GroupEvent, webhookUrl: string | null): Promise<void> {
    if (!webhookUrl) return;
    await jobs.enqueue(trx, { tenantId: group.tenant_id, queue: GROUP_BUY_NOTIFY_QUEUE, payload: { group_id: group.group_id, event } });
  }

  async function groupView(exec: Executor, group: repo.GroupRow): Promise<GroupView> {
    return toGroupView(group, await repo.membersOf(exec, group.tenant_id, [group.group_id]));
  }

  /**
   * The join, in the caller's transaction: the member row (one per user and group), the group's
   * count (while open, not full, not expired; the join that fills it succeeds it), then the user's
   * place in the activity (under per_user_limit). Any refusal throws and rolls all three back, so
   * member rows and member_count never disagree. The hot group row is locked before the user's
   * counter, the order the expiry sweep takes too (no deadlock between them).
   */
  async function joinIn(trx: Transaction<DB>, activity: repo.ActivityRow, groupId: string, input: JoinInput, isLeader: boolean, now: Date) {
    const tenantId = activity.tenant_id;
    const member = await repo.insertMember(trx, {
      tenant_id: tenantId,
      group_id: groupId,
      user_id: input.user_id,
      activity_id: activity.activity_id,
      order_id: input.order_id ?? null,
      is_leader: isLeader,
      joined_at: now,
    });
    if (!member) throw groupBuyErrors.alreadyJoined(groupId, input.user_id);
    const group = await repo.addToGroup(trx, tenantId, groupId, now);
    if (!group) {
      const current = await repo.findGroup(trx, tenantId, groupId);
      if (!current) throw groupBuyErrors.groupNotFound(groupId);
      if (current.member_count >= current.group_size) throw groupBuyErrors.groupFull(groupId);
      throw groupBuyErrors.groupClosed(groupId, current.status);
    }
    const place = await repo.takeUserPlace(trx, tenantId, activity.activity_id, input.user_id, activity.per_user_limit);
    if (!place) throw groupBuyErrors.perUserLimitReached(activity.activity_id, input.user_id, activity.per_user_limit);
    if (group.status === 'succeeded') {
      await notifyIn(trx, group, 'group_buy.succeeded', activity.webhook_url);
      afterCommit(trx, () => metrics.succeeded.inc({ how: 'full' }));
    }
    afterCommit(trx, () => (isLeader ? metrics.created.inc() : metrics.joined.inc()));
    return group;
  }

  /** Counts a refused create or join by its code (marketing_group_buy_refusals_total) and rethrows it. */
  function refused(err: unknown): never {
    if (isAppError(err)) metrics.refused.inc({ code: err.code });
    throw err;
  }

  function requireActive(activity: repo.ActivityRow, now: Date) {
    if (activityStatus(activity, now) !== 'active') throw groupBuyErrors.activityNotActive(activity.activity_id);
  }

  return {
    /** Charges a create or join to the user's and the end-user IP's limits: 429 rate_limited when over. */
    async admit(actor: Actor, userId: string, clientIp: string | null): Promise<void> {
      await deps.guard?.admit(requireTenant(actor).tenantId, userId, clientIp).catch(refused);
    },

    async createActivity(actor: Actor, input: CreateActivityInput, exec: Executor = db): Promise<ActivityView> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const row = {
        tenant_id: tenant.tenantId,
        activity_id: newId('gba', now.getTime()),
        name: input.name,
        item_id: input.item_id,
        group_price: input.group_price,
        original_price: input.original_price,
        group_size: input.group_size,
        open_minutes: input.open_minutes ?? 1440,
        per_user_limit: input.per_user_limit ?? 1,
        start_time: new Date(input.start_time),
        end_time: new Date(input.end_time),
        virtual_fill: input.virtual_fill ?? false,
        webhook_url: input.webhook_url ?? null,
        webhook_secret: input.webhook_secret ?? null,
        ended_at: null,
        created_by: tenant.keyId,
        created_at: now,
        updated_at: now,
      };
      checkActivity(row);
      return toActivityView(await repo.insertActivity(exec, row), now);
    },

    async listActivities(actor: Actor, query: ActivityListQueryType) {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const page = query.page ?? 1;
      const pageSize = query.page_size ?? 20;
      const { rows, total } = await repo.listActivities(db, tenant.tenantId, now, query.status, pageSize, (page - 1) * pageSize);
      return { activities: rows.map((r) => toActivityView(r, now)), pagination: { total, page, page_size: pageSize } };
    },

    async getActivity(actor: Actor, activityId: string): Promise<ActivityView> {
      const tenant = requireTenant(actor);
      return toActivityView(await requireActivity(db, tenant.tenantId, activityId), clock.now());
    },

    /** An activity's group and participant figures, computed by the database in one statement. */
    async activityStats(actor: Actor, activityId: string): Promise<ActivityStatsView> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      await requireActivity(db, tenant.tenantId, activityId);
      const s = await repo.activityStats(db, tenant.tenantId, activityId, now);
      const settled = s.succeeded + s.failed;
      return {
        activity_id: activityId,
        groups_opened: s.opened,
        groups_open: s.open,
        groups_awaiting_settlement: s.awaiting_settlement,
        groups_succeeded: s.succeeded,
        groups_failed: s.failed,
        groups_virtually_filled: s.virtually_filled,
        participants: s.participants,
        members: s.members,
        virtual_members: s.virtual_members,
        success_rate: settled === 0 ? null : Math.round((s.succeeded / settled) * 10_000) / 10_000,
        average_fill_seconds: s.average_fill_seconds === null ? null : Math.round(s.average_fill_seconds * 1000) / 1000,
        as_of: now.toISOString(),
      };
    },

    /** Changes an activity before it starts (the check is in the update statement). */
    async updateActivity(actor: Actor, activityId: string, input: UpdateActivityInput, trx: Transaction<DB>): Promise<ActivityView> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const current = await requireActivity(trx, tenant.tenantId, activityId);
      const next = {
        name: input.name ?? current.name,
        item_id: input.item_id ?? current.item_id,
        group_price: input.group_price ?? Number(current.group_price),
        original_price: input.original_price ?? Number(current.original_price),
        group_size: input.group_size ?? current.group_size,
        open_minutes: input.open_minutes ?? current.open_minutes,
        per_user_limit: input.per_user_limit ?? current.per_user_limit,
        start_time: input.start_time ? new Date(input.start_time) : current.start_time,
        end_time: input.end_time ? new Date(input.end_time) : current.end_time,
        virtual_fill: input.virtual_fill ?? current.virtual_fill,
        webhook_url: input.webhook_url === undefined ? current.webhook_url : input.webhook_url,
        webhook_secret: input.webhook_secret === undefined ? current.webhook_secret : input.webhook_secret,
      };
      checkActivity(next);
      const row = await repo.updateActivityBeforeStart(trx, tenant.tenantId, activityId, now, { ...next, updated_at: now });
      if (!row) throw groupBuyErrors.activityStarted(activityId);
      return toActivityView(row, now);
    },

    /** Ends the activity now: no more groups or joins; its open groups settle at the next sweep. */
    async endActivity(actor: Actor, activityId: string, trx: Transaction<DB>): Promise<ActivityView> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      await requireActivity(trx, tenant.tenantId, activityId);
      const row = await repo.endActivity(trx, tenant.tenantId, activityId, now);
      if (!row) throw groupBuyErrors.activityEnded(activityId);
      await repo.expireOpenGroups(trx, tenant.tenantId, activityId, now);
      return toActivityView(row, now);
    },

    /** Opens a group of the activity; the leader is its first member. */
    async openGroup(actor: Actor, activityId: string, input: JoinInput, trx: Transaction<DB>): Promise<GroupView> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      try {
        const activity = await requireActivity(trx, tenant.tenantId, activityId);
        requireActive(activity, now);
        const expires = Math.min(now.getTime() + activity.open_minutes * 60_000, activity.end_time.getTime());
        const created = await repo.insertGroup(trx, {
          tenant_id: tenant.tenantId,
          group_id: newId('grp', now.getTime()),
          activity_id: activityId,
          leader_user_id: input.user_id,
          group_size: activity.group_size,
          virtual_fill: activity.virtual_fill,
          status: 'open',
          expires_at: new Date(expires),
          created_at: now,
          completed_at: null,
        });
        return await groupView(trx, await joinIn(trx, activity, created.group_id, input, true, now));
      } catch (err) {
        return refused(err);
      }
    },

    async joinGroup(actor: Actor, groupId: string, input: JoinInput, trx: Transaction<DB>): Promise<GroupView> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      try {
        const group = await repo.findGroup(trx, tenant.tenantId, groupId);
        if (!group) throw groupBuyErrors.groupNotFound(groupId);
        const activity = await requireActivity(trx, tenant.tenantId, group.activity_id);
        requireActive(activity, now);
        return await groupView(trx, await joinIn(trx, activity, groupId, input, false, now));
      } catch (err) {
        return refused(err);
      }
    },

    async getGroup(actor: Actor, groupId: string): Promise<GroupView> {
      const tenant = requireTenant(actor);
      const group = await repo.findGroup(db, tenant.tenantId, groupId);
      if (!group) throw groupBuyErrors.groupNotFound(groupId);
      return groupView(db, group);
    },

    async listGroups(actor: Actor, activityId: string, query: GroupListQueryType) {
      const tenant = requireTenant(actor);
      await requireActivity(db, tenant.tenantId, activityId);
      const page = query.page ?? 1;
      const pageSize = query.page_size ?? 20;
      const { rows, total } = await repo.listGroups(db, tenant.tenantId, activityId, clock.now(), query.status, pageSize, (page - 1) * pageSize);
      const members = await repo.membersOf(db, tenant.tenantId, rows.map((r) => r.group_id));
      return { groups: rows.map((r) => toGroupView(r, members)), pagination: { total, page, page_size: pageSize } };
    },

    /**
     * Settles open groups past expires_at: virtual_fill -> succeeded (the missing places counted
     * in virtual_members), else failed (members get their place in the activity back). The
     * outcome's webhook job is written in the same transaction. Returns the groups settled.
     */
    async expireDue(): Promise<number> {
      let settled = 0;
      for (;;) {
        const now = clock.now();
        const done = await runTransaction(db, async (trx) => {
          const due = await repo.lockDueGroups(trx, now, SWEEP_BATCH);
          const hooks = new Map<string, string | null>();
          for (const group of due) {
            const row = await repo.settleGroup(trx, group, now);
            if (!row) continue;
            const key = `${group.tenant_id}\u0000${group.activity_id}`;
            if (!hooks.has(key)) hooks.set(key, (await repo.findActivity(trx, group.tenant_id, group.activity_id))?.webhook_url ?? null);
            if (row.status === 'failed') await repo.releaseUserPlaces(trx, row);
            await notifyIn(trx, row, row.status === 'succeeded' ? 'group_buy.succeeded' : 'group_buy.failed', hooks.get(key) ?? null);
            afterCommit(trx, () => (row.status === 'succeeded' ? metrics.succeeded.inc({ how: 'virtual_fill' }) : metrics.failed.inc()));
          }
          return due.length;
        });
        settled += done;
        if (done < SWEEP_BATCH) return settled;
      }
    },

    /** For the webhook job: a group with its members and its activity (tenant given by the job). */
    async outcome(tenantId: string, groupId: string) {
      const group = await repo.findGroup(db, tenantId, groupId);
      if (!group) return null;
      const activity = await repo.findActivity(db, tenantId, group.activity_id);
      if (!activity) return null;
      return { group: await groupView(db, group), activity };
    },
  };
}

