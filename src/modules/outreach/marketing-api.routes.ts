/**
 * The product document's own paths (/api/marketing/...), verbatim, as thin adapters over the
 * outreach services: the same checks, the same error codes, the document's shapes. `content` is a
 * string there: the SMS text; an e-mail's text body (the campaign name is the subject); a push
 * body (the name is the title); a webhook's {"text": content}.
 */
import { isDeepStrictEqual } from 'node:util';
import { Type } from 'typebox';
import { invalidRequest } from '../../platform/errors.js';
import { authErrors, errors, NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { CAMPAIGN_STATUSES, type CampaignView, type CreateCampaignInput, type UpdateCampaignInput } from './campaign.schemas.js';
import type { Outreach } from './outreach.module.js';
import { RecordStatus } from './record.schemas.js';
import type { RecordService } from './record.service.js';
import { TriggerBody } from './run.schemas.js';
import { Channel } from './template.schemas.js';

const tags = ['outreach: product document paths'];
const config = { auth: 'tenant' as const };
const Id = Type.String({ minLength: 1, maxLength: 64 });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  type: Channel,
  target_tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
  target_segment_id: Type.Optional(Nullable(Id)),
  content: Type.Optional(Nullable(Type.String({ maxLength: 100_000, description: 'SMS text, e-mail text body, push body or webhook text (Liquid and [客户姓名] / [链接])' }))),
  content_template_id: Type.Optional(Nullable(Id)),
  start_time: Type.String({ format: 'date-time' }),
  end_time: Type.String({ format: 'date-time' }),
};
const CreateBody = Type.Object(fields, { additionalProperties: false });
const UpdateBody = Type.Object(
  {
    ...fields,
    name: Type.Optional(fields.name),
    type: Type.Optional(Channel),
    start_time: Type.Optional(Nullable(fields.start_time)),
    end_time: Type.Optional(Nullable(fields.end_time)),
  },
  { additionalProperties: false, minProperties: 1 },
);
const Campaign = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  status: Type.String({ description: CAMPAIGN_STATUSES.join(', ') }),
  target_tags: Type.Array(Type.String()),
  target_segment_id: Nullable(Type.String()),
  content_template_id: Nullable(Type.String()),
  content: Nullable(Type.String()),
  start_time: NullableTimestamp,
  end_time: NullableTimestamp,
  actual_start_time: NullableTimestamp,
  actual_end_time: NullableTimestamp,
  created_by: Type.String(),
  updated_by: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
const Params = Type.Object({ id: Id });
const ListQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(Type.Union(CAMPAIGN_STATUSES.map((s) => Type.Literal(s)))), type: Type.Optional(Channel), name: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);
const TriggerAnswer = Type.Object({ status: Type.String({ description: 'triggered or simulation_started' }), message: Type.String(), execution_id: Type.String() });
const RecordsQuery = Type.Object({ ...PageQuery, campaign_id: Id, customer_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), status: Type.Optional(RecordStatus), channel: Type.Optional(Channel) }, { additionalProperties: false });
const Record_ = Type.Object({
  id: Type.String(),
  campaign_id: Type.String(),
  customer_id: Type.String(),
  channel: Type.String(),
  status: Type.String(),
  error_message: Nullable(Type.String()),
  response: Type.Unknown(),
  sent_at: NullableTimestamp,
  opened_at: NullableTimestamp,
  clicked_at: NullableTimestamp,
});

/** Liquid sees the campaign name as plain text. */
const literal = (s: string) => (/\{[{%]/.test(s) && !s.includes('endraw') ? `{% raw %}${s}{% endraw %}` : s);
/** The text as HTML: escaped and line breaks kept, Liquid left as is. */
const htmlOf = (text: string) =>
  text
    .split(/(\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\})/)
    .map((part, i) => (i % 2 ? part : part.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r?\n/g, '<br>')))
    .join('');

function contentFor(channel: string, text: string, name: string): CreateCampaignInput['content'] {
  if (channel === 'sms') return { text };
  if (channel === 'email') return { subject: literal(name), text, html: htmlOf(text) };
  if (channel === 'push_notification') return { title: literal(name.slice(0, 100)), body: text };
  return { json: { text } };
}

function textOf(c: CampaignView): string | null {
  const content = c.content as Record<string, unknown> | null;
  if (!content) return null;
  const v = c.channel === 'push_notification' ? content.body : c.channel === 'webhook' ? (content.json as { text?: unknown } | null)?.text : content.text;
  if (typeof v === 'string') return v;
  return c.channel === 'webhook' ? JSON.stringify(content.json ?? null) : null;
}

const toDocument = (c: CampaignView) => ({
  id: c.campaign_id,
  name: c.name,
  type: c.channel,
  status: c.status,
  target_tags: c.target_tags,
  target_segment_id: c.target_segment_id,
  content_template_id: c.template_id,
  content: textOf(c),
  start_time: c.start_time,
  end_time: c.end_time,
  actual_start_time: c.actual_start_time,
  actual_end_time: c.actual_end_time,
  created_by: c.created_by,
  updated_by: c.updated_by,
  created_at: c.created_at,
  updated_at: c.updated_at,
});

