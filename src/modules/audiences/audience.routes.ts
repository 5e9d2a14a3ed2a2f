import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { authErrors, errors, ProductCodeHeader } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { Readable } from 'node:stream';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { requireTenant } from '../../platform/actor.js';
import { UPLOAD_MEDIA_TYPES, uploadFormatOf } from '../../platform/upload.js';
import {
  Audience,
  AudienceCount,
  AudienceList,
  AudienceListQuery,
  AudienceParams,
  AudiencePreview,
  CreateAudienceBody,
  MemberIdsBody,
  MemberQuery,
  MembersAdded,
  MembersRemoved,
  MembersUploadReport,
  Membership,
  PreviewQuery,
  RulePreview,
  RulePreviewBody,
  UpdateAudienceBody,
} from './audience.schemas.js';
import type { AudienceService } from './audience.service.js';

const tags = ['audiences'];

export function audienceRoutes(app: Api, deps: { audiences: AudienceService; uow: UnitOfWork }): void {
  const { audiences, uow } = deps;

  app.post(
    '/v1/audiences',
    {
      schema: {
        tags,
        summary: 'Create an audience (TAG, SEGMENT or LIST); the rule is validated here',
        headers: ProductCodeHeader,
        body: CreateAudienceBody,
        response: { 201: Audience, ...errors(...authErrors, 409, 422) },
      },
    },
    async (request, reply) =>
      uow(request, reply, 201, (trx) => audiences.createAudience(requireTenant(request.actor!), request.body, request.headers['x-product-code'], trx)),
  );

  app.post(
    '/v1/audiences/preview',
    {
      // Reads only (a readonly key may ask), and the same body asks the same question again.
      config: { idempotent: false, role: 'readonly' },
      schema: {
        tags,
        summary: 'Evaluate a TAG or SEGMENT rule that is not saved: how many users it matches now, and the first of them',
        description: 'The rule is checked as on create (400 invalid_rule names the node) and evaluated by the same query as GET /v1/audiences/{id}/count.',
        body: RulePreviewBody,
        response: { 200: RulePreview, ...errors(...authErrors) },
      },
    },
    async (request) => audiences.previewRule(request.actor!, request.body),
  );

  app.get(
    '/v1/audiences',
    { schema: { tags, summary: 'List audiences', headers: ProductCodeHeader, querystring: AudienceListQuery, response: { 200: AudienceList, ...errors(...authErrors) } } },
    async (request) => audiences.listAudiences(request.actor!, request.query, request.headers['x-product-code']),
  );

  app.get(
    '/v1/audiences/:audience_id',
    { schema: { tags, summary: 'Get an audience', params: AudienceParams, response: { 200: Audience, ...errors(...authErrors, 404) } } },
    async (request) => audiences.getAudience(request.actor!, request.params.audience_id),
  );

  app.put(
    '/v1/audiences/:audience_id',
    {
      schema: {
        tags,
        summary: 'Change an audience (name, description, product_code, rule)',
        params: AudienceParams,
        body: UpdateAudienceBody,
        response: { 200: Audience, ...errors(...authErrors, 404, 409) },
      },
    },
    async (request) => audiences.updateAudience(request.actor!, request.params.audience_id, request.body),
  );

  app.delete(
    '/v1/audiences/:audience_id',
    {
      schema: {
        tags,
        summary: 'Delete an audience (and its list members); 409 audience_in_use while a campaign uses it',
        params: AudienceParams,
        response: { 204: Type.Null(), ...errors(...authErrors, 404, 409) },
      },
    },
    async (request, reply) => {
      await audiences.deleteAudience(request.actor!, request.params.audience_id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/audiences/:audience_id/members',
    {
      schema: {
        tags,
        summary: 'Is a user in the audience, and why',
        params: AudienceParams,
        querystring: MemberQuery,
        response: { 200: Membership, ...errors(...authErrors, 404) },
      },
    },
    async (request) => audiences.getMembership(request.actor!, request.params.audience_id, request.query.user_id),
  );

  app.post(
    '/v1/audiences/:audience_id/members',
    {
      schema: {
        tags,
        summary: 'Add user ids to a LIST audience (up to 10,000 per call)',
        params: AudienceParams,
        body: MemberIdsBody,
        response: { 200: MembersAdded, ...errors(...authErrors, 404, 409, 422) },
      },
    },
    async (request, reply) =>
      uow(request, reply, 200, (trx) => audiences.addMembers(request.actor!, request.params.audience_id, request.body.user_ids, trx)),
  );

  // The upload reads its body as a stream, so its parsers live in their own plugin scope: the
  // JSON routes keep answering 415 to CSV and NDJSON bodies.
  void app.register(async (plain) => {
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    scope.addContentTypeParser(UPLOAD_MEDIA_TYPES, (_request, payload, done) => done(null, payload));
    // Any other type reaches the handler too, for the 415 that names the accepted types.
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.post(
      '/v1/audiences/:audience_id/members/import',
      {
        // Adding an id twice changes nothing, so sending a file again is safe by itself; an
        // Idempotency-Key would have to fingerprint a streamed body, which is never held whole.
        config: { idempotent: false },
        schema: {
          tags,
          summary: 'Add user ids to a LIST audience from a CSV (text/csv) or NDJSON (application/x-ndjson) upload, streamed',
          description:
            'CSV: a header with a user_id column (other columns ignored), or a single column of ids without a header. NDJSON: one {"user_id": "..."} or one JSON string per line. Written in chunks that commit as they go; bad rows are reported by line and never stop the good ones.',
          params: AudienceParams,
          response: { 200: MembersUploadReport, ...errors(...authErrors, 404, 409, 413, 415, 503) },
        },
      },
      async (request) => {
        const format = uploadFormatOf(request.headers['content-type']);
        return audiences.uploadMembers(request.actor!, request.params.audience_id, format, request.body as Readable);
      },
    );
  });

  app.delete(
    '/v1/audiences/:audience_id/members',
    {
      schema: {
        tags,
        summary: 'Remove user ids from a LIST audience',
        params: AudienceParams,
        body: MemberIdsBody,
        response: { 200: MembersRemoved, ...errors(...authErrors, 404, 409) },
      },
    },
    async (request) => audiences.removeMembers(request.actor!, request.params.audience_id, request.body.user_ids),
  );

  app.get(
    '/v1/audiences/:audience_id/count',
    { schema: { tags, summary: 'How many users the audience holds now (one query)', params: AudienceParams, response: { 200: AudienceCount, ...errors(...authErrors, 404) } } },
    async (request) => audiences.countAudience(request.actor!, request.params.audience_id),
  );

  app.get(
    '/v1/audiences/:audience_id/preview',
    {
      schema: {
        tags,
        summary: 'A page of the audience\'s users, in user_id order',
        params: AudienceParams,
        querystring: PreviewQuery,
        response: { 200: AudiencePreview, ...errors(...authErrors, 404) },
      },
    },
    async (request) => audiences.previewAudience(request.actor!, request.params.audience_id, request.query),
  );
}
