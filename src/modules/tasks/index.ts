import { Counter, Histogram, type Registry } from 'prom-client';
import type { TaskMetrics } from './task.trigger.js';

export { createTaskService, type TaskService } from './task.service.js';
export { taskRoutes } from './task.routes.js';
export { type AudienceCheck, GRANT_SOURCE as TASK_GRANT_SOURCE } from './task.trigger.js';

/** The task module's metrics. */
export function taskMetrics(registry: Registry): TaskMetrics {
  return {
    created: new Counter({ name: 'marketing_task_created_total', help: 'Tasks created', labelNames: ['task_type'] as const, registers: [registry] }),
    triggered: new Counter({
      name: 'marketing_task_triggered_total',
      help: 'Events triggered, by form (single, batch) and result (processed, duplicate)',
      labelNames: ['form', 'result'] as const,
      registers: [registry],
    }),
    completed: new Counter({ name: 'marketing_task_completed_total', help: 'Task completions', labelNames: ['task_type'] as const, registers: [registry] }),
    duration: new Histogram({
      name: 'marketing_task_trigger_duration_seconds',
      help: 'Time to process a trigger (one event, or one batch)',
      labelNames: ['form'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
  };
}
export { goalEvents, type GoalEvent } from './task.goal-events.js';
