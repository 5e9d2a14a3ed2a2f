import type { ColumnType } from 'kysely';

export type JobStatus = 'PENDING' | 'RUNNING' | 'DONE' | 'DEAD';

/** Internal table `job` (migration 0004_jobs.sql). */
export interface JobTable {
  tenant_id: string;
  job_id: string;
  queue: string;
  // Written as JSON text, read back parsed.
  payload: ColumnType<unknown, string, string>;
  status: ColumnType<JobStatus, JobStatus | undefined, JobStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: number;
  run_at: Date;
  locked_until: Date | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

export interface JobTables {
  job: JobTable;
}
