import { Type } from 'typebox';
import { authErrors, errors, ProductCodeHeader } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { requireTenant } from '../../platform/actor.js';
import {
  BatchBody,
  BatchResult,
  CampaignParams,
  CampaignTask,
  CampaignTaskList,
  CampaignTaskParams,
  CompletionLogList,
  CompletionLogQuery,
  CompletionStats,
  CreateTaskBody,
  LinkBody,
  StatsQuery,
  Task,
  TaskList,
  TaskListQuery,
  TaskParams,
  TriggerBody,
  TriggerResult,
  UpdateTaskBody,
  UserParams,
  UserTasks,
  UserTasksQuery,
} from './task.schemas.js';
import type { TaskService } from './task.service.js';

const tags = ['tasks'];

export function taskRoutes(app: Api, deps: { tasks: TaskService; uow: UnitOfWork }): void {
  const { tasks, uow } = deps;

  app.post(
    '/v1/tasks',
    { schema: { tags, summary: 'Create a task', headers: ProductCodeHeader, body: CreateTaskBody, response: { 201: Task, ...errors(...authErrors, 409, 422) } } },
    async (request, reply) => uow(request, reply, 201, (trx) => tasks.createTask(requireTenant(request.actor!), request.body, request.headers['x-product-code'], trx)),
  );

  app.get(
    '/v1/tasks',
    { schema: { tags, summary: 'List tasks', headers: ProductCodeHeader, querystring: TaskListQuery, response: { 200: TaskList, ...errors(...authErrors) } } },
    async (request) => tasks.listTasks(request.actor!, request.query, request.headers['x-product-code']),
  );

  app.get('/v1/tasks/:task_id', { schema: { tags, summary: 'Get a task', params: TaskParams, response: { 200: Task, ...errors(...authErrors, 404) } } }, async (request) =>
    tasks.getTask(request.actor!, request.params.task_id),
  );

  app.put(
    '/v1/tasks/:task_id',
    { schema: { tags, summary: 'Change fields of a task', params: TaskParams, body: UpdateTaskBody, response: { 200: Task, ...errors(...authErrors, 404, 409) } } },
    async (request) => tasks.updateTask(request.actor!, request.params.task_id, request.body),
  );

  app.delete(
    '/v1/tasks/:task_id',
    { schema: { tags, summary: 'Delete a task (its completion log stays)', params: TaskParams, response: { 204: Type.Null(), ...errors(...authErrors, 404) } } },
    async (request, reply) => {
      await tasks.deleteTask(request.actor!, request.params.task_id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/tasks/trigger',
    {
      schema: {
        tags,
        summary: 'Trigger tasks with an event: progress, completions and rewards in one transaction',
        headers: ProductCodeHeader,
        body: TriggerBody,
        response: { 200: TriggerResult, ...errors(...authErrors, 409, 422) },
      },
    },
    // Without an Idempotency-Key the service runs the event in its own transaction (grouped under load).
    async (request, reply) => uow(request, reply, 200, (exec) => tasks.trigger(request.actor!, request.body, request.headers['x-product-code'], exec), { selfContained: true }),
  );

  app.post(
    '/v1/tasks/trigger/batch',
    {
      schema: {
        tags,
        summary: 'Trigger tasks with up to 1,000 events (one transaction; per-event results)',
        headers: ProductCodeHeader,
        body: BatchBody,
        response: { 200: BatchResult, ...errors(...authErrors, 409, 422) },
      },
    },
    async (request, reply) => uow(request, reply, 200, (trx) => tasks.triggerBatch(request.actor!, request.body, request.headers['x-product-code'], trx)),
  );

  app.get(
    '/v1/tasks/:task_id/completion-stats',
    { schema: { tags, summary: 'Completions, unique users and rewards of a task, by day', params: TaskParams, querystring: StatsQuery, response: { 200: CompletionStats, ...errors(...authErrors, 404) } } },
    async (request) => tasks.completionStats(request.actor!, request.params.task_id, request.query),
  );

  app.get(
    '/v1/task-completion-logs',
    { schema: { tags, summary: 'List task completions', querystring: CompletionLogQuery, response: { 200: CompletionLogList, ...errors(...authErrors) } } },
    async (request) => tasks.listCompletionLogs(request.actor!, request.query),
  );

  app.get(
    '/v1/users/:user_id/tasks',
    { config: { client: { user: 'params.user_id' } }, schema: { tags, summary: 'A user\'s progress on every task that can progress now', params: UserParams, headers: ProductCodeHeader, querystring: UserTasksQuery, response: { 200: UserTasks, ...errors(...authErrors) } } },
    async (request) => tasks.userTasks(request.actor!, request.params.user_id, request.query.product_code ?? request.headers['x-product-code']),
  );

  app.post(
    '/v1/campaigns/:campaign_id/tasks',
    { schema: { tags, summary: 'Link a task to a campaign', params: CampaignParams, body: LinkBody, response: { 201: CampaignTask, ...errors(...authErrors, 404, 409, 422) } } },
    async (request, reply) => uow(request, reply, 201, (trx) => tasks.linkTask(request.actor!, request.params.campaign_id, request.body, trx)),
  );

  app.get(
    '/v1/campaigns/:campaign_id/tasks',
    { schema: { tags, summary: 'List the tasks of a campaign', params: CampaignParams, response: { 200: CampaignTaskList, ...errors(...authErrors, 404) } } },
    async (request) => tasks.listCampaignTasks(request.actor!, request.params.campaign_id),
  );

  app.delete(
    '/v1/campaigns/:campaign_id/tasks/:task_id',
    { schema: { tags, summary: 'Unlink a task from a campaign', params: CampaignTaskParams, response: { 204: Type.Null(), ...errors(...authErrors, 404) } } },
    async (request, reply) => {
      await tasks.unlinkTask(request.actor!, request.params.campaign_id, request.params.task_id);
      return reply.code(204).send(null);
    },
  );
}
