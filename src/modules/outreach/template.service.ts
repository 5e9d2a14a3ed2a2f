import type { Database, Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { invalidRequest } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import type { CustomerService } from '../customers/index.js';
import { outreachErrors } from './outreach.errors.js';
import * as repo from './template.repo.js';
import { type RenderVariables, renderTemplate, type TemplateChannel, validateTemplate } from './template.render.js';
import type { CreateTemplateInput, PreviewDraftInput, PreviewInput, TemplateView, UpdateTemplateInput } from './template.schemas.js';

export type TemplateService = ReturnType<typeof createTemplateService>;

type Content = Record<string, unknown>;
type Defaults = Record<string, string | number | boolean>;

/** The fields each channel's content must have (the schema accepts any channel's shape). */
const REQUIRED: Record<TemplateChannel, readonly string[]> = {
  sms: ['text'],
  email: ['subject', 'html', 'text'],
  push_notification: ['title', 'body'],
  webhook: ['json'],
};
const ALLOWED: Record<TemplateChannel, readonly string[]> = { ...REQUIRED, push_notification: ['title', 'body', 'data'] };

function checkTemplate(channel: TemplateChannel, content: Content, defaults: Defaults): void {
  for (const key of REQUIRED[channel]) {
    if (!(key in content)) throw invalidRequest(`content.${key}`, `is required for the ${channel} channel`);
  }
  for (const key of Object.keys(content)) {
    if (!ALLOWED[channel].includes(key)) throw invalidRequest(`content.${key}`, `is not a field of the ${channel} channel`);
  }
  validateTemplate(channel, content, defaults);
}

function toView(row: repo.TemplateRow): TemplateView {
  return {
    tenant_id: row.tenant_id,
    template_id: row.template_id,
    name: row.name,
    channel: row.channel as TemplateChannel,
    content: row.content as Content,
    defaults: (row.defaults ?? {}) as Defaults,
    created_by: row.created_by,
    updated_by: row.updated_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

const text = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value) : undefined);

export function createTemplateService(deps: { db: Database; clock: Clock; customers: Pick<CustomerService, 'findCustomer'> }) {
  const { db, clock, customers } = deps;

  /** The render variables of one customer of the tenant (name, phone, email are profile attributes). */
  async function variablesFor(tenantId: string, input: PreviewInput, exec: Executor): Promise<RenderVariables> {
    const row = await customers.findCustomer(tenantId, input.user_id, exec);
    if (!row) throw outreachErrors.customerNotFound(input.user_id);
    const attributes = (row.attributes ?? {}) as Record<string, unknown>;
    return {
      customer: {
        user_id: row.user_id,
        name: text(attributes.name),
        phone: text(attributes.phone),
        email: text(attributes.email),
        attributes,
        tags: row.tags,
      },
      link: input.link,
      campaign: input.campaign,
      unsubscribe_url: input.unsubscribe_url,
    };
  }

  async function requireTemplate(tenantId: string, templateId: string, exec: Executor) {
    const row = await repo.findTemplate(exec, tenantId, templateId);
    if (!row) throw outreachErrors.templateNotFound(templateId);
    return row;
  }

  return {
    /** Saves a new template after validating every field (Liquid, variables, channel limits). */
    async createTemplate(actor: Actor, input: CreateTemplateInput, exec: Executor = db): Promise<TemplateView> {
      const tenant = requireTenant(actor);
      const defaults = input.defaults ?? {};
      checkTemplate(input.channel, input.content as Content, defaults);
      const now = clock.now();
      const row = await repo.insertTemplate(exec, {
        tenant_id: tenant.tenantId,
        template_id: newId('tpl', now.getTime()),
        name: input.name,
        channel: input.channel,
        content: JSON.stringify(input.content),
        defaults: JSON.stringify(defaults),
        created_by: tenant.keyId,
        updated_by: tenant.keyId,
        created_at: now,
        updated_at: now,
        deleted_at: null,
      });
      return toView(row);
    },

    /** One live template of the caller's tenant. */
    async getTemplate(actor: Actor, templateId: string, exec: Executor = db): Promise<TemplateView> {
      const tenant = requireTenant(actor);
      return toView(await requireTemplate(tenant.tenantId, templateId, exec));
    },

    /** The tenant's live templates, newest first, optionally of one channel. */
    async listTemplates(actor: Actor, query: { page?: number; page_size?: number; channel?: TemplateChannel }, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await repo.listTemplates(exec, tenant.tenantId, { ...page, channel: query.channel });
      return { templates: rows.map(toView), pagination: pagination(total, page) };
    },

    /** Renames and / or replaces content or defaults; the result is validated as a whole. */
    async updateTemplate(actor: Actor, templateId: string, input: UpdateTemplateInput, exec: Executor = db): Promise<TemplateView> {
      const tenant = requireTenant(actor);
      if (input.name === undefined && input.content === undefined && input.defaults === undefined) throw outreachErrors.emptyUpdate();
      // Content and defaults are validated together, so the write only lands on the version that
      // was validated (a concurrent update of the other part makes this read and check again).
      for (let attempt = 0; attempt < 3; attempt++) {
        const current = await requireTemplate(tenant.tenantId, templateId, exec);
        const content = (input.content ?? current.content) as Content;
        const defaults = (input.defaults ?? current.defaults ?? {}) as Defaults;
        checkTemplate(current.channel as TemplateChannel, content, defaults);
        const now = clock.now();
        const row = await repo.updateTemplate(
          exec,
          tenant.tenantId,
          templateId,
          {
            ...(input.name !== undefined ? { name: input.name } : {}),
            ...(input.content !== undefined ? { content: JSON.stringify(input.content) } : {}),
            ...(input.defaults !== undefined ? { defaults: JSON.stringify(input.defaults) } : {}),
            updated_by: tenant.keyId,
            // Strictly later than the version read, so a second update in the same millisecond is still a new version.
            updated_at: now > current.updated_at ? now : new Date(current.updated_at.getTime() + 1),
          },
          current.updated_at,
        );
        if (row) return toView(row);
      }
      throw outreachErrors.concurrentUpdate();
    },

    /** Soft-deletes a template: it disappears from reads, the row stays for what was sent with it. */
    async deleteTemplate(actor: Actor, templateId: string, exec: Executor = db): Promise<void> {
      const tenant = requireTenant(actor);
      const done = await repo.softDeleteTemplate(exec, tenant.tenantId, templateId, tenant.keyId, clock.now());
      if (!done) throw outreachErrors.templateNotFound(templateId);
    },

    /** A saved template rendered for one customer of the tenant. */
    async previewTemplate(actor: Actor, templateId: string, input: PreviewInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const row = await requireTemplate(tenant.tenantId, templateId, exec);
      const channel = row.channel as TemplateChannel;
      const variables = await variablesFor(tenant.tenantId, input, exec);
      return { channel, user_id: input.user_id, content: renderTemplate(channel, row.content as Content, (row.defaults ?? {}) as Defaults, variables) };
    },

    /** An unsaved template body, validated as a save would, rendered for one customer. */
    async previewDraft(actor: Actor, input: PreviewDraftInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const content = input.content as Content;
      const defaults = input.defaults ?? {};
      checkTemplate(input.channel, content, defaults);
      const variables = await variablesFor(tenant.tenantId, input, exec);
      return { channel: input.channel, user_id: input.user_id, content: renderTemplate(input.channel, content, defaults, variables) };
    },
  };
}
