import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import {
  AppKeyParams,
  CreatedPublishableKey,
  CreatedTokenKey,
  CreatePublishableKeyBody,
  CreateTokenKeyBody,
  PublishableKey,
  PublishableKeyList,
  PublishableKeyParams,
  TokenKey,
  TokenKeyList,
  TokenKeyParams,
} from './client-access.schemas.js';
import type { ClientAccessService } from './client-access.service.js';

const tags = ['client access'];
const admin = { role: 'admin' as const };

/** The admin routes of publishable keys and end-user token keys, per app (tenant admin key). */
export function clientAccessRoutes(app: Api, deps: { clientAccess: ClientAccessService; uow: UnitOfWork }): void {
  const { clientAccess, uow } = deps;

  app.post(
    '/v1/apps/:product_code/publishable-keys',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Create a publishable key of the app (pk_..., shown once) with the origins browsers may use it from',
        params: AppKeyParams,
        body: CreatePublishableKeyBody,
        response: { 201: CreatedPublishableKey, ...errors(...authErrors, 404) },
      },
    },
    async (request, reply) =>
      uow(request, reply, 201, (trx) => clientAccess.createPublishableKey(request.actor!, request.params.product_code, request.body, trx), {
        recordAs: ({ key: _key, ...rest }) => rest,
      }),
  );

  app.get(
    '/v1/apps/:product_code/publishable-keys',
    {
      config: admin,
      schema: { tags, summary: "The app's publishable keys, revoked ones too (never the keys themselves)", params: AppKeyParams, response: { 200: PublishableKeyList, ...errors(...authErrors, 404) } },
    },
    async (request) => clientAccess.listPublishableKeys(request.actor!, request.params.product_code),
  );

  app.delete(
    '/v1/apps/:product_code/publishable-keys/:key_id',
    {
      config: admin,
      schema: { tags, summary: 'Revoke a publishable key', params: PublishableKeyParams, response: { 200: PublishableKey, ...errors(...authErrors, 404) } },
    },
    async (request) => clientAccess.revokePublishableKey(request.actor!, request.params.product_code, request.params.key_id),
  );

  app.post(
    '/v1/apps/:product_code/user-token-keys',
    {
      config: admin,
      schema: {
        tags,
        summary: "Add a key that verifies the app's end-user tokens: HS256 (a generated secret, shown once) or EdDSA (your Ed25519 public key)",
        params: AppKeyParams,
        body: CreateTokenKeyBody,
        response: { 201: CreatedTokenKey, ...errors(...authErrors, 404) },
      },
    },
    async (request, reply) =>
      uow(request, reply, 201, (trx) => clientAccess.createTokenKey(request.actor!, request.params.product_code, request.body, trx), {
        recordAs: ({ secret: _secret, ...rest }) => rest,
      }),
  );

  app.get(
    '/v1/apps/:product_code/user-token-keys',
    {
      config: admin,
      schema: { tags, summary: "The app's user token keys (never a secret)", params: AppKeyParams, response: { 200: TokenKeyList, ...errors(...authErrors, 404) } },
    },
    async (request) => clientAccess.listTokenKeys(request.actor!, request.params.product_code),
  );

  app.delete(
    '/v1/apps/:product_code/user-token-keys/:kid',
    {
      config: admin,
      schema: { tags, summary: 'Revoke a user token key: tokens signed with it are refused', params: TokenKeyParams, response: { 200: TokenKey, ...errors(...authErrors, 404) } },
    },
    async (request) => clientAccess.revokeTokenKey(request.actor!, request.params.product_code, request.params.kid),
  );
}
