import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';

export const TASK_TYPES = ['REGISTER', 'SIGN_IN', 'INVITE', 'PURCHASE', 'SHARE', 'CUSTOM'] as const;
export const REPEAT_POLICIES = ['ONCE', 'DAILY', 'WEEKLY', 'MONTHLY', 'UNLIMITED'] as const;
export const CONDITION_TYPES = ['count', 'amount_sum', 'distinct', 'consecutive_days'] as const;
export type RepeatPolicy = (typeof REPEAT_POLICIES)[number];
export type ConditionType = (typeof CONDITION_TYPES)[number];
/** The most one event adds to a count task when it carries event_data.count, unless the task says otherwise. */
export const DEFAULT_MAX_COUNT_PER_EVENT = 100;

const Id = (description?: string) => Type.String({ minLength: 1, maxLength: 128, ...(description ? { description } : {}) });
const EventType = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$', description: 'e.g. USER_REGISTER, SIGN_IN, ORDER_PAID' });
const FieldName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z_][A-Za-z0-9_]*$' });
const Scalar = Type.Union([Type.String({ maxLength: 200 }), Type.Number(), Type.Boolean()]);

const FILTER_NAME = '^[A-Za-z_][A-Za-z0-9_]*$';

export const Condition = Type.Object(
  {
    type: Type.Enum(CONDITION_TYPES, {
      type: 'string',
      description:
        'count: N matching events (an event carrying event_data.count, a positive integer, counts that many, at most max_count_per_event); amount_sum: event_data.amount (integer minor units) adds up to N; distinct: N distinct values of event_data[field]; consecutive_days: an N-day streak in the task\'s time_zone',
    }),
    target: Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'N' }),
    field: Type.Optional(FieldName),
    max_count_per_event: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        description: `count only: the most one event counts when it carries event_data.count (default ${DEFAULT_MAX_COUNT_PER_EVENT}; 1 = every event counts 1)`,
      }),
    ),
    filters: Type.Optional(
      Type.Record(Type.String({ pattern: FILTER_NAME, maxLength: 64 }), Type.Union([Scalar, Type.Array(Scalar, { minItems: 1, maxItems: 100 })]), {
        description: 'event_data fields the event must have: a value, or a list of allowed values',
        maxProperties: 16,
        // A record's key schema becomes a pattern for the values only: without this, a name
        // outside it would be taken with any value at all.
        additionalProperties: false,
        propertyNames: { pattern: FILTER_NAME, maxLength: 64 },
      }),
    ),
  },
  { additionalProperties: false },
);
export type ConditionInput = Static<typeof Condition>;

/**
 * A condition as answered: filters are shown as stored, whatever they hold. Before bodies were
 * checked for non-finite numbers, a filter value of 1e999 was stored as null (JSON has no
 * Infinity), and before filter names were held to their pattern, a name outside it was stored
 * with any value (objects included); answering either with `Condition` failed the response of
 * every list page holding that task. A stored null matches only an event whose field is null; a
 * stored object matches nothing. New and changed tasks cannot get either.
 */
const ConditionView = Type.Object({
  ...Condition.properties,
  filters: Type.Optional(
    Type.Record(Type.String(), Type.Unknown(), {
      description: 'event_data fields the event must have: a value, or a list of allowed values',
    }),
  ),
});

const editable = {
  task_name: Type.String({ minLength: 1, maxLength: 200 }),
  task_type: Type.Enum(TASK_TYPES, { type: 'string' }),
  event_type: EventType,
  product_code: Type.String({ minLength: 1, maxLength: 64 }),
  description: Type.Union([Type.String({ maxLength: 4000 }), Type.Null()]),
  condition: Condition,
  repeat: Type.Enum(REPEAT_POLICIES, { type: 'string', description: 'ONCE (default), DAILY / WEEKLY (ISO) / MONTHLY in time_zone, UNLIMITED' }),
  max_completions: Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()], { description: 'UNLIMITED only; null = no cap' }),
  time_zone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone for days, weeks, months and streaks (default UTC)' }),
  start_time: NullableTimestamp,
  end_time: NullableTimestamp,
  reward_id: Type.Union([Id(), Type.Null()]),
  reward_quantity: Type.Integer({ minimum: 1, maximum: 1000 }),
};

