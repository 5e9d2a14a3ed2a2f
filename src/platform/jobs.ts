// STUB: replaced by the jobs implementation (helper A). Signatures are the contract.
import type { Database, Executor } from '../db/client.js';
import type { Clock } from './clock.js';

export interface JobRecord {
  jobId: string;
  tenantId: string;
  queue: string;
  payload: unknown;
  /** 1 on the first run. */
  attempt: number;
  maxAttempts: number;
}

export type JobHandler = (job: JobRecord) => Promise<void>;

export interface EnqueueInput {
  tenantId: string;
  queue: string;
  payload: unknown;
  runAt?: Date;
  maxAttempts?: number;
}

export interface JobQueue {
  /** Writes the job with `exec`: pass the transaction of the change that causes it. */
  enqueue(exec: Executor, job: EnqueueInput): Promise<string>;
}

export interface JobRunner {
  register(queue: string, handler: JobHandler, options?: { concurrency?: number }): void;
  /** A recurring task (sweeps): runs every `ms` while the runner runs. */
  every(name: string, ms: number, task: () => Promise<void>): void;
  start(): void;
  stop(): Promise<void>;
  /** Runs every job that is due now, to completion (tests, CLI); returns how many ran. */
  runDue(): Promise<number>;
}

export interface JobLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export function createJobQueue(_deps: { db: Database; clock: Clock }): JobQueue {
  return {
    enqueue: async () => {
      throw new Error('jobs: not implemented yet');
    },
  };
}

export function createJobRunner(_deps: { db: Database; clock: Clock; log: JobLog; pollMs?: number; lockSeconds?: number }): JobRunner {
  return {
    register: () => {},
    every: () => {},
    start: () => {},
    stop: async () => {},
    runDue: async () => 0,
  };
}
