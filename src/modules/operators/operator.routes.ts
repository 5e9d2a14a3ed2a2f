import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import type { AuditLog } from './audit.service.js';
import {
  AuditList,
  AuditQuery,
  CreateOperatorBody,
  Operator,
  OperatorList,
  OperatorListQuery,
  OperatorParams,
  UpdateOperatorBody,
} from './operator.schemas.js';
import type { OperatorService } from './operator.service.js';

const tags = ['operators'];
// A tenant's admin (key or operator) for its tenant; the master key or a platform operator for any.
const config = { auth: 'any', role: 'admin' } as const;

export function operatorRoutes(app: Api, deps: { operators: OperatorService; audit: AuditLog; uow: UnitOfWork }): void {
  const { operators, audit, uow } = deps;

  app.post(
    '/v1/operators',
    {
      config,
      schema: {
        tags,
        summary: 'Create a console operator (the password is never answered)',
        body: CreateOperatorBody,
        response: { 201: Operator, ...errors(...authErrors, 404, 409) },
      },
    },
    async (request, reply) => uow(request, reply, 201, (trx) => operators.createOperator(request.actor!, request.body, trx)),
  );

  app.get(
    '/v1/operators',
    { config, schema: { tags, summary: 'List console operators', querystring: OperatorListQuery, response: { 200: OperatorList, ...errors(...authErrors) } } },
    async (request) => operators.listOperators(request.actor!, request.query),
  );

  app.get(
    '/v1/operators/:operator_id',
    { config, schema: { tags, summary: 'Get a console operator', params: OperatorParams, response: { 200: Operator, ...errors(...authErrors, 404) } } },
    async (request) => operators.getOperator(request.actor!, request.params.operator_id),
  );

  app.patch(
    '/v1/operators/:operator_id',
    {
      config,
      schema: {
        tags,
        summary: 'Rename, change the role, disable or reset the password of an operator (disabling or a reset ends its sessions)',
        params: OperatorParams,
        body: UpdateOperatorBody,
        response: { 200: Operator, ...errors(...authErrors, 404, 409) },
      },
    },
    async (request, reply) => uow(request, reply, 200, (trx) => operators.updateOperator(request.actor!, request.params.operator_id, request.body, trx, request.operatorSession?.operatorId ?? null)),
  );

  app.delete(
    '/v1/operators/:operator_id',
    { config, schema: { tags, summary: 'Delete an operator and end its sessions', params: OperatorParams, response: { 200: Operator, ...errors(...authErrors, 404, 409) } } },
    async (request, reply) => uow(request, reply, 200, (trx) => operators.deleteOperator(request.actor!, request.params.operator_id, trx, request.operatorSession?.operatorId ?? null)),
  );

  app.get(
    '/v1/audit-log',
    {
      config,
      schema: {
        tags,
        summary: 'Who changed what and when (operators and API keys), newest first',
        querystring: AuditQuery,
        response: { 200: AuditList, ...errors(...authErrors) },
      },
    },
    async (request) => audit.list(request.actor!, request.query),
  );
}
