import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import type { DB } from '../../db/schema.js';
import { AdjustBody, Balances, DebitBody, LedgerEntry, LedgerList, LedgerListQuery, UserParams } from './ledger.schemas.js';
import type { LedgerService, PostResult } from './ledger.service.js';

const tags = ['ledger'];

export function ledgerRoutes(app: Api, deps: { ledger: LedgerService; uow: UnitOfWork }): void {
  const { ledger, uow } = deps;

  /** 201 with a new entry, or 200 with the first entry of a repeated reference_id (recorded as such). */
  async function postOrRepeat(request: FastifyRequest, reply: FastifyReply, work: (trx: Transaction<DB>) => Promise<PostResult>) {
    const result = await uow(request, reply, (r: PostResult) => (r.created ? 201 : 200), work, { recordAs: (r) => r.entry });
    return result.entry;
  }

  app.get(
    '/v1/users/:user_id/balances',
    {
      config: { client: { user: 'params.user_id' } },
      schema: {
        tags,
        summary: "A user's balance of every asset",
        params: UserParams,
        response: { 200: Balances, ...errors(...authErrors) },
      },
    },
    async (request) => ledger.getBalances(request.actor!, request.params.user_id),
  );

  app.get(
    '/v1/users/:user_id/ledger',
    {
      config: { client: { user: 'params.user_id' } },
      schema: {
        tags,
        summary: "A user's ledger entries, newest first",
        params: UserParams,
        querystring: LedgerListQuery,
        response: { 200: LedgerList, ...errors(...authErrors) },
      },
    },
    async (request) => ledger.listEntries(request.actor!, request.params.user_id, request.query),
  );

  app.post(
    '/v1/users/:user_id/ledger/debit',
    {
      schema: {
        tags,
        summary: 'Spend points or balance (409 insufficient_balance below zero)',
        params: UserParams,
        body: DebitBody,
        response: { 201: LedgerEntry, 200: LedgerEntry, ...errors(...authErrors, 409, 422) },
      },
    },
    async (request, reply) =>
      postOrRepeat(request, reply, (trx) => ledger.debit(request.actor!, request.params.user_id, request.body, trx)),
  );

  app.post(
    '/v1/users/:user_id/ledger/adjust',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'Correct a balance by hand (admin key; never below zero)',
        params: UserParams,
        body: AdjustBody,
        response: { 201: LedgerEntry, 200: LedgerEntry, ...errors(...authErrors, 409, 422) },
      },
    },
    async (request, reply) =>
      postOrRepeat(request, reply, (trx) => ledger.adjust(request.actor!, request.params.user_id, request.body, trx)),
  );
}