export const CreateTaskBody = Type.Object(
  {
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
    task_name: editable.task_name,
    task_type: editable.task_type,
    event_type: editable.event_type,
    product_code: Type.Optional(editable.product_code),
    description: Type.Optional(editable.description),
    condition: editable.condition,
    repeat: Type.Optional(editable.repeat),
    max_completions: Type.Optional(editable.max_completions),
    time_zone: Type.Optional(editable.time_zone),
    start_time: Type.Optional(editable.start_time),
    end_time: Type.Optional(editable.end_time),
    reward_id: Type.Optional(editable.reward_id),
    reward_quantity: Type.Optional(editable.reward_quantity),
  },
  { additionalProperties: false },
);
export type CreateTaskInput = Static<typeof CreateTaskBody>;
export const UpdateTaskBody = Type.Partial(CreateTaskBody, { additionalProperties: false, minProperties: 1 });
export type UpdateTaskInput = Static<typeof UpdateTaskBody>;

export const Task = Type.Object({
  task_id: Type.String(),
  tenant_id: Type.String(),
  product_code: Type.String(),
  task_name: Type.String(),
  task_type: Type.String(),
  event_type: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  condition: ConditionView,
  repeat: Type.String(),
  max_completions: Type.Union([Type.Integer(), Type.Null()]),
  time_zone: Type.String(),
  start_time: NullableTimestamp,
  end_time: NullableTimestamp,
  reward_id: Type.Union([Type.String(), Type.Null()]),
  reward_quantity: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
  version: Type.Integer(),
});
export type TaskView = Static<typeof Task>;

