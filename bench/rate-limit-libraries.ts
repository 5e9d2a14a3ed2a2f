/**
 * bench/rate-limit-libraries: our limiter (platform/rate-limit) against rate-limiter-flexible on
 * the check the redemption path makes, to decide whether to replace ours.
 *
 *   npx tsx bench/rate-limit-libraries.ts   (BENCH_REDIS_URL default redis://127.0.0.1:6379,
 *                                            BENCH_SECONDS 3 per run, BENCH_CONCURRENCY 32)
 *
 * One admission = the lock-out (failures under the user and IP keys, checked, never charged) and
 * four limits (user, client_ip, product_hour, product_day). Ours does it in one atomic step (one
 * Lua call in Redis). rate-limiter-flexible composes it from one limiter per rule (its
 * RateLimiterUnion needs one key for all, ours are different keys) plus `get` for the lock-out,
 * as its login-lockout recipe does. Prints admissions/s and Redis commands per admission, in
 * memory and in Redis, then three behaviours the tests of src/platform/rate-limit require.
 */
import { Redis } from 'ioredis';
import { RateLimiterMemory, type RateLimiterAbstract, RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible';
import { createMetricsRegistry } from '../src/app/metrics.js';
import { createRateLimiter, type RateLimiter, rateLimitMetrics } from '../src/platform/rate-limit/index.js';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const BIG = 1_000_000_000; // limits nobody reaches: the benchmark measures the check, not refusals
const HOUR = 3600;

type Admit = (i: number) => Promise<boolean>;

function ours(redis: Redis | null, prefix: string): RateLimiter {
  const metrics = rateLimitMetrics(createMetricsRegistry());
  return createRateLimiter({ redis, metrics, keyPrefix: prefix, lockout: { failures: 10, windowMs: 900_000 } });
}

function oursAdmit(limiter: RateLimiter, limit = BIG): Admit {
  return async (i) => {
    const user = `u${i % 5000}`;
    const r = await limiter.admit([`user:${user}`, `ip:${i % 1000}`], [
      { name: 'user', key: `user:${user}`, limit, windowMs: 60_000 },
      { name: 'client_ip', key: `ip:${i % 1000}`, limit: BIG, windowMs: 60_000 },
      { name: 'product_hour', key: 'product:p1', limit: BIG, windowMs: HOUR * 1000 },
      { name: 'product_day', key: 'product:p1', limit: BIG, windowMs: 24 * HOUR * 1000 },
    ]);
    return r.allowed;
  };
}

/** The same admission from rate-limiter-flexible's parts; `make` builds one limiter. */
function flexible(make: (opts: { keyPrefix: string; points: number; duration: number }) => RateLimiterAbstract, prefix: string, limit = BIG, productDay = BIG) {
  const failures = make({ keyPrefix: `${prefix}fail`, points: 10, duration: 900 });
  const user = make({ keyPrefix: `${prefix}user`, points: limit, duration: 60 });
  const ip = make({ keyPrefix: `${prefix}ip`, points: BIG, duration: 60 });
  const hour = make({ keyPrefix: `${prefix}ph`, points: BIG, duration: HOUR });
  const day = make({ keyPrefix: `${prefix}pd`, points: productDay, duration: 24 * HOUR });
  const admit: Admit = async (i) => {
    const userKey = `u${i % 5000}`;
    const seen = await Promise.all([failures.get(userKey), failures.get(`ip${i % 1000}`)]);
    if (seen.some((r) => r !== null && r.consumedPoints >= 10)) return false;
    // Like RateLimiterUnion: every limiter is charged, refused or not.
    const results = await Promise.all(
      [user.consume(userKey), ip.consume(`ip${i % 1000}`), hour.consume('p1'), day.consume('p1')].map((p) =>
        p.then(() => true, (e: unknown) => (isLimiterResult(e) ? false : Promise.reject(e))),
      ),
    );
    return results.every(Boolean);
  };
  return { admit, user };
}

const isLimiterResult = (e: unknown): e is RateLimiterRes => typeof e === 'object' && e !== null && 'msBeforeNext' in e;

/** Every command ioredis sends: a Lua call is one, MULTI + GET + PTTL + EXEC (one pipelined write) four. */
function countCommands(redis: Redis): () => number {
  let n = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    n++;
    return send(...args);
  }) as Redis['sendCommand'];
  return () => n;
}

