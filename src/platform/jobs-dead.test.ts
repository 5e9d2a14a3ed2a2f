import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { testDatabase } from '../../test/helpers/database.js';
import { ManualClock } from './clock.js';
import { claimJobs, createJobQueue, createJobRunner, getJob, type JobRecord, PermanentJobError } from './jobs.js';

const quietLog = { info: () => {}, warn: () => {}, error: () => {} };

async function setup() {
  const { db } = await testDatabase();
  const clock = new ManualClock('2030-01-01T00:00:00Z');
  const id = randomBytes(6).toString('hex');
  const dead: { job: JobRecord; lastError: string }[] = [];
  const runner = createJobRunner({ db, clock, log: quietLog, pollMs: 5, random: () => 0.5 });
  return { db, clock, runner, queue: createJobQueue({ db, clock }), tenantId: `t_${id}`, name: `q_${id}`, dead, onDead: async (job: JobRecord, lastError: string) => void dead.push({ job, lastError }) };
}

describe('onDead: the owner of a job hears once when it is given up', () => {
  it('after the last attempt fails', async () => {
    const s = await setup();
    s.runner.register(s.name, async () => { throw new Error('receiver down'); }, { onDead: s.onDead });
    const jobId = await s.queue.enqueue(s.db, { tenantId: s.tenantId, queue: s.name, payload: { n: 1 }, maxAttempts: 2 });
    await s.runner.runDue();
    expect(s.dead).toHaveLength(0);
    s.clock.advance(60_000);
    await s.runner.runDue();
    expect(s.dead).toHaveLength(1);
    expect(s.dead[0]!.job).toMatchObject({ jobId, tenantId: s.tenantId, payload: { n: 1 }, attempt: 2, maxAttempts: 2 });
    expect(s.dead[0]!.lastError).toMatch(/receiver down/);
    expect((await getJob(s.db, s.tenantId, jobId))?.status).toBe('DEAD');
  });

  it('at once for a PermanentJobError', async () => {
    const s = await setup();
    s.runner.register(s.name, async () => { throw new PermanentJobError('no such grant'); }, { onDead: s.onDead });
    await s.queue.enqueue(s.db, { tenantId: s.tenantId, queue: s.name, payload: {} });
    await s.runner.runDue();
    expect(s.dead.map((d) => d.lastError)).toEqual([expect.stringMatching(/no such grant/)]);
  });

  it('when the worker of the last attempt vanished (lease expired), without running it again', async () => {
    const s = await setup();
    let runs = 0;
    s.runner.register(s.name, async () => void runs++, { onDead: s.onDead });
    await s.queue.enqueue(s.db, { tenantId: s.tenantId, queue: s.name, payload: {}, maxAttempts: 1 });
    await claimJobs(s.db, { queue: s.name, limit: 10, now: s.clock.now(), lockSeconds: 60 });
    s.clock.advance(61_000);
    await s.runner.runDue();
    expect(runs).toBe(0);
    expect(s.dead).toHaveLength(1);
    expect(s.dead[0]!.lastError).toMatch(/lease expired/);
  });

  it('never for a job that succeeds, and a throwing hook does not break the runner', async () => {
    const s = await setup();
    s.runner.register(s.name, async (job) => {
      if ((job.payload as { fail: boolean }).fail) throw new PermanentJobError('bad');
    }, { onDead: async () => { throw new Error('hook broke'); } });
    const ok = await s.queue.enqueue(s.db, { tenantId: s.tenantId, queue: s.name, payload: { fail: false } });
    const bad = await s.queue.enqueue(s.db, { tenantId: s.tenantId, queue: s.name, payload: { fail: true } });
    expect(await s.runner.runDue()).toBe(2);
    expect((await getJob(s.db, s.tenantId, ok))?.status).toBe('DONE');
    expect((await getJob(s.db, s.tenantId, bad))?.status).toBe('DEAD');
  });
});
