-- Outreach message templates: one body per channel, validated (Liquid, known variables, length)
-- when saved so that a send never fails on the template. Soft-deleted: campaigns that sent with
-- a template keep being explainable after it is removed.

create table outreach_template (
  tenant_id text not null,
  template_id text not null,
  name text not null,
  channel text not null check (channel in ('sms', 'email', 'push_notification', 'webhook')),
  -- sms {text}; email {subject, html, text}; push_notification {title, body, data?}; webhook {json}.
  content jsonb not null,
  -- Values for variables a customer lacks, by dotted name: {"customer.name": "顾客"}.
  defaults jsonb not null default '{}',
  created_by text not null,
  updated_by text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  deleted_at timestamptz,
  primary key (tenant_id, template_id)
);
create index outreach_template_list on outreach_template (tenant_id, created_at desc) where deleted_at is null;
