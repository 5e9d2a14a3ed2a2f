import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { testApp } from '../../test/helpers/test-app.js';

const metric = (body: string, line: string) => body.split('\n').find((l) => l.startsWith(line))?.split(' ').pop();

describe('operational metrics at /metrics', () => {
  it('the job queue per queue: due jobs, the oldest due age, dead jobs; read at each scrape', async () => {
    const a = await testApp();
    const queue = `ops_metrics_${randomBytes(4).toString('hex')}`;
    const tenant = `t_ops_${randomBytes(4).toString('hex')}`;
    const insert = (id: string, status: string, ageSeconds: number) =>
      sql`insert into job (tenant_id, job_id, queue, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
          values (${tenant}, ${id}, ${queue}, '{}'::jsonb, ${status}, 0, 3, now() - make_interval(secs => ${ageSeconds}), now(), now())`.execute(a.database.db);
    await insert('j1', 'PENDING', 120);
    await insert('j2', 'PENDING', 5);
    await insert('j3', 'DEAD', 0);
    await sql`insert into job (tenant_id, job_id, queue, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
              values (${tenant}, 'j4', ${queue}, '{}'::jsonb, 'PENDING', 0, 3, now() + interval '1 hour', now(), now())`.execute(a.database.db);
    try {
      const body = (await a.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metric(body, `marketing_jobs_due{queue="${queue}"}`)).toBe('2'); // the future one is not due
      expect(Number(metric(body, `marketing_jobs_oldest_due_age_seconds{queue="${queue}"}`))).toBeGreaterThanOrEqual(120);
      expect(metric(body, `marketing_jobs_dead{queue="${queue}"}`)).toBe('1');
      await sql`delete from job where tenant_id = ${tenant}`.execute(a.database.db);
      const after = (await a.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metric(after, `marketing_jobs_due{queue="${queue}"}`)).toBeUndefined();
      if (a.database.kind === 'postgres') {
        expect(Number(metric(after, 'marketing_db_pool_max'))).toBeGreaterThan(0);
        expect(metric(after, 'marketing_db_pool_connections{state="waiting"}')).toBeDefined();
      }
    } finally {
      await sql`delete from job where tenant_id = ${tenant}`.execute(a.database.db);
    }
  });
});
