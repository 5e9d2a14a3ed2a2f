// STUB: the job table's Kysely types (helper A fills this in with the migration 0004_jobs.sql).
export interface JobTables {
  job: Record<string, never>;
}
