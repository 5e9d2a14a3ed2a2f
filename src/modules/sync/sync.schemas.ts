import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { RECORD_KINDS, TARGET_TYPES } from './sync.tables.js';

const Name = Type.String({ minLength: 1, maxLength: 128 });

const KindMappingBody = Type.Object(
  {
    table: Type.String({ minLength: 1, maxLength: 127, description: 'The target table, optionally `schema.table` (letters, digits, _)' }),
    key_column: Type.String({ minLength: 1, maxLength: 63, description: "Receives the record's id; the table must hold a unique key on it (a retry then inserts nothing)" }),
    fields: Type.Record(Type.String({ minLength: 1, maxLength: 600 }), Type.String({ minLength: 1, maxLength: 63 }), {
      minProperties: 1,
      maxProperties: 100,
      description: 'Source path -> column, e.g. {"orders.phone": "student_phone", "orders.form_data.name": "student_name"}',
    }),
  },
  { additionalProperties: false },
);

const MappingsBody = Type.Object(
  { order: Type.Optional(KindMappingBody), reward: Type.Optional(KindMappingBody) },
  { additionalProperties: false, minProperties: 1, description: 'Per record kind (order, reward): where its records go' },
);

const targetFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  type: Type.Union([Type.Literal('postgresql'), Type.Literal('mysql'), Type.Literal('mariadb'), Type.Literal('sqlserver'), Type.Literal('oracle')], { description: TARGET_TYPES.join(', ') }),
  host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9._:-]+$' }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  user: Name,
  password: Type.String({ maxLength: 512, description: 'Sealed at rest; never shown back' }),
  database: Type.String({ minLength: 1, maxLength: 128, description: 'The database (Oracle: the service name)' }),
  ssl: Type.Boolean({ description: 'Connect with TLS (the server certificate is not verified)' }),
  mappings: MappingsBody,
};

export const CreateTargetBody = Type.Object({ ...targetFields, ssl: Type.Optional(Type.Boolean({ ...targetFields.ssl, default: false })) }, { additionalProperties: false });
export type CreateTargetInput = Static<typeof CreateTargetBody>;

export const UpdateTargetBody = Type.Object(
  {
    name: Type.Optional(targetFields.name),
    type: Type.Optional(targetFields.type),
    host: Type.Optional(targetFields.host),
    port: Type.Optional(targetFields.port),
    user: Type.Optional(targetFields.user),
    password: Type.Optional(targetFields.password),
    database: Type.Optional(targetFields.database),
    ssl: Type.Optional(targetFields.ssl),
    mappings: Type.Optional(MappingsBody),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateTargetInput = Static<typeof UpdateTargetBody>;

const KindMappingView = Type.Object({ table: Type.String(), key_column: Type.String(), fields: Type.Record(Type.String(), Type.String()) });

export const Target = Type.Object({
  target_id: Type.String(),
  name: Type.String(),
  type: targetFields.type,
  host: Type.String(),
  port: Type.Integer(),
  user: Type.String(),
  database: Type.String(),
  ssl: Type.Boolean(),
  password_set: Type.Boolean({ description: 'The password itself is never answered' }),
  mappings: Type.Object({ order: Type.Optional(KindMappingView), reward: Type.Optional(KindMappingView) }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type TargetView = Static<typeof Target>;

export const TargetList = Type.Object({ data: Type.Array(Target) });
export const TargetParams = Type.Object({ target_id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

const Kind = Type.Union([Type.Literal('order'), Type.Literal('reward')], { description: RECORD_KINDS.join(', ') });
const Status = Type.Union([Type.Literal('pending'), Type.Literal('synced'), Type.Literal('failed'), Type.Literal('skipped')]);

export const SyncRecord = Type.Object({
  sync_id: Type.String(),
  target_id: Type.Union([Type.String(), Type.Null()]),
  kind: Kind,
  record_id: Type.String(),
  order_id: Type.String(),
  status: Status,
  attempts: Type.Integer(),
  last_error: Type.Union([Type.String(), Type.Null()]),
  last_attempt_at: NullableTimestamp,
  synced_at: NullableTimestamp,
  created_at: Timestamp,
});
export type SyncRecordView = Static<typeof SyncRecord>;

export const OrderSync = Type.Object({
  order_id: Type.String(),
  sync_status: Type.Union(Status.anyOf, {
    description: 'The order as a whole: failed if any record failed, else pending if any is pending, else synced if any synced, else skipped',
  }),
  retried: Type.Optional(Type.Integer({ description: 'Records put back to pending by this retry' })),
  records: Type.Array(SyncRecord),
});
export type OrderSyncView = Static<typeof OrderSync>;

export const RecordListQuery = Type.Object(
  {
    status: Type.Optional(Status),
    kind: Type.Optional(Kind),
    target_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type RecordListInput = Static<typeof RecordListQuery>;
export const RecordList = Type.Object({ records: Type.Array(SyncRecord), pagination: Pagination });

const OrderId = Type.String({ minLength: 1, maxLength: 128 });
export const OrderParams = Type.Object({ order_id: OrderId }, { additionalProperties: false });
export const DocumentOrderParams = Type.Object({ orderId: OrderId }, { additionalProperties: false });

export const CheckResult = Type.Object({
  target_id: Type.String(),
  ok: Type.Boolean({ description: 'Connected, and every mapped table has the key column (under a unique key) and the mapped columns' }),
  latency_ms: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the connection failed (no credentials in it)' }),
  kinds: Type.Array(
    Type.Object({
      kind: Kind,
      table: Type.String(),
      table_found: Type.Boolean(),
      missing_columns: Type.Array(Type.String()),
      key_unique: Type.Boolean({ description: 'A single-column unique key (or unique index) holds the key column: without one a retry could insert twice' }),
    }),
  ),
});
export type CheckView = Static<typeof CheckResult>;
