import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';

export const TriggerBody = Type.Object(
  {
    execution_type: Type.Optional(
      Type.Union([Type.Literal('actual'), Type.Literal('simulation')], {
        default: 'actual',
        description: 'actual sends; simulation runs every step but the provider call and reports what would happen',
      }),
    ),
  },
  { additionalProperties: false },
);
export type TriggerInput = Static<typeof TriggerBody>;

const Count = Type.Integer();
export const Stats = Type.Object({
  planned: Count,
  attempted: Count,
  sent: Count,
  delivered: Count,
  failed: Count,
  opened: Count,
  machine_opened: Count,
  clicked: Count,
  converted: Count,
  skipped: Count,
  skipped_by_reason: Type.Record(Type.String(), Count),
  deferred: Count,
  held: Count,
  cancelled: Count,
  would_send: Count,
  remaining: Count,
  rates: Type.Object({
    send_success_rate: Type.Union([Type.Number(), Type.Null()]),
    delivery_rate: Type.Union([Type.Number(), Type.Null()]),
    open_rate: Type.Union([Type.Number(), Type.Null()]),
    click_rate: Type.Union([Type.Number(), Type.Null()]),
    click_to_open_rate: Type.Union([Type.Number(), Type.Null()]),
    conversion_rate: Type.Union([Type.Number(), Type.Null()]),
  }),
});

export const Run = Type.Object({
  run_id: Type.String(),
  execution_id: Type.String({ description: 'The same as run_id (the product document calls it execution_id)' }),
  campaign_id: Type.String(),
  execution_type: Type.String(),
  status: Type.String({ description: 'resolving, sending, paused, cancelled, completed' }),
  triggered_by: Type.String(),
  planned: Type.Integer(),
  provider_id: Type.Union([Type.String(), Type.Null()]),
  rate_per_second: Type.Number(),
  stats: Stats,
  variants: Type.Record(Type.String(), Stats),
  eta_seconds: Type.Integer({ description: 'Time left at the provider rate for what is still to send' }),
  predicted_duration_seconds: Type.Union([Type.Integer(), Type.Null()], { description: 'Simulation: how long the real run would take at the rate limit' }),
  samples: Type.Array(Type.Unknown(), { description: 'Simulation: the first rendered messages' }),
  ab: Type.Unknown(),
  created_at: Timestamp,
  started_at: NullableTimestamp,
  paused_at: NullableTimestamp,
  finished_at: NullableTimestamp,
});

export const RunParams = Type.Object({ run_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const RunListQuery = Type.Object(
  {
    ...PageQuery,
    campaign_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    status: Type.Optional(Type.Union(['resolving', 'sending', 'paused', 'cancelled', 'completed'].map((s) => Type.Literal(s)))),
  },
  { additionalProperties: false },
);
export const RunList = Type.Object({ runs: Type.Array(Run), pagination: Pagination });

export const CampaignStats = Type.Intersect([Type.Object({ campaign_id: Type.String(), runs: Type.Integer(), variants: Type.Record(Type.String(), Stats) }), Stats]);