export const TaskList = Type.Object({ tasks: Type.Array(Task), pagination: Pagination });
export const TaskListQuery = Type.Object(
  {
    ...PageQuery,
    task_type: Type.Optional(editable.task_type),
    event_type: Type.Optional(EventType),
    product_code: Type.Optional(Type.String({ maxLength: 64 })),
    campaign_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only the tasks linked to this campaign' })),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type TaskListInput = Static<typeof TaskListQuery>;
export const TaskParams = Type.Object({ task_id: Type.String({ minLength: 1, maxLength: 64 }) });

export const LinkBody = Type.Object(
  {
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
    task_id: Type.String({ minLength: 1, maxLength: 64 }),
    sort_order: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);
export type LinkInput = Static<typeof LinkBody>;
export const CampaignParams = Type.Object({ campaign_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const CampaignTaskParams = Type.Object({ campaign_id: Type.String({ minLength: 1, maxLength: 64 }), task_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const CampaignTask = Type.Object({ campaign_id: Type.String(), sort_order: Type.Integer(), linked_at: Timestamp, task: Task });
export const CampaignTaskList = Type.Object({ campaign_id: Type.String(), tasks: Type.Array(CampaignTask) });

const EventFields = {
  event_type: EventType,
  user_id: Type.Union([Id('Your id of the user'), Type.Integer({ minimum: 0 })]),
  product_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  event_data: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 64, propertyNames: { maxLength: 64 } })),
  event_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Your id of the event: the same id again changes nothing. Without it, a retry counts again.' })),
  occurred_at: Type.Optional(Type.String({ format: 'date-time', description: 'When it happened (default: now); decides the day, week and month' })),
};
export const TriggerBody = Type.Object({ tenant_id: Type.Optional(Type.String({ maxLength: 64 })), ...EventFields }, { additionalProperties: false });
export type TriggerInput = Static<typeof TriggerBody>;
export const TriggerEvent = Type.Object(EventFields, { additionalProperties: false });
export const BatchBody = Type.Object(
  { tenant_id: Type.Optional(Type.String({ maxLength: 64 })), events: Type.Array(TriggerEvent, { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
export type BatchInput = Static<typeof BatchBody>;

const Problem = Type.Object({ code: Type.String(), message: Type.String() });
export const Completion = Type.Object({
  completion_id: Type.String(),
  seq: Type.Integer(),
  grant_status: Type.String({ description: 'GRANTED, REFUSED (the completion counts; grant_error says why no reward) or NONE' }),
  grant_id: Type.Union([Type.String(), Type.Null()]),
  grant_error: Type.Union([Problem, Type.Null()]),
});
export const TaskOutcome = Type.Object({
  task_id: Type.String(),
  campaign_id: Type.Union([Type.String(), Type.Null()]),
  progressed: Type.Boolean(),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'Why it did not progress: not_in_audience, audience_missing, filter_mismatch, already_completed, ...' }),
  period_key: Type.String(),
  progress: Type.Integer(),
  target: Type.Integer(),
  completions: Type.Integer({ description: 'In this period' }),
  completed: Type.Array(Completion, { description: 'Completions this event made' }),
});
export type TaskOutcomeView = Static<typeof TaskOutcome>;
export const TriggerResult = Type.Object({
  event_id: Type.String(),
  duplicate: Type.Boolean({ description: 'true: this event_id was seen before; nothing changed and the first answer is shown' }),
  tasks: Type.Array(TaskOutcome),
});
export type TriggerResultView = Static<typeof TriggerResult>;
export const BatchResult = Type.Object({
  results: Type.Array(Type.Object({ index: Type.Integer(), ok: Type.Boolean(), result: Type.Union([TriggerResult, Type.Null()]), error: Type.Union([Problem, Type.Null()]) })),
});

export const CompletionLog = Type.Object({
  completion_id: Type.String(),
  task_id: Type.String(),
  campaign_id: Type.String(),
  product_code: Type.String(),
  user_id: Type.String(),
  event_id: Type.String(),
  period_key: Type.String(),
  seq: Type.Integer(),
  reward_id: Type.Union([Type.String(), Type.Null()]),
  reward_quantity: Type.Union([Type.Integer(), Type.Null()]),
  grant_id: Type.Union([Type.String(), Type.Null()]),
  grant_status: Type.String(),
  grant_error: Type.Union([Problem, Type.Null()]),
  completed_at: Timestamp,
});
export type CompletionLogView = Static<typeof CompletionLog>;
export const CompletionLogList = Type.Object({ task_completion_logs: Type.Array(CompletionLog), pagination: Pagination });
export const CompletionLogQuery = Type.Object(
  {
    ...PageQuery,
    task_id: Type.Optional(Id()),
    campaign_id: Type.Optional(Id()),
    user_id: Type.Optional(Id()),
    completed_from: Type.Optional(Type.String({ format: 'date-time' })),
    completed_to: Type.Optional(Type.String({ format: 'date-time' })),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type CompletionLogInput = Static<typeof CompletionLogQuery>;

export const StatsQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type StatsInput = Static<typeof StatsQuery>;
const StatsNumbers = { completions: Type.Integer(), unique_users: Type.Integer(), rewards_granted: Type.Integer(), grants_refused: Type.Integer() };
export const CompletionStats = Type.Object({
  task_id: Type.String(),
  time_zone: Type.String(),
  ...StatsNumbers,
  by_day: Type.Array(Type.Object({ day: Type.String({ description: 'YYYY-MM-DD in the task\'s time_zone' }), ...StatsNumbers })),
});

export const UserParams = Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 128 }) });
export const UserTasksQuery = Type.Object(
  { product_code: Type.Optional(Type.String({ maxLength: 64 })), tenant_id: Type.Optional(Type.String({ maxLength: 64 })) },
  { additionalProperties: false },
);
export const UserTask = Type.Object({
  task: Task,
  campaign_ids: Type.Array(Type.String()),
  period_key: Type.String(),
  progress: Type.Integer(),
  target: Type.Integer(),
  completions: Type.Integer({ description: 'In the current period' }),
  completed: Type.Boolean({ description: 'No more completions possible in the current period' }),
});
export const UserTasks = Type.Object({ user_id: Type.String(), tasks: Type.Array(UserTask) });
