/** The task shapes and choices the task pages share (as the tasks API accepts them). */
import type { paths } from '../../api';

export type Task = paths['/v1/tasks/{task_id}']['get']['responses'][200]['content']['application/json'];
export type TaskBody = paths['/v1/tasks']['post']['requestBody']['content']['application/json'];
export type TaskType = TaskBody['task_type'];
export type Condition = TaskBody['condition'];
export type ConditionType = Condition['type'];
export type Repeat = NonNullable<TaskBody['repeat']>;
export type CompletionLog = paths['/v1/task-completion-logs']['get']['responses'][200]['content']['application/json']['task_completion_logs'][number];

export const TASK_TYPES: TaskType[] = ['REGISTER', 'SIGN_IN', 'INVITE', 'PURCHASE', 'SHARE', 'CUSTOM'];
export const CONDITION_TYPES: ConditionType[] = ['count', 'amount_sum', 'distinct', 'consecutive_days'];
export const REPEATS: Repeat[] = ['ONCE', 'DAILY', 'WEEKLY', 'MONTHLY', 'UNLIMITED'];

/** A filter value as typed: `a, b` is a list; true/false and numbers become themselves. */
export function parseFilterValue(text: string): string | number | boolean | (string | number | boolean)[] {
  const one = (s: string): string | number | boolean => {
    const v = s.trim();
    if (v === 'true') return true;
    if (v === 'false') return false;
    if (v !== '' && Number.isFinite(Number(v))) return Number(v);
    return v;
  };
  const parts = text.split(',').filter((p) => p.trim() !== '');
  return parts.length > 1 ? parts.map(one) : one(text);
}

/** A stored filter value back as text. */
export function filterText(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join(', ') : String(value);
}
