import { Type, type Static } from 'typebox';
import { PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { TEMPLATE_CHANNELS } from './template.render.js';

// Generous caps on the stored text; the channel limits (SMS 500, push title 100) are checked by
// the service so that they answer content_too_long rather than a schema error.
const Text = (description: string, maxLength = 20_000) => Type.String({ maxLength, description });

export const SmsContent = Type.Object({ text: Text('The SMS text (Liquid; at most 500 characters)', 5_000) }, { additionalProperties: false });
export const EmailContent = Type.Object(
  { subject: Text('Subject line', 2_000), html: Text('HTML body; values are HTML-escaped', 200_000), text: Text('Plain-text body', 100_000) },
  { additionalProperties: false },
);
export const PushContent = Type.Object(
  {
    title: Text('Title (at most 100 characters)', 1_000),
    body: Text('Body', 4_000),
    data: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Text('A data value (Liquid)', 2_000), { maxProperties: 50 })),
  },
  { additionalProperties: false },
);
export const WebhookContent = Type.Object(
  { json: Type.Unknown({ description: 'Any JSON value; every string leaf is a Liquid template' }) },
  { additionalProperties: false },
);
export const TemplateContent = Type.Union([SmsContent, EmailContent, PushContent, WebhookContent], {
  description: 'By channel: sms {text}; email {subject, html, text}; push_notification {title, body, data?}; webhook {json}',
});

export const Channel = Type.Union([Type.Literal('sms'), Type.Literal('email'), Type.Literal('push_notification'), Type.Literal('webhook')], {
  description: `One of ${TEMPLATE_CHANNELS.join(', ')}`,
});

export const TemplateDefaults = Type.Record(
  Type.String({ maxLength: 128 }),
  Type.Union([Type.String({ maxLength: 1_000 }), Type.Number(), Type.Boolean()]),
  { maxProperties: 100, description: 'Values for missing variables by dotted name, e.g. {"customer.name": "顾客"}' },
);

export const CreateTemplateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    channel: Channel,
    content: TemplateContent,
    defaults: Type.Optional(TemplateDefaults),
  },
  { additionalProperties: false },
);
export type CreateTemplateInput = Static<typeof CreateTemplateBody>;

/** The channel is fixed at creation; content, when sent, replaces the whole body. */
export const UpdateTemplateBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    content: Type.Optional(TemplateContent),
    defaults: Type.Optional(TemplateDefaults),
  },
  { additionalProperties: false },
);
export type UpdateTemplateInput = Static<typeof UpdateTemplateBody>;

export const Template = Type.Object({
  tenant_id: Type.String(),
  template_id: Type.String(),
  name: Type.String(),
  channel: Channel,
  content: Type.Record(Type.String(), Type.Unknown()),
  defaults: TemplateDefaults,
  created_by: Type.String(),
  updated_by: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type TemplateView = Static<typeof Template>;

export const TemplateList = Type.Object({ templates: Type.Array(Template), pagination: Pagination });
export const TemplateListQuery = Type.Object({ ...PageQuery, channel: Type.Optional(Channel) }, { additionalProperties: false });
export const TemplateParams = Type.Object({ template_id: Type.String({ maxLength: 64 }) });

const PreviewFields = {
  user_id: Type.String({ minLength: 1, maxLength: 128, description: 'The customer to render for' }),
  link: Type.Optional(Type.String({ maxLength: 2_000, description: 'The campaign link ({{ link }}, [链接])' })),
  campaign: Type.Optional(Type.Object({ name: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false })),
  unsubscribe_url: Type.Optional(Type.String({ maxLength: 2_000 })),
};
export const PreviewBody = Type.Object(PreviewFields, { additionalProperties: false });
export type PreviewInput = Static<typeof PreviewBody>;

export const PreviewDraftBody = Type.Object(
  { channel: Channel, content: TemplateContent, defaults: Type.Optional(TemplateDefaults), ...PreviewFields },
  { additionalProperties: false },
);
export type PreviewDraftInput = Static<typeof PreviewDraftBody>;

export const Preview = Type.Object({
  channel: Channel,
  user_id: Type.String(),
  content: Type.Record(Type.String(), Type.Unknown(), { description: 'The content with every template rendered' }),
});
