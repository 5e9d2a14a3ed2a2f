import { Type } from 'typebox';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import {
  CreateTemplateBody,
  Preview,
  PreviewBody,
  PreviewDraftBody,
  Template,
  TemplateList,
  TemplateListQuery,
  TemplateParams,
  UpdateTemplateBody,
} from './template.schemas.js';
import type { TemplateService } from './template.service.js';

const tags = ['outreach'];

/** Message templates: any key of the tenant reads, service and admin keys write and preview. */
export function templateRoutes(app: Api, deps: { templates: TemplateService; uow: UnitOfWork }): void {
  const { templates, uow } = deps;

  app.post(
    '/v1/outreach/templates',
    {
      schema: {
        tags,
        summary: 'Create a message template (validated now: Liquid syntax, known variables, channel limits)',
        body: CreateTemplateBody,
        response: { 201: Template, ...errors(...authErrors) },
      },
    },
    async (request, reply) => uow(request, reply, 201, (trx) => templates.createTemplate(request.actor!, request.body, trx)),
  );

  app.get(
    '/v1/outreach/templates',
    { schema: { tags, summary: 'List message templates, newest first', querystring: TemplateListQuery, response: { 200: TemplateList, ...errors(...authErrors) } } },
    async (request) => templates.listTemplates(request.actor!, request.query),
  );

  app.get(
    '/v1/outreach/templates/:template_id',
    { schema: { tags, summary: 'Get a message template', params: TemplateParams, response: { 200: Template, ...errors(...authErrors, 404) } } },
    async (request) => templates.getTemplate(request.actor!, request.params.template_id),
  );

  app.put(
    '/v1/outreach/templates/:template_id',
    {
      schema: {
        tags,
        summary: 'Rename a template and / or replace its content or defaults (the channel is fixed)',
        params: TemplateParams,
        body: UpdateTemplateBody,
        response: { 200: Template, ...errors(...authErrors, 404) },
      },
    },
    async (request) => templates.updateTemplate(request.actor!, request.params.template_id, request.body),
  );

  app.delete(
    '/v1/outreach/templates/:template_id',
    { schema: { tags, summary: 'Delete a message template', params: TemplateParams, response: { 204: Type.Null(), ...errors(...authErrors, 404) } } },
    async (request, reply) => {
      await templates.deleteTemplate(request.actor!, request.params.template_id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/outreach/templates/preview',
    {
      schema: {
        tags,
        summary: 'Render an unsaved template body for one customer (validated as a save would be)',
        body: PreviewDraftBody,
        response: { 200: Preview, ...errors(...authErrors, 404) },
      },
    },
    async (request, reply) => uow(request, reply, 200, (exec) => templates.previewDraft(request.actor!, request.body, exec), { selfContained: true }),
  );

  app.post(
    '/v1/outreach/templates/:template_id/preview',
    {
      schema: {
        tags,
        summary: 'Render a saved template for one customer',
        params: TemplateParams,
        body: PreviewBody,
        response: { 200: Preview, ...errors(...authErrors, 404) },
      },
    },
    async (request, reply) =>
      uow(request, reply, 200, (exec) => templates.previewTemplate(request.actor!, request.params.template_id, request.body, exec), { selfContained: true }),
  );
}
