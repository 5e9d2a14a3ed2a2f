import { type Insertable, type Selectable, sql, type Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { GroupBuyActivityTable, GroupBuyGroupTable, GroupBuyMemberTable } from './group-buy.tables.js';

export type ActivityRow = Selectable<GroupBuyActivityTable>;
export type GroupRow = Selectable<GroupBuyGroupTable>;
export type MemberRow = Selectable<GroupBuyMemberTable>;

export function insertActivity(db: Executor, row: Insertable<GroupBuyActivityTable>): Promise<ActivityRow> {
  return db.insertInto('group_buy_activity').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findActivity(db: Executor, tenantId: string, activityId: string): Promise<ActivityRow | undefined> {
  return db.selectFrom('group_buy_activity').selectAll().where('tenant_id', '=', tenantId).where('activity_id', '=', activityId).executeTakeFirst();
}

/** Activities by status at `now` (scheduled: not started; active: running; ended: ended or past end_time). */
export async function listActivities(db: Executor, tenantId: string, now: Date, status: string | undefined, limit: number, offset: number) {
  let query = db.selectFrom('group_buy_activity').where('tenant_id', '=', tenantId);
  if (status === 'scheduled') query = query.where('ended_at', 'is', null).where('start_time', '>', now);
  else if (status === 'active') query = query.where('ended_at', 'is', null).where('start_time', '<=', now).where('end_time', '>', now);
  else if (status === 'ended') query = query.where((eb) => eb.or([eb('ended_at', 'is not', null), eb('end_time', '<=', now)]));
  const [rows, count] = await Promise.all([
    query.selectAll().orderBy('created_at', 'desc').orderBy('activity_id', 'desc').limit(limit).offset(offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** Changes an activity that has not started (the condition is in the statement: a start in between refuses). */
export function updateActivityBeforeStart(db: Executor, tenantId: string, activityId: string, now: Date, change: Updateable<GroupBuyActivityTable>) {
  return db
    .updateTable('group_buy_activity')
    .set(change)
    .where('tenant_id', '=', tenantId)
    .where('activity_id', '=', activityId)
    .where('ended_at', 'is', null)
    .where('start_time', '>', now)
    .returningAll()
    .executeTakeFirst();
}

export function endActivity(db: Executor, tenantId: string, activityId: string, now: Date) {
  return db
    .updateTable('group_buy_activity')
    .set({ ended_at: now, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('activity_id', '=', activityId)
    .where('ended_at', 'is', null)
    .where('end_time', '>', now)
    .returningAll()
    .executeTakeFirst();
}

/** Open groups of an ended activity expire now (the next sweep settles them). */
export async function expireOpenGroups(db: Executor, tenantId: string, activityId: string, now: Date): Promise<void> {
  await db
    .updateTable('group_buy_group')
    .set({ expires_at: now })
    .where('tenant_id', '=', tenantId)
    .where('activity_id', '=', activityId)
    .where('status', '=', 'open')
    .where('expires_at', '>', now)
    .execute();
}

export function insertGroup(db: Executor, row: Insertable<GroupBuyGroupTable>): Promise<GroupRow> {
  return db.insertInto('group_buy_group').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findGroup(db: Executor, tenantId: string, groupId: string): Promise<GroupRow | undefined> {
  return db.selectFrom('group_buy_group').selectAll().where('tenant_id', '=', tenantId).where('group_id', '=', groupId).executeTakeFirst();
}

export async function membersOf(db: Executor, tenantId: string, groupIds: string[]): Promise<MemberRow[]> {
  if (groupIds.length === 0) return [];
  return db
    .selectFrom('group_buy_member')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('group_id', 'in', groupIds)
    .orderBy('joined_at')
    .orderBy('user_id')
    .execute();
}

/** Groups of an activity; open ones are those still joinable at `now` (soonest to expire first). */
export async function listGroups(db: Executor, tenantId: string, activityId: string, now: Date, status: string | undefined, limit: number, offset: number) {
  let query = db.selectFrom('group_buy_group').where('tenant_id', '=', tenantId).where('activity_id', '=', activityId);
  if (status) query = query.where('status', '=', status as GroupRow['status']);
  if (status === 'open') query = query.where('expires_at', '>', now);
  const ordered = status === 'open' ? query.selectAll().orderBy('expires_at').orderBy('group_id') : query.selectAll().orderBy('created_at', 'desc').orderBy('group_id', 'desc');
  const [rows, count] = await Promise.all([
    ordered.limit(limit).offset(offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** The member's row; none when the user is already in the group (also one joining at this moment). */
export function insertMember(db: Executor, row: Insertable<GroupBuyMemberTable>) {
  return db
    .insertInto('group_buy_member')
    .values(row)
    .onConflict((oc) => oc.columns(['tenant_id', 'group_id', 'user_id']).doNothing())
    .returning('user_id')
    .executeTakeFirst();
}

/** One more group for the user in the activity, while under the limit; none when at it. */
export function takeUserPlace(db: Executor, tenantId: string, activityId: string, userId: string, limit: number) {
  return db
    .insertInto('group_buy_participant')
    .values({ tenant_id: tenantId, activity_id: activityId, user_id: userId, groups_joined: 1 })
    .onConflict((oc) =>
      oc
        .columns(['tenant_id', 'activity_id', 'user_id'])
        .doUpdateSet({ groups_joined: sql`group_buy_participant.groups_joined + 1` })
        .where('group_buy_participant.groups_joined', '<', limit),
    )
    .returning('groups_joined')
    .executeTakeFirst();
}

/**
 * The join's hold on the group: one more member while open, not full and not expired, re-checked
 * on the row's newest version when joins race; the join that fills it marks it succeeded.
 */
export function addToGroup(db: Executor, tenantId: string, groupId: string, now: Date) {
  return db
    .updateTable('group_buy_group')
    .set({
      member_count: sql`member_count + 1`,
      status: sql`case when member_count + 1 >= group_size then 'succeeded' else 'open' end`,
      completed_at: sql`case when member_count + 1 >= group_size then ${now}::timestamptz else null end`,
    })
    .where('tenant_id', '=', tenantId)
    .where('group_id', '=', groupId)
    .where('status', '=', 'open')
    .where(sql<boolean>`member_count < group_size`)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

/** Open groups past expires_at, locked for settling (other sweepers skip them). */
export function lockDueGroups(db: Executor, now: Date, limit: number) {
  return db
    .selectFrom('group_buy_group')
    .selectAll()
    .where('status', '=', 'open')
    .where('expires_at', '<=', now)
    .orderBy('expires_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

export function settleGroup(db: Executor, group: GroupRow, now: Date) {
  const filled = group.virtual_fill;
  return db
    .updateTable('group_buy_group')
    .set({ status: filled ? 'succeeded' : 'failed', virtual_members: filled ? group.group_size - group.member_count : 0, completed_at: now })
    .where('tenant_id', '=', group.tenant_id)
    .where('group_id', '=', group.group_id)
    .where('status', '=', 'open')
    .returningAll()
    .executeTakeFirst();
}

/** The members of a failed group get their place in the activity back. */
export async function releaseUserPlaces(db: Executor, group: GroupRow): Promise<void> {
  await db
    .updateTable('group_buy_participant')
    .set({ groups_joined: sql`groups_joined - 1` })
    .where('tenant_id', '=', group.tenant_id)
    .where('activity_id', '=', group.activity_id)
    .where('groups_joined', '>', 0)
    .where('user_id', 'in', (eb) =>
      eb.selectFrom('group_buy_member').select('user_id').where('tenant_id', '=', group.tenant_id).where('group_id', '=', group.group_id),
    )
    .execute();
}

export interface ActivityStatsRow {
  opened: number;
  open: number;
  awaiting_settlement: number;
  succeeded: number;
  failed: number;
  virtually_filled: number;
  members: number;
  virtual_members: number;
  participants: number;
  average_fill_seconds: number | null;
}

/**
 * An activity's figures in one statement: its groups by state (open: still joinable at `now`;
 * awaiting settlement: past expires_at, not yet swept), member places, the average time from
 * opening to the filling join over groups filled by real members, and its distinct participants
 * (group_buy_participant holds one row per user who ever joined, read by its primary key).
 */
export async function activityStats(db: Executor, tenantId: string, activityId: string, now: Date): Promise<ActivityStatsRow> {
  const result = await sql<Record<keyof ActivityStatsRow, string | number | null>>`
    select
      count(*) as opened,
      count(*) filter (where status = 'open' and expires_at > ${now}::timestamptz) as open,
      count(*) filter (where status = 'open' and expires_at <= ${now}::timestamptz) as awaiting_settlement,
      count(*) filter (where status = 'succeeded') as succeeded,
      count(*) filter (where status = 'failed') as failed,
      count(*) filter (where status = 'succeeded' and virtual_members > 0) as virtually_filled,
      coalesce(sum(member_count), 0) as members,
      coalesce(sum(virtual_members), 0) as virtual_members,
      (select count(*) from group_buy_participant p where p.tenant_id = ${tenantId} and p.activity_id = ${activityId}) as participants,
      avg(extract(epoch from completed_at - created_at)) filter (where status = 'succeeded' and virtual_members = 0) as average_fill_seconds
    from group_buy_group
    where tenant_id = ${tenantId} and activity_id = ${activityId}`.execute(db);
  const row = result.rows[0]!;
  const n = (v: string | number | null) => Number(v ?? 0);
  return {
    opened: n(row.opened),
    open: n(row.open),
    awaiting_settlement: n(row.awaiting_settlement),
    succeeded: n(row.succeeded),
    failed: n(row.failed),
    virtually_filled: n(row.virtually_filled),
    members: n(row.members),
    virtual_members: n(row.virtual_members),
    participants: n(row.participants),
    average_fill_seconds: row.average_fill_seconds === null ? null : Number(row.average_fill_seconds),
  };
}
