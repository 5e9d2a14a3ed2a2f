import { AppError } from '../../platform/errors.js';
import { sharedErrors } from '../../platform/shared-errors.js';

/**
 * The tasks module's error codes and messages, one factory per refusal. `code` is the contract
 * with clients: never change an existing one. Plain field checks use `invalidRequest`.
 */
export const taskErrors = {
  /** 400: product_code names no app of the tenant (foreign key); one body with every module's (platform/shared-errors.ts). */
  unknownProductCode: (productCode: string) => sharedErrors.unknownProductCode([productCode]),

  /** 400: reward_id names no reward of the tenant. */
  unknownReward: (rewardId: string) =>
    new AppError('invalid', 'unknown_reward', `No reward ${rewardId} in this tenant`, { field: 'reward_id', reward_id: rewardId }),

  /** 409: counting fields are fixed once users have progress. */
  countingFieldsLocked: (fields: string[]) =>
    new AppError('conflict', 'task_field_locked', `${fields.join(', ')} cannot change once users have progress; create a new task`, { fields }),

  /** 409: a linked task keeps its product (links join tasks to campaigns of the same product). */
  productCodeLocked: () =>
    new AppError('conflict', 'task_field_locked', 'product_code cannot change while the task is linked to campaigns; unlink it first', {
      fields: ['product_code'],
    }),

  /** 409: an ARCHIVED or ENDED campaign takes no tasks. */
  campaignNotEditable: (status: string) =>
    new AppError('conflict', 'campaign_not_editable', `A campaign that is ${status} cannot take tasks`, { status }),

  /** 400: a task and a campaign of different products. */
  productMismatch: (taskId: string, taskProductCode: string, campaignProductCode: string) =>
    new AppError('invalid', 'task_product_mismatch', `Task ${taskId} is for product ${taskProductCode}, the campaign for ${campaignProductCode}`, {
      field: 'task_id',
    }),

  /** 409: the task is linked to the campaign already. */
  alreadyLinked: (taskId: string, campaignId: string) =>
    new AppError('conflict', 'task_already_linked', `Task ${taskId} is already linked to campaign ${campaignId}`, { task_id: taskId, campaign_id: campaignId }),

  /** 404: the task is not linked to the campaign. */
  linkNotFound: (campaignId: string, taskId: string) =>
    new AppError('not_found', 'campaign_task_not_found', `Task ${taskId} is not linked to campaign ${campaignId}`, { campaign_id: campaignId, task_id: taskId }),

  /** 400: the event's body and X-Product-Code header name different products (platform/shared-errors.ts). */
  productCodeMismatch: sharedErrors.productCodeMismatch,

  /** 403: the API key is limited to other products (platform/shared-errors.ts). */
  productNotAllowed: sharedErrors.productNotAllowed,

  /** 409: an event_id used before for a different event (other user or event type). */
  eventIdReused: (eventId: string) =>
    new AppError('conflict', 'event_id_reused', `event_id ${eventId} was used for another event`, { event_id: eventId }),
};
