import { Type } from 'typebox';
import { requireTenant } from '../../platform/actor.js';
import { endUserIp } from '../../platform/client-ip.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
// The HTTP routes' own schemas: a decoded message passes exactly the validation of its HTTP call.
// (The composition root may read a module's schema file; modules themselves use index.ts only.)
import { CampaignListQuery, CampaignParams, CreateCampaignBody } from '../../modules/campaigns/campaign.schemas.js';
import { CAMPAIGN_ACTIONS, type CampaignAction } from '../../modules/campaigns/campaign.status.js';
import { CreateRewardBody, RewardListQuery, RewardParams, UpdateRewardBody } from '../../modules/rewards/reward.schemas.js';
import { GrantBody, GrantListQuery, GrantParams, type GrantView } from '../../modules/grants/grant.schemas.js';
import { ReservationListQuery, ReservationParams, ReserveBody } from '../../modules/inventory/inventory.schemas.js';
import { RedeemBody, RedeemHeaders } from '../../modules/redeem-codes/redeem-code.schemas.js';
import { BatchBody, TriggerBody } from '../../modules/tasks/task.schemas.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { toAppError } from '../error-handler.js';
import type { Services } from '../services.js';
import { validatorCompiler } from '../validation.js';
import type { CallContext, MethodSpec } from './grpc-call.js';

type Input<T = Record<string, unknown>> = T & Record<string, unknown>;
type Run<T = Record<string, unknown>> = (ctx: CallContext, input: Input<T>) => Promise<unknown>;

const write = (http: string, schema: MethodSpec['schema'], run: Run<never>, extra: Partial<MethodSpec> = {}): MethodSpec => ({
  http,
  role: 'service',
  schema,
  idempotent: true,
  run: run as MethodSpec['run'],
  ...extra,
});
const read = (http: string, schema: MethodSpec['schema'], run: Run<never>): MethodSpec => ({ http, role: 'readonly', schema, idempotent: false, run: run as MethodSpec['run'] });

/**
 * Every gRPC method by service, each calling the service function its HTTP route calls, inside
 * the same unit of work (same transaction, same recorded answer under an idempotency key).
 */