async function measure(admit: Admit): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = w; performance.now() < end; i += CONCURRENCY) {
        await admit(i);
        done++;
      }
    }),
  );
  return done / SECONDS;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const commands = countCommands(redis);
  const run = `bench:rl:${Date.now()}:`;
  const rows: [string, number, number | null][] = [];
  const row = async (name: string, admit: Admit, viaRedis: boolean) => {
    await admit(0); // warm up: script load, connection
    const start = commands();
    const perSecond = await measure(admit);
    const perAdmit = viaRedis ? (commands() - start) / Math.max(1, perSecond * SECONDS) : null;
    rows.push([name, perSecond, perAdmit]);
  };

  await row('ours, in-process', oursAdmit(ours(null, `${run}m:`)), false);
  await row('rate-limiter-flexible, RateLimiterMemory', flexible((o) => new RateLimiterMemory(o), `${run}fm:`).admit, false);
  await row('ours, Redis', oursAdmit(ours(redis, `${run}r:`)), true);
  await row('rate-limiter-flexible, RateLimiterRedis', flexible((o) => new RateLimiterRedis({ ...o, storeClient: redis }), `${run}fr:`).admit, true);

  console.log(`admission = lock-out check + 4 limits; ${CONCURRENCY} concurrent, ${SECONDS} s each`);
  for (const [name, perSecond, perAdmit] of rows) {
    console.log(`  ${name.padEnd(42)} ${Math.round(perSecond).toString().padStart(8)} admissions/s${perAdmit === null ? '' : `, ${perAdmit.toFixed(2)} Redis commands each`}`);
  }
  const [m, fm, r, fr] = rows.map((x) => x[1]);
  console.log(`  ratio ours / flexible: in-process ${(m! / fm!).toFixed(2)}, Redis ${(r! / fr!).toFixed(2)}`);

  // 1. A refusal by one rule must charge none (limiter.test: "charges none when one refuses").
  const oursLimiter = ours(null, `${run}b1:`);
  const tight = (i: number) =>
    oursLimiter.admit([], [
      { name: 'user', key: 'user:x', limit: 5, windowMs: 60_000 },
      { name: 'product_day', key: 'product:x', limit: 3, windowMs: 86_400_000 },
    ]).then((x) => x.allowed && i >= 0);
  for (let i = 0; i < 4; i++) await tight(i);
  const oursLeft = (await oursLimiter.admit([], [{ name: 'user', key: 'user:x', limit: 5, windowMs: 60_000 }])).remaining + 1;
  const f = flexible((o) => new RateLimiterMemory(o), `${run}b1f:`, 5, 3);
  for (let i = 0; i < 4; i++) await f.admit(0);
  const flexLeft = 5 - ((await f.user.get('u0'))?.consumedPoints ?? 0);
  console.log(`user limit 5, product limit 3, 4 attempts (the 4th refused by product): user has ${oursLeft} left with ours, ${flexLeft} with flexible (refused attempts charged)`);

  // 2. A refused attempt is not charged (limiter.test: "refuses one that does not fit without charging it").
  const single = new RateLimiterMemory({ points: 10, duration: 60 });
  await single.consume('k', 8);
  await single.consume('k', 4).catch(() => undefined);
  console.log(`limit 10: 8 charged, then 4 refused: consumed ${((await single.get('k'))?.consumedPoints) ?? 0} with flexible (ours: 8)`);

  // 3. Sliding window (limiter.test: "slides"): 5 per second, 1 hit, 4 at +900 ms, 5 at +1050 ms.
  const burst = async (hit: () => Promise<boolean>) => {
    let late = 0;
    await hit();
    await sleep(900);
    for (let i = 0; i < 4; i++) if (await hit()) late++;
    await sleep(150);
    for (let i = 0; i < 5; i++) if (await hit()) late++;
    return late;
  };
  const slide = ours(null, `${run}b3:`);
  const oursBurst = await burst(() => slide.hit('k', 5, 1000).then((x) => x.allowed));
  const fixed = new RateLimiterMemory({ points: 5, duration: 1 });
  const flexBurst = await burst(() => fixed.consume('k').then(() => true, () => false));
  console.log(`limit 5 per 1 s: admitted within 150 ms (+900..+1050): ours ${oursBurst}, flexible ${flexBurst} (fixed window restarts)`);

  await redis.quit();
}

await main();
