import { Type, type Static } from 'typebox';
import { ClientIpField } from '../../platform/client-ip.js';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';

const Id = Type.String({ minLength: 1, maxLength: 64 });
const UserId = Type.String({ minLength: 1, maxLength: 128 });
const OrderId = Type.String({ minLength: 1, maxLength: 128, description: "The tenant's order holding the user's payment (sent back in webhooks for fulfilment or refund)" });
const Money = (description: string) => Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, description: `${description}, integer minor units (fen, cents)` });

export const ACTIVITY_STATUSES = ['scheduled', 'active', 'ended'] as const;
export const GROUP_STATUSES = ['open', 'succeeded', 'failed'] as const;

const activityFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  item_id: Type.String({ minLength: 1, maxLength: 128 }),
  group_price: Money('Price per member in a group'),
  original_price: Money('Price outside a group'),
  group_size: Type.Integer({ minimum: 2, maximum: 1000, description: 'Members a group needs; at most group_buys.max_group_size (default 10)' }),
  open_minutes: Type.Integer({ minimum: 1, maximum: 43_200, description: 'How long a group stays open (never past end_time)' }),
  per_user_limit: Type.Integer({ minimum: 1, maximum: 1000, description: 'Groups a user may join (or lead) in the activity; a failed group gives its place back' }),
  start_time: Type.String({ format: 'date-time' }),
  end_time: Type.String({ format: 'date-time' }),
  virtual_fill: Type.Boolean({ description: 'At expiry an incomplete group is filled virtually and succeeds' }),
  webhook_url: Type.String({ format: 'uri', maxLength: 2000, description: 'Receives group_buy.succeeded / group_buy.failed, signed like reward webhooks' }),
  webhook_secret: Type.String({ minLength: 16, maxLength: 256, description: 'HMAC key of the webhook; never shown back' }),
};

export const CreateActivityBody = Type.Object(
  {
    ...activityFields,
    open_minutes: Type.Optional(Type.Integer({ ...activityFields.open_minutes, default: 1440 })),
    per_user_limit: Type.Optional(Type.Integer({ ...activityFields.per_user_limit, default: 1 })),
    virtual_fill: Type.Optional(Type.Boolean({ ...activityFields.virtual_fill, default: false })),
    webhook_url: Type.Optional(activityFields.webhook_url),
    webhook_secret: Type.Optional(activityFields.webhook_secret),
  },
  { additionalProperties: false },
);
export type CreateActivityInput = Static<typeof CreateActivityBody>;

export const UpdateActivityBody = Type.Object(
  {
    name: Type.Optional(activityFields.name),
    item_id: Type.Optional(activityFields.item_id),
    group_price: Type.Optional(activityFields.group_price),
    original_price: Type.Optional(activityFields.original_price),
    group_size: Type.Optional(activityFields.group_size),
    open_minutes: Type.Optional(activityFields.open_minutes),
    per_user_limit: Type.Optional(activityFields.per_user_limit),
    start_time: Type.Optional(activityFields.start_time),
    end_time: Type.Optional(activityFields.end_time),
    virtual_fill: Type.Optional(activityFields.virtual_fill),
    webhook_url: Type.Optional(Type.Union([activityFields.webhook_url, Type.Null()])),
    webhook_secret: Type.Optional(Type.Union([activityFields.webhook_secret, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateActivityInput = Static<typeof UpdateActivityBody>;

export const Activity = Type.Object({
  activity_id: Type.String(),
  name: Type.String(),
  item_id: Type.String(),
  group_price: Type.Integer(),
  original_price: Type.Integer(),
  group_size: Type.Integer(),
  open_minutes: Type.Integer(),
  per_user_limit: Type.Integer(),
  start_time: Timestamp,
  end_time: Timestamp,
  virtual_fill: Type.Boolean(),
  webhook_url: Type.Union([Type.String(), Type.Null()]),
  status: Type.String({ description: ACTIVITY_STATUSES.join(', ') }),
  ended_at: NullableTimestamp,
  created_by: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type ActivityView = Static<typeof Activity>;

export const ActivityList = Type.Object({ activities: Type.Array(Activity), pagination: Pagination });
export const ActivityListQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(Type.Union(ACTIVITY_STATUSES.map((s) => Type.Literal(s)))) },
  { additionalProperties: false },
);
export type ActivityListQueryType = Static<typeof ActivityListQuery>;
export const ActivityParams = Type.Object({ activity_id: Id });

export const Member = Type.Object({
  user_id: Type.String(),
  order_id: Type.Union([Type.String(), Type.Null()]),
  is_leader: Type.Boolean(),
  joined_at: Timestamp,
});

export const Group = Type.Object({
  group_id: Type.String(),
  activity_id: Type.String(),
  leader_user_id: Type.String(),
  group_size: Type.Integer(),
  member_count: Type.Integer({ description: 'Real members (rows in members)' }),
  virtual_members: Type.Integer({ description: 'Places filled by the virtual fill at expiry' }),
  status: Type.String({ description: GROUP_STATUSES.join(', ') }),
  virtually_filled: Type.Boolean(),
  expires_at: Timestamp,
  created_at: Timestamp,
  completed_at: NullableTimestamp,
  members: Type.Array(Member),
});
export type GroupView = Static<typeof Group>;

export const GroupList = Type.Object({ groups: Type.Array(Group), pagination: Pagination });
export const GroupListQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(Type.Union(GROUP_STATUSES.map((s) => Type.Literal(s)))) },
  { additionalProperties: false },
);
export type GroupListQueryType = Static<typeof GroupListQuery>;
export const GroupParams = Type.Object({ group_id: Id });

export const JoinBody = Type.Object(
  { user_id: UserId, order_id: Type.Optional(OrderId), client_ip: Type.Optional(ClientIpField) },
  { additionalProperties: false },
);
export type JoinInput = Static<typeof JoinBody>;

const Count = (description: string) => Type.Integer({ minimum: 0, description });

export const ActivityStats = Type.Object({
  activity_id: Type.String(),
  groups_opened: Count('groups opened in the activity (every state)'),
  groups_open: Count('groups still joinable now'),
  groups_awaiting_settlement: Count('groups past expires_at that the sweep has not settled yet (seconds at most)'),
  groups_succeeded: Count('groups that succeeded: filled by members, or virtually at expiry'),
  groups_failed: Count('groups not full at expiry (members refunded)'),
  groups_virtually_filled: Count('succeeded groups completed by the virtual fill'),
  participants: Count('distinct users who joined or led at least one group (also in groups that failed since)'),
  members: Count('member places taken by real users in all groups (a user in two groups counts twice)'),
  virtual_members: Count('places filled by the virtual fill'),
  success_rate: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], {
    description: 'groups_succeeded / (groups_succeeded + groups_failed), 4 decimals; null before a group settles',
  }),
  average_fill_seconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], {
    description: 'mean seconds from opening to the filling join, over groups filled by real members; null before one fills',
  }),
  as_of: Timestamp,
});
export type ActivityStatsView = Static<typeof ActivityStats>;
