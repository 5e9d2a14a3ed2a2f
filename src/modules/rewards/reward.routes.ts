import { Type } from 'typebox';
import { authErrors, errors, ProductCodeHeader } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { CreateRewardBody, Reward, RewardList, RewardListQuery, RewardParams, UpdateRewardBody } from './reward.schemas.js';
import type { RewardService } from './reward.service.js';

const tags = ['rewards'];

export function rewardRoutes(app: Api, deps: { rewards: RewardService; uow: UnitOfWork }): void {
  const { rewards, uow } = deps;

  app.post(
    '/v1/rewards',
    {
      schema: {
        tags,
        summary: 'Create a reward template (generator / validator / distributor config, stock)',
        headers: ProductCodeHeader,
        body: CreateRewardBody,
        response: { 201: Reward, ...errors(...authErrors, 409, 422) },
      },
    },
    async (request, reply) =>
      uow(request, reply, 201, (trx) => rewards.createReward(request.actor!, request.body, request.headers['x-product-code'], trx)),
  );

  app.get(
    '/v1/rewards',
    { schema: { tags, summary: 'List rewards with their stock', headers: ProductCodeHeader, querystring: RewardListQuery, response: { 200: RewardList, ...errors(...authErrors) } } },
    async (request) => rewards.listRewards(request.actor!, request.query, request.headers['x-product-code']),
  );

  app.get(
    '/v1/rewards/:reward_id',
    { schema: { tags, summary: 'Get a reward with its stock', params: RewardParams, response: { 200: Reward, ...errors(...authErrors, 404) } } },
    async (request) => rewards.getReward(request.actor!, request.params.reward_id),
  );

  app.put(
    '/v1/rewards/:reward_id',
    {
      schema: {
        tags,
        summary: 'Change a reward (total_stock never below what is reserved or used)',
        params: RewardParams,
        body: UpdateRewardBody,
        response: { 200: Reward, ...errors(...authErrors, 404, 409) },
      },
    },
    async (request, reply) => uow(request, reply, 200, (trx) => rewards.updateReward(request.actor!, request.params.reward_id, request.body, trx)),
  );

  app.delete(
    '/v1/rewards/:reward_id',
    { schema: { tags, summary: 'Delete a reward (no new grants; existing grants stay)', params: RewardParams, response: { 204: Type.Null(), ...errors(...authErrors, 404) } } },
    async (request, reply) => {
      await rewards.deleteReward(request.actor!, request.params.reward_id);
      return reply.code(204).send(null);
    },
  );
}