export function marketingApiRoutes(app: Api, deps: { outreach: Outreach; uow: UnitOfWork; records: RecordService }): void {
  const { outreach, uow, records } = deps;
  const { campaigns, runs } = outreach;

  app.post(
    '/api/marketing/campaigns',
    { config, schema: { tags, summary: 'Create a campaign (the document shape of POST /v1/outreach/campaigns)', body: CreateBody, response: { 201: Campaign, ...errors(...authErrors, 404) } } },
    async (request, reply) => {
      const b = request.body;
      const input: CreateCampaignInput = {
        name: b.name,
        channel: b.type,
        start_time: b.start_time,
        end_time: b.end_time,
        ...(b.target_tags !== undefined ? { target_tags: b.target_tags } : {}),
        ...(b.target_segment_id !== undefined ? { target_segment_id: b.target_segment_id } : {}),
        ...(b.content_template_id !== undefined ? { template_id: b.content_template_id } : {}),
        ...(b.content != null ? { content: contentFor(b.type, b.content, b.name) } : {}),
      };
      return uow(request, reply, 201, async (trx) => toDocument(await campaigns.createCampaign(request.actor!, input, trx)));
    },
  );
  app.get(
    '/api/marketing/campaigns',
    { config, schema: { tags, summary: 'List campaigns, newest first', querystring: ListQuery, response: { 200: Type.Object({ campaigns: Type.Array(Campaign), pagination: Pagination }), ...errors(...authErrors) } } },
    async (request) => {
      const { type, ...rest } = request.query;
      const list = await campaigns.listCampaigns(request.actor!, { ...rest, ...(type !== undefined ? { channel: type } : {}) });
      return { campaigns: list.campaigns.map(toDocument), pagination: list.pagination };
    },
  );
  app.get(
    '/api/marketing/campaigns/:id',
    { config, schema: { tags, summary: 'Get a campaign', params: Params, response: { 200: Campaign, ...errors(...authErrors, 404) } } },
    async (request) => toDocument(await campaigns.getCampaign(request.actor!, request.params.id)),
  );
  app.put(
    '/api/marketing/campaigns/:id',
    { config, schema: { tags, summary: 'Change a campaign before it starts (draft or scheduled)', params: Params, body: UpdateBody, response: { 200: Campaign, ...errors(...authErrors, 404, 409) } } },
    async (request, reply) =>
      uow(request, reply, 200, async (trx) => {
        const b = request.body;
        const current = await campaigns.getCampaign(request.actor!, request.params.id, trx);
        if (b.type !== undefined && b.type !== current.channel) throw invalidRequest('type', `the campaign sends ${current.channel}; the type cannot change`);
        const name = b.name ?? current.name;
        // The name is the subject / title: a new name moves into content derived from the old one.
        const oldText = textOf(current);
        const derived = oldText !== null && b.name !== undefined && b.content_template_id == null && isDeepStrictEqual(current.content, contentFor(current.channel, oldText, current.name));
        const text = b.content !== undefined ? b.content : derived ? oldText : undefined;
        const input: UpdateCampaignInput = {
          ...(b.name !== undefined ? { name: b.name } : {}),
          ...(b.target_tags !== undefined ? { target_tags: b.target_tags } : {}),
          ...(b.target_segment_id !== undefined ? { target_segment_id: b.target_segment_id } : {}),
          ...(b.content_template_id !== undefined ? { template_id: b.content_template_id } : {}),
          ...(text !== undefined ? { content: text === null ? null : contentFor(current.channel, text, name) } : {}),
          ...(b.start_time !== undefined ? { start_time: b.start_time } : {}),
          ...(b.end_time !== undefined ? { end_time: b.end_time } : {}),
        };
        if (Object.keys(input).length === 0) return toDocument(current);
        return toDocument(await campaigns.updateCampaign(request.actor!, request.params.id, input, trx));
      }),
  );
  app.post(
    '/api/marketing/campaigns/:id/trigger',
    {
      config,
      schema: { tags, summary: 'Start a run now (actual, or a simulation that sends nothing)', params: Params, body: TriggerBody, response: { 200: TriggerAnswer, ...errors(...authErrors, 404, 409) } },
      // The body is optional (actual by default).
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
    },
    async (request, reply) =>
      uow(request, reply, 200, async (trx) => {
        const type = request.body?.execution_type ?? 'actual';
        const run = await runs.trigger(request.actor!, request.params.id, type, trx);
        return type === 'simulation'
          ? { status: 'simulation_started', message: '营销活动模拟已开始执行。', execution_id: run.run_id }
          : { status: 'triggered', message: '营销活动已成功触发执行。', execution_id: run.run_id };
      }),
  );
  app.post(
    '/api/marketing/campaigns/:id/archive',
    { config, schema: { tags, summary: 'Archive a campaign (refused while a run is in progress)', params: Params, response: { 200: Campaign, ...errors(...authErrors, 404, 409) } } },
    async (request, reply) =>
      uow(request, reply, 200, async (trx) => {
        const { id } = request.params;
        const tenantId = request.actor!.kind === 'tenant' ? request.actor!.tenantId : '';
        return toDocument(await campaigns.archiveCampaign(request.actor!, id, (exec) => runs.liveRunOf(tenantId, id, exec), trx));
      }),
  );
  app.get(
    '/api/marketing/records',
    { config, schema: { tags, summary: "A campaign's message records, newest first", querystring: RecordsQuery, response: { 200: Type.Object({ records: Type.Array(Record_), pagination: Pagination }), ...errors(...authErrors, 404) } } },
    async (request) => {
      await campaigns.getCampaign(request.actor!, request.query.campaign_id);
      const list = await records.listRecords(request.actor!, request.query);
      return {
        records: list.records.map((r) => ({
          id: r.record_id,
          campaign_id: r.campaign_id,
          customer_id: r.customer_id,
          channel: r.channel,
          status: r.status,
          error_message: r.error_message,
          response: r.response,
          sent_at: r.sent_at,
          opened_at: r.opened_at,
          clicked_at: r.clicked_at,
        })),
        pagination: list.pagination,
      };
    },
  );
}
