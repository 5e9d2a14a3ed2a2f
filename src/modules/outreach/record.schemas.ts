import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { Channel } from './template.schemas.js';

export const RECORD_STATUSES = [
  'pending',
  'held',
  'sending',
  'deferred',
  'sent',
  'delivered',
  'failed',
  'opened',
  'clicked',
  'skipped',
  'cancelled',
  'would_send',
] as const;

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 64, description });
export const RecordStatus = Type.Union(
  RECORD_STATUSES.map((s) => Type.Literal(s)),
  { description: RECORD_STATUSES.join(', ') },
);

const filters = {
  campaign_id: Type.Optional(Id('Records of the runs of this campaign')),
  run_id: Type.Optional(Id('Records of this run')),
  customer_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Records of this customer (user id)' })),
  status: Type.Optional(RecordStatus),
  channel: Type.Optional(Channel),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'sent_at (updated_at when never sent) at or after this instant' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'sent_at (updated_at when never sent) before this instant' })),
};

export const RecordListQuery = Type.Object({ ...PageQuery, ...filters }, { additionalProperties: false });
export type RecordListInput = Static<typeof RecordListQuery>;
export const RecordExportQuery = Type.Object(filters, { additionalProperties: false });
export type RecordFilterInput = Static<typeof RecordExportQuery>;

export const RecordParams = Type.Object({ record_id: Type.String({ minLength: 1, maxLength: 80, description: '<run_id>-<seq>' }) });

export const OutreachRecord = Type.Object({
  record_id: Type.String({ description: '<run_id>-<seq>' }),
  run_id: Type.String(),
  campaign_id: Type.String(),
  customer_id: Type.String(),
  channel: Type.String(),
  variant: Type.Union([Type.String(), Type.Null()]),
  status: Type.String({ description: RECORD_STATUSES.join(', ') }),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'Why skipped, deferred or failed' }),
  error_message: Type.Union([Type.String(), Type.Null()]),
  address: Type.Union([Type.String(), Type.Null()], { description: 'Masked: the last 4 characters of a phone or token; the first character and the domain of an e-mail' }),
  attempts: Type.Integer(),
  provider_message_id: Type.Union([Type.String(), Type.Null()]),
  response: Type.Unknown({ description: "The provider's answer or the customer's interaction (JSON), or null" }),
  sent_at: NullableTimestamp,
  delivered_at: NullableTimestamp,
  failed_at: NullableTimestamp,
  opened_at: NullableTimestamp,
  machine_opened_at: NullableTimestamp,
  clicked_at: NullableTimestamp,
  converted_at: NullableTimestamp,
  updated_at: Timestamp,
});
export type RecordView = Static<typeof OutreachRecord>;

export const RecordList = Type.Object({ records: Type.Array(OutreachRecord), pagination: Pagination });

/** The columns of the CSV export, in order: the fields of a record. */
export const RECORD_CSV_COLUMNS = Object.keys(OutreachRecord.properties) as (keyof RecordView)[];
