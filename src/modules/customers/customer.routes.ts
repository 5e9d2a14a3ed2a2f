import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { UPLOAD_MEDIA_TYPES, uploadFormatOf } from '../../platform/upload.js';
import { Customer, CustomerList, CustomerListQuery, CustomerParams, ImportReport, PutCustomerBody, TagChangeBody } from './customer.schemas.js';
import { type CustomerService } from './customer.service.js';

const tags = ['customers'];

export function customerRoutes(app: Api, deps: { customers: CustomerService; uow: UnitOfWork }): void {
  const { customers, uow } = deps;

  app.put(
    '/v1/customers/:user_id',
    {
      schema: {
        tags,
        summary: 'Create or update a customer profile (attributes merged by key; tags replaced when given)',
        params: CustomerParams,
        body: PutCustomerBody,
        response: { 200: Customer, 201: Customer, ...errors(...authErrors, 409) },
      },
    },
    async (request, reply) => {
      const { customer, created } = await customers.putCustomer(request.actor!, request.params.user_id, request.body ?? {});
      return reply.code(created ? 201 : 200).send(customer);
    },
  );

  app.get(
    '/v1/customers',
    {
      schema: {
        tags,
        summary: 'Search customer profiles: by user id prefix, tag, phone or e-mail (attributes.phone / attributes.email); most recently changed first',
        querystring: CustomerListQuery,
        response: { 200: CustomerList, ...errors(...authErrors) },
      },
    },
    async (request) => customers.listCustomers(request.actor!, request.query),
  );

  app.get(
    '/v1/customers/:user_id',
    { schema: { tags, summary: 'Get a customer profile', params: CustomerParams, response: { 200: Customer, ...errors(...authErrors, 404) } } },
    async (request) => customers.getCustomer(request.actor!, request.params.user_id),
  );

  app.delete(
    '/v1/customers/:user_id',
    {
      schema: {
        tags,
        summary: 'Erase a customer profile (tags, attributes, consent, audience list entries)',
        params: CustomerParams,
        response: { 204: Type.Null(), ...errors(...authErrors, 404) },
      },
    },
    async (request, reply) => {
      await customers.deleteCustomer(request.actor!, request.params.user_id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/customers/:user_id/tags',
    {
      schema: {
        tags,
        summary: 'Add and / or remove tags (one statement; creates the profile if needed)',
        params: CustomerParams,
        body: TagChangeBody,
        response: { 200: Customer, 201: Customer, ...errors(...authErrors, 409, 422) },
      },
    },
    async (request, reply) => {
      let created = false;
      return uow(request, reply, () => (created ? 201 : 200), async (exec) => {
        const result = await customers.changeTags(request.actor!, request.params.user_id, request.body, exec);
        created = result.created;
        return result.customer;
      }, { selfContained: true });
    },
  );

  // The import reads its body as a stream, so its parsers live in their own plugin scope: other
  // routes keep answering 415 to CSV and NDJSON bodies.
  void app.register(async (scope) => {
    scope.addContentTypeParser(UPLOAD_MEDIA_TYPES, (_request, payload, done) => done(null, payload));
    scope.post(
      '/v1/customers/import',
      {
        // Every row is an upsert, so a repeated import changes nothing more; an Idempotency-Key
        // would have to fingerprint a streamed body, which is never held whole.
        config: { idempotent: false },
        schema: {
          tags,
          summary: 'Import customer profiles from CSV (text/csv) or NDJSON (application/x-ndjson), streamed',
          description:
            'CSV: header row with user_id, optional tags (separated by |), consent_sms / consent_email / consent_push, and attribute columns typed by suffix (age:number, vip:boolean, prefs:json). NDJSON: one {user_id, tags?, attributes?, consent?} per line. Each row is an upsert as PUT /v1/customers/{user_id}; bad rows are reported by line and never stop the good ones.',
          response: { 200: ImportReport, ...errors(...authErrors, 413, 415) },
        },
      },
      async (request) => {
        const format = uploadFormatOf(request.headers['content-type']);
        return customers.importCustomers(request.actor!, format, request.body as Readable);
      },
    );
  });
}
