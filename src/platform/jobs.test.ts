import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { testDatabase } from '../../test/helpers/database.js';
import type { Database } from '../db/client.js';
import { ManualClock } from './clock.js';
import {
  backoffMs,
  claimJobs,
  createJobQueue,
  createJobRunner,
  getJob,
  type JobHandler,
  type JobLog,
  type JobRecord,
  PermanentJobError,
  purgeDoneJobs,
  retryJob,
} from './jobs.js';

// The database is shared by every test file of a worker (and, on PostgreSQL, by every worker):
// each test uses its own tenant and queue names, and a runner only claims the queues it knows.
const unique = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;

interface Logged {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

function memoryLog(): JobLog & { entries: Logged[] } {
  const entries: Logged[] = [];
  return {
    entries,
    info: (obj, msg) => entries.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => entries.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => entries.push({ level: 'error', obj, msg }),
  };
}

async function setup(options: { clock?: ManualClock; pollMs?: number; lockSeconds?: number } = {}) {
  const { db } = await testDatabase();
  const clock = options.clock ?? new ManualClock('2030-01-01T00:00:00Z');
  const log = memoryLog();
  const queue = createJobQueue({ db, clock });
  const newRunner = () => createJobRunner({ db, clock, log, pollMs: options.pollMs ?? 5, lockSeconds: options.lockSeconds ?? 60 });
  return { db, clock, log, queue, runner: newRunner(), newRunner, tenantId: unique('t'), name: unique('q') };
}

const jobsOf = (db: Database, tenantId: string) =>
  db.selectFrom('job').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('job_id').execute();

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('job queue: enqueue', () => {
  it('a job enqueued in a transaction that rolls back does not exist and never runs', async () => {
    const { db, queue, runner, tenantId, name } = await setup();
    const ran: JobRecord[] = [];
    runner.register(name, async (job) => void ran.push(job));
    await expect(
      db.transaction().execute(async (trx) => {
        await queue.enqueue(trx, { tenantId, queue: name, payload: { n: 1 } });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await jobsOf(db, tenantId)).toEqual([]);
    expect(await runner.runDue()).toBe(0);
    expect(ran).toEqual([]);
  });

  it('a committed job runs once, with its payload, and ends DONE', async () => {
    const { db, clock, queue, runner, tenantId, name } = await setup();
    const ran: JobRecord[] = [];
    runner.register(name, async (job) => void ran.push(job));
    const jobId = await db.transaction().execute((trx) => queue.enqueue(trx, { tenantId, queue: name, payload: { to: 'a@b.c', n: [1, 2] } }));
    expect(jobId).toMatch(/^job_[0-9A-Z]{26}$/);

    expect(await runner.runDue()).toBe(1);
    expect(ran).toEqual([{ jobId, tenantId, queue: name, payload: { to: 'a@b.c', n: [1, 2] }, attempt: 1, maxAttempts: 12 }]);
    const job = await getJob(db, tenantId, jobId);
    expect(job).toMatchObject({ status: 'DONE', attempts: 1, max_attempts: 12, locked_until: null, last_error: null });
    expect(job!.finished_at).toEqual(clock.now());
    expect(await runner.runDue()).toBe(0);
    expect(ran).toHaveLength(1);
  });

  it('waits for runAt', async () => {
    const { db, clock, queue, runner, tenantId, name } = await setup();
    let runs = 0;
    runner.register(name, async () => void runs++);
    await queue.enqueue(db, { tenantId, queue: name, payload: null, runAt: new Date(clock.now().getTime() + 3_600_000) });
    expect(await runner.runDue()).toBe(0);
    clock.advance(3_599_999);
    expect(await runner.runDue()).toBe(0);
    clock.advance(1);
    expect(await runner.runDue()).toBe(1);
    expect(runs).toBe(1);
  });

  it('refuses a maxAttempts below 1', async () => {
    const { db, queue, tenantId, name } = await setup();
    await expect(queue.enqueue(db, { tenantId, queue: name, payload: {}, maxAttempts: 0 })).rejects.toThrow(/maxAttempts/);
  });
});

describe('job runner: failures', () => {
  it('retries a failing job with growing delays until it succeeds', async () => {
    const { db, clock, queue, runner, tenantId, name } = await setup();
    const attempts: number[] = [];
    runner.register(name, async (job) => {
      attempts.push(job.attempt);
      if (job.attempt <= 4) throw new Error(`endpoint down (${job.attempt})`);
    });
    const jobId = await queue.enqueue(db, { tenantId, queue: name, payload: {} });

    let previousDelay = 0;
    for (let attempt = 1; attempt <= 4; attempt++) {
      expect(await runner.runDue()).toBe(1);
      const job = (await getJob(db, tenantId, jobId))!;
      expect(job).toMatchObject({ status: 'PENDING', attempts: attempt, locked_until: null, last_error: `Error: endpoint down (${attempt})` });
      const delay = job.run_at.getTime() - clock.now().getTime();
      // 1 s, 2 s, 4 s, 8 s, each within ±20%.
      const base = 1000 * 2 ** (attempt - 1);
      expect(delay).toBeGreaterThanOrEqual(base * 0.8);
      expect(delay).toBeLessThanOrEqual(base * 1.2);
      expect(delay).toBeGreaterThan(previousDelay);
      previousDelay = delay;
      // Not due a millisecond early.
      clock.advance(delay - 1);
      expect(await runner.runDue()).toBe(0);
      clock.advance(1);
    }
    expect(await runner.runDue()).toBe(1);
    expect(attempts).toEqual([1, 2, 3, 4, 5]);
    // last_error keeps the most recent failure, for whoever investigates a flaky endpoint.
    expect(await getJob(db, tenantId, jobId)).toMatchObject({ status: 'DONE', attempts: 5, last_error: 'Error: endpoint down (4)' });
  });

  it('backs off 1 s, 2 s, 4 s ... capped at 5 minutes', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((a) => backoffMs(a, mid))).toEqual([
      1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000,
    ]);
    expect(backoffMs(12, () => 0.999)).toBe(300000);
    expect(backoffMs(1000, mid)).toBe(300000);
    expect(backoffMs(1, () => 0)).toBe(800);
  });

  it('marks a job DEAD after max attempts and keeps its last error (truncated)', async () => {
    const { db, clock, log, queue, runner, tenantId, name } = await setup();
    let runs = 0;
    runner.register(name, async (job) => {
      runs++;
      throw new Error(`attempt ${job.attempt} failed: ${'x'.repeat(10_000)}`);
    });
    const jobId = await queue.enqueue(db, { tenantId, queue: name, payload: {}, maxAttempts: 3 });
    for (let i = 0; i < 6; i++) {
      await runner.runDue();
      clock.advance(10 * 60_000);
    }
    expect(runs).toBe(3);
    const job = (await getJob(db, tenantId, jobId))!;
    expect(job).toMatchObject({ status: 'DEAD', attempts: 3, max_attempts: 3, locked_until: null });
    expect(job.last_error).toMatch(/^Error: attempt 3 failed: x+…$/);
    expect(job.last_error!.length).toBe(2000);
    expect(job.finished_at).not.toBeNull();
    expect(log.entries.filter((e) => e.level === 'error' && e.msg === 'job is dead')).toHaveLength(1);
  });

  it('a DEAD job can be retried by hand and then runs again', async () => {
    const { db, clock, queue, runner, tenantId, name } = await setup();
    let fixed = false;
    runner.register(name, async () => {
      if (!fixed) throw new PermanentJobError('endpoint rejected the payload');
    });
    const jobId = await queue.enqueue(db, { tenantId, queue: name, payload: {} });
    await runner.runDue();
    expect((await getJob(db, tenantId, jobId))!.status).toBe('DEAD');
    expect(await retryJob(db, { tenantId: 'someone_else', jobId, now: clock.now() })).toBe(false);
    expect(await retryJob(db, { tenantId, jobId, now: clock.now() })).toBe(true);
    expect(await retryJob(db, { tenantId, jobId, now: clock.now() })).toBe(false);
    fixed = true;
    expect(await runner.runDue()).toBe(1);
    expect(await getJob(db, tenantId, jobId)).toMatchObject({ status: 'DONE', attempts: 1, finished_at: clock.now() });
  });

  it('PermanentJobError makes the job DEAD at once', async () => {
    const { db, clock, queue, runner, tenantId, name } = await setup();
    let runs = 0;
    runner.register(name, async () => {
      runs++;
      throw new PermanentJobError('webhook endpoint is gone (410)');
    });
    const jobId = await queue.enqueue(db, { tenantId, queue: name, payload: {} });
    expect(await runner.runDue()).toBe(1);
    clock.advance(3_600_000);
    expect(await runner.runDue()).toBe(0);
    expect(runs).toBe(1);
    expect(await getJob(db, tenantId, jobId)).toMatchObject({
      status: 'DEAD',
      attempts: 1,
      last_error: 'PermanentJobError: webhook endpoint is gone (410)',
    });
  });

  it('records a thrown non-Error value', async () => {
    const { db, queue, runner, tenantId, name } = await setup();
    runner.register(name, (async () => {
      throw { reason: 'odd' };
    }) as JobHandler);
    const jobId = await queue.enqueue(db, { tenantId, queue: name, payload: {} });
    await runner.runDue();
    expect((await getJob(db, tenantId, jobId))!.last_error).toBe('non-error thrown: {"reason":"odd"}');
  });
});

describe('job runner: crashed workers', () => {
  it('runs a RUNNING job again once its lease has expired', async () => {
    const { db, clock, queue, runner, tenantId, name } = await setup();
    const attempts: number[] = [];
    runner.register(name, async (job) => void attempts.push(job.attempt));
    const jobId = await queue.enqueue(db, { tenantId, queue: name, payload: {} });
    // A worker claims the job and dies without a word.
    const claimed = await claimJobs(db, { queue: name, limit: 10, now: clock.now(), lockSeconds: 60 });
    expect(claimed.map((j) => j.job_id)).toEqual([jobId]);
    expect(await getJob(db, tenantId, jobId)).toMatchObject({ status: 'RUNNING', attempts: 1 });

    expect(await runner.runDue()).toBe(0);
    clock.advance(59_999);
    expect(await runner.runDue()).toBe(0);
    clock.advance(1);
    expect(await runner.runDue()).toBe(1);
    expect(attempts).toEqual([2]);
    expect(await getJob(db, tenantId, jobId)).toMatchObject({ status: 'DONE', attempts: 2 });
  });

  it('a job whose last attempt lost its worker becomes DEAD without running again', async () => {
    const { db, clock, queue, runner, tenantId, name } = await setup();
    let runs = 0;
    runner.register(name, async () => void runs++);
    const jobId = await queue.enqueue(db, { tenantId, queue: name, payload: {}, maxAttempts: 1 });
    await claimJobs(db, { queue: name, limit: 10, now: clock.now(), lockSeconds: 60 });
    clock.advance(61_000);
    expect(await runner.runDue()).toBe(1);
    expect(runs).toBe(0);
    const job = (await getJob(db, tenantId, jobId))!;
    expect(job.status).toBe('DEAD');
    expect(job.last_error).toMatch(/lease expired/);
  });

  it('a worker that outlived its lease does not overwrite the outcome of the worker that took over', async () => {
    const { db, clock, log, queue, newRunner, tenantId, name } = await setup();
    let releaseSlow!: (fail: boolean) => void;
    const slow = new Promise<boolean>((resolve) => (releaseSlow = resolve));
    const slowRunner = newRunner();
    slowRunner.register(name, async () => {
      if (await slow) throw new Error('late failure of the stale worker');
    });
    const fastRunner = newRunner();
    fastRunner.register(name, async () => {});
    const jobId = await queue.enqueue(db, { tenantId, queue: name, payload: {} });

    const slowRun = slowRunner.runDue();
    await waitFor(async () => (await getJob(db, tenantId, jobId))!.status === 'RUNNING');
    clock.advance(61_000);
    expect(await fastRunner.runDue()).toBe(1);
    expect(await getJob(db, tenantId, jobId)).toMatchObject({ status: 'DONE', attempts: 2 });

    releaseSlow(true);
    await slowRun;
    expect(await getJob(db, tenantId, jobId)).toMatchObject({ status: 'DONE', attempts: 2, last_error: null });
    expect(log.entries.some((e) => e.level === 'warn' && /another worker claimed it/.test(e.msg))).toBe(true);
  });
});

describe('job runner: polling and concurrency', () => {
  it('two runners draining 200 jobs run each exactly once', async () => {
    const { db, queue, newRunner, tenantId, name } = await setup({ pollMs: 5 });
    const runs = new Map<string, number>();
    const byRunner = [0, 0];
    const handler = (index: number): JobHandler => async (job) => {
      runs.set(job.jobId, (runs.get(job.jobId) ?? 0) + 1);
      byRunner[index]!++;
      // A little real work time, so the runners interleave.
      await sleep(Math.random() * 3);
    };
    const runners = [newRunner(), newRunner()];
    runners.forEach((r, i) => r.register(name, handler(i), { concurrency: 8 }));
    const ids = await db.transaction().execute(async (trx) => {
      const out: string[] = [];
      for (let i = 0; i < 200; i++) out.push(await queue.enqueue(trx, { tenantId, queue: name, payload: { i } }));
      return out;
    });

    runners.forEach((r) => r.start());
    await waitFor(async () => {
      const done = await db.selectFrom('job').select(db.fn.countAll<number>().as('n')).where('tenant_id', '=', tenantId).where('status', '=', 'DONE').executeTakeFirstOrThrow();
      return Number(done.n) === 200;
    });
    await Promise.all(runners.map((r) => r.stop()));

    expect(runs.size).toBe(200);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(ids)).toEqual(new Set(runs.keys()));
    expect(byRunner[0]! + byRunner[1]!).toBe(200);
    // Both really took part (each gets about half), so this was a race, not a relay.
    expect(Math.min(...byRunner)).toBeGreaterThan(0);
    const rows = await jobsOf(db, tenantId);
    expect(rows.every((r) => r.status === 'DONE' && r.attempts === 1)).toBe(true);
  });

  it('two runners calling runDue at once run each of 100 jobs exactly once', async () => {
    const { db, queue, newRunner, tenantId, name } = await setup();
    const runs = new Map<string, number>();
    const runners = [newRunner(), newRunner()];
    for (const r of runners) {
      r.register(name, async (job) => void runs.set(job.jobId, (runs.get(job.jobId) ?? 0) + 1), { concurrency: 5 });
    }
    await Promise.all(Array.from({ length: 100 }, (_, i) => queue.enqueue(db, { tenantId, queue: name, payload: { i } })));
    const counts = await Promise.all(runners.map((r) => r.runDue()));
    expect(counts[0]! + counts[1]!).toBe(100);
    expect(runs.size).toBe(100);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
  });

  it('runs at most `concurrency` jobs of a queue at once', async () => {
    const { db, queue, runner, tenantId, name } = await setup({ pollMs: 5 });
    let current = 0;
    let peak = 0;
    let done = 0;
    runner.register(
      name,
      async () => {
        current++;
        peak = Math.max(peak, current);
        await sleep(15);
        current--;
        done++;
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 12; i++) await queue.enqueue(db, { tenantId, queue: name, payload: { i } });
    runner.start();
    await waitFor(() => done === 12);
    await runner.stop();
    expect(peak).toBe(3);
  });

  it('stop() waits for running handlers to finish', async () => {
    const { db, queue, runner, tenantId, name } = await setup({ pollMs: 5 });
    let started = false;
    let finished = false;
    runner.register(name, async () => {
      started = true;
      await sleep(100);
      finished = true;
    });
    const jobId = await queue.enqueue(db, { tenantId, queue: name, payload: {} });
    runner.start();
    await waitFor(() => started);
    await runner.stop();
    expect(finished).toBe(true);
    expect((await getJob(db, tenantId, jobId))!.status).toBe('DONE');
    // Stopped means stopped: a new job waits for the next worker.
    const later = await queue.enqueue(db, { tenantId, queue: name, payload: {} });
    await sleep(50);
    expect((await getJob(db, tenantId, later))!.status).toBe('PENDING');
  });

  it('does not claim jobs of queues it has no handler for', async () => {
    const { db, queue, runner, tenantId, name } = await setup();
    runner.register(name, async () => {});
    const other = await queue.enqueue(db, { tenantId, queue: unique('other'), payload: {} });
    await queue.enqueue(db, { tenantId, queue: name, payload: {} });
    expect(await runner.runDue()).toBe(1);
    expect((await getJob(db, tenantId, other))!.status).toBe('PENDING');
  });

  it('refuses a second handler for the same queue', async () => {
    const { runner, name } = await setup();
    runner.register(name, async () => {});
    expect(() => runner.register(name, async () => {})).toThrow(/already has a handler/);
  });
});

describe('job runner: recurring tasks', () => {
  it('every() runs a task repeatedly and survives a throwing run', async () => {
    const { log, runner } = await setup();
    let calls = 0;
    runner.every('sweep.test', 10, async () => {
      calls++;
      if (calls === 1) throw new Error('first sweep fails');
    });
    runner.start();
    await waitFor(() => calls >= 4, 5_000);
    await runner.stop();
    const afterStop = calls;
    await sleep(50);
    expect(calls).toBe(afterStop);
    const failures = log.entries.filter((e) => e.level === 'error' && e.msg === 'recurring task failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.obj).toMatchObject({ task: 'sweep.test' });
  });

  it('runDue() does not run recurring tasks', async () => {
    const { runner } = await setup();
    let calls = 0;
    runner.every('sweep.not-by-run-due', 1, async () => void calls++);
    await runner.runDue();
    await sleep(20);
    expect(calls).toBe(0);
  });

  it('skips a tick while the previous run of the task is still going', async () => {
    const { runner } = await setup();
    let current = 0;
    let peak = 0;
    let calls = 0;
    runner.every('sweep.slow', 5, async () => {
      calls++;
      current++;
      peak = Math.max(peak, current);
      await sleep(30);
      current--;
    });
    runner.start();
    await waitFor(() => calls >= 3, 5_000);
    await runner.stop();
    expect(peak).toBe(1);
  });
});

describe('purgeDoneJobs', () => {
  it('deletes DONE jobs finished before the cut-off and keeps DEAD and recent ones', async () => {
    // A clock far in the past, so the purge cannot touch the jobs of other tests sharing the database.
    const { db, clock, queue, runner, tenantId, name } = await setup({ clock: new ManualClock('2001-01-01T00:00:00Z') });
    runner.register(name, async (job) => {
      if ((job.payload as { fail?: boolean }).fail) throw new PermanentJobError('no');
    });
    const old = await queue.enqueue(db, { tenantId, queue: name, payload: {} });
    const dead = await queue.enqueue(db, { tenantId, queue: name, payload: { fail: true } });
    await runner.runDue();
    clock.advance(3_600_000);
    const recent = await queue.enqueue(db, { tenantId, queue: name, payload: {} });
    await runner.runDue();

    expect(await purgeDoneJobs(db, { before: new Date(clock.now().getTime() - 60_000) })).toBe(1);
    expect(await getJob(db, tenantId, old)).toBeUndefined();
    expect((await getJob(db, tenantId, dead))!.status).toBe('DEAD');
    expect((await getJob(db, tenantId, recent))!.status).toBe('DONE');
  });
});
