-- Dead jobs are counted at every /metrics scrape (marketing_jobs_dead): a partial index keeps that
-- count off the DONE rows a busy install accumulates.
create index job_dead on job (queue) where status = 'DEAD';
