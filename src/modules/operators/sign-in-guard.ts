import { ipLimitKey } from '../../platform/client-ip.js';
import type { LockoutState, RateLimiter } from '../../platform/rate-limit/index.js';

/**
 * The lock-out of console sign-ins: failures counted per (tenant, e-mail) and per client IP by
 * the shared rate limiter (Redis when configured, so every process counts together), each with
 * its own threshold. Checks and failures of one subject run one after another in this process
 * (a keyed lock), so N parallel wrong passwords are refused exactly as N sequential ones: the
 * first `failures` get 401, every later one 429.
 */
export interface SignInGuard {
  /** Runs `work` holding the subject's locks; `work` gets the subject's lock-out state and a way to count a failure. */
  attempt<T>(subject: SignInSubject, work: (state: LockoutState, fail: () => Promise<void>) => Promise<T>): Promise<T>;
}

export interface SignInSubject {
  tenantId: string | null;
  email: string;
  ip: string;
}

export function createSignInGuard(limiters: { email: RateLimiter; ip: RateLimiter }): SignInGuard {
  const lock = createKeyedLock();
  const keysOf = (s: SignInSubject) => ({
    email: `operator:{${s.tenantId ?? '-'}}:email:${s.email.toLowerCase()}`,
    ip: `operator:ip:${ipLimitKey(s.ip)}`,
  });
  return {
    async attempt(subject, work) {
      const keys = keysOf(subject);
      // Always the e-mail's lock first, then the IP's: no two attempts wait for each other in a cycle.
      const releaseEmail = await lock(keys.email);
      const releaseIp = await lock(keys.ip).catch((err: unknown) => {
        releaseEmail();
        throw err;
      });
      try {
        const [byEmail, byIp] = await Promise.all([limiters.email.checkLockout([keys.email]), limiters.ip.checkLockout([keys.ip])]);
        const state: LockoutState = {
          locked: byEmail.locked || byIp.locked,
          retryAfterMs: Math.max(byEmail.retryAfterMs, byIp.retryAfterMs),
        };
        const fail = async () => {
          await Promise.all([limiters.email.recordFailure([keys.email]), limiters.ip.recordFailure([keys.ip])]);
        };
        return await work(state, fail);
      } finally {
        releaseIp();
        releaseEmail();
      }
    },
  };
}

/** One holder per key at a time, in arrival order; a key with no holder takes no memory. */
function createKeyedLock() {
  const tails = new Map<string, Promise<void>>();
  return async function lock(key: string): Promise<() => void> {
    const previous = tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    tails.set(key, tail);
    await previous;
    return () => {
      release();
      if (tails.get(key) === tail) tails.delete(key);
    };
  };
}