export function grpcMethods(services: Services, uow: UnitOfWork): Record<string, Record<string, MethodSpec>> {
  const { campaigns, rewards, grants, inventory, redemptions, tasks } = services;
  // HTTP's X-Device-Id of a redemption is the `x-device-id` metadata entry, held to the same schema.
  const redeemHeaders = validatorCompiler({ schema: RedeemHeaders, httpPart: 'headers', method: 'POST', url: 'Redeem' }) as ValidateFunction;
  return {
    CampaignService: {
      CreateCampaign: write('POST /v1/campaigns', CreateCampaignBody, (ctx, input: Input<Parameters<typeof campaigns.createCampaign>[1]>) =>
        uow(ctx.request, ctx.reply, 201, (trx) => campaigns.createCampaign(requireTenant(ctx.actor), input, ctx.productHeader, trx)),
      ),
      GetCampaign: read('GET /v1/campaigns/{campaign_id}', CampaignParams, (ctx, input: Input<{ campaign_id: string }>) => campaigns.getCampaign(ctx.actor, input.campaign_id)),
      ListCampaigns: read('GET /v1/campaigns', CampaignListQuery, (ctx, input: Input<Parameters<typeof campaigns.listCampaigns>[1]>) =>
        campaigns.listCampaigns(ctx.actor, input, ctx.productHeader),
      ),
      UpdateCampaignStatus: write(
        'POST /v1/campaigns/{campaign_id}/{action}',
        Type.Object({ ...CampaignParams.properties, action: Type.Enum(CAMPAIGN_ACTIONS, { type: 'string' }) }, { additionalProperties: false }),
        (ctx, input: Input<{ campaign_id: string; action: CampaignAction }>) =>
          uow(ctx.request, ctx.reply, 200, (trx) => campaigns.transitionCampaign(ctx.actor, input.campaign_id, input.action, trx)),
      ),
    },
    RewardService: {
      CreateReward: write('POST /v1/rewards', CreateRewardBody, (ctx, input: Input<Parameters<typeof rewards.createReward>[1]>) =>
        uow(ctx.request, ctx.reply, 201, (trx) => rewards.createReward(ctx.actor, input, ctx.productHeader, trx)),
      ),
      GetReward: read('GET /v1/rewards/{reward_id}', RewardParams, (ctx, input: Input<{ reward_id: string }>) => rewards.getReward(ctx.actor, input.reward_id)),
      ListRewards: read('GET /v1/rewards', RewardListQuery, (ctx, input: Input<Parameters<typeof rewards.listRewards>[1]>) => rewards.listRewards(ctx.actor, input, ctx.productHeader)),
      // PUT in HTTP: no Idempotency-Key there either (setting a total twice is the same total).
      SetRewardStock: write(
        'PUT /v1/rewards/{reward_id} {total_stock}',
        Type.Object({ ...RewardParams.properties, total_stock: UpdateRewardBody.properties.total_stock }, { additionalProperties: false }),
        (ctx, input: Input<{ reward_id: string; total_stock?: number | null }>) =>
          rewards.updateReward(ctx.actor, input.reward_id, { total_stock: input.total_stock ?? null }),
        { idempotent: false },
      ),
    },
    GrantService: {
      Grant: write(
        'POST /v1/reward-grants',
        GrantBody,
        async (ctx, input: Input<Parameters<typeof grants.grantReward>[1]>) => {
          const result = await uow<{ grant: GrantView; created: boolean }>(ctx.request, ctx.reply, (r) => (r.created ? 201 : 200), (exec) => grants.grantReward(ctx.actor, input, exec), {
            recordAs: (r) => r.grant,
            selfContained: true,
          });
          return { grant: result.grant, created: result.created };
        },
        // The record keeps the grant, as HTTP's; 201 was a new grant.
        { replay: (status, body) => ({ grant: body, created: status === 201 }) },
      ),
      CheckEligibility: write('POST /v1/reward-grants/check', GrantBody, (ctx, input: Input<Parameters<typeof grants.checkEligibility>[1]>) => grants.checkEligibility(ctx.actor, input), {
        idempotent: false,
      }),
      GetGrant: read('GET /v1/reward-grants/{grant_id}', GrantParams, (ctx, input: Input<{ grant_id: string }>) => grants.getGrant(ctx.actor, input.grant_id)),
      ListGrants: read('GET /v1/reward-grants', GrantListQuery, (ctx, input: Input<Parameters<typeof grants.listGrants>[1]>) => grants.listGrants(ctx.actor, input)),
    },
    InventoryService: {
      Reserve: write('POST /v1/inventory/reserve', ReserveBody, (ctx, input: Input<Parameters<typeof inventory.reserve>[1]>) =>
        uow(ctx.request, ctx.reply, 201, (trx) => inventory.reserve(ctx.actor, input, trx)),
      ),
      Confirm: write('POST /v1/inventory/{reservation_id}/confirm', ReservationParams, (ctx, input: Input<{ reservation_id: string }>) =>
        uow(ctx.request, ctx.reply, 200, (trx) => inventory.confirm(ctx.actor, input.reservation_id, trx)),
      ),
      Cancel: write('POST /v1/inventory/{reservation_id}/cancel', ReservationParams, (ctx, input: Input<{ reservation_id: string }>) =>
        uow(ctx.request, ctx.reply, 200, (trx) => inventory.cancel(ctx.actor, input.reservation_id, trx)),
      ),
      ListReservations: read('GET /v1/inventory/reservations', ReservationListQuery, (ctx, input: Input<Parameters<typeof inventory.listReservations>[1]>) =>
        inventory.listReservations(ctx.actor, input),
      ),
    },
    RedeemService: {
      Redeem: write('POST /v1/redeem', RedeemBody, (ctx, input: Input<Parameters<typeof redemptions.attemptOf>[1]>) => {
        // Per-IP limits count the end user's address only (client_ip from the calling backend), as HTTP's.
        const ip = ctx.peerIp();
        const limitIp = endUserIp({ ip, socket: { remoteAddress: ip } }, input.client_ip, { serverCaller: true });
        const deviceId = ctx.header('x-device-id');
        if (deviceId !== undefined && !redeemHeaders({ 'x-device-id': deviceId })) {
          throw toAppError({ validation: redeemHeaders.errors as ErrorObject[], validationContext: 'headers' });
        }
        const attempt = redemptions.attemptOf(ctx.actor, input, ctx.productHeader, ip, limitIp, deviceId ?? null);
        return redemptions.redeem(ctx.actor, attempt, uow.recorder(ctx.request, ctx.reply, 201));
      }),
    },
    TaskService: {
      Trigger: write('POST /v1/tasks/trigger', TriggerBody, (ctx, input: Input<Parameters<typeof tasks.trigger>[1]>) =>
        uow(ctx.request, ctx.reply, 200, (exec) => tasks.trigger(ctx.actor, input, ctx.productHeader, exec), { selfContained: true }),
      ),
      TriggerBatch: write('POST /v1/tasks/trigger/batch', BatchBody, (ctx, input: Input<Parameters<typeof tasks.triggerBatch>[1]>) =>
        uow(ctx.request, ctx.reply, 200, (trx) => tasks.triggerBatch(ctx.actor, input, ctx.productHeader, trx)),
      ),
    },
  };
}
