/**
 * The redemption gate: the attempt's admission (rate limits and lock-out), the Redis probe of the
 * code and, when the code does not exist, the failure count towards the lock-out, in ONE Lua call.
 * They were three calls on the path of every guessed code; each call costs the API process more
 * CPU (a command object, a socket write, a reply to parse) than Redis spends running it.
 *
 * The script runs the rate limiter's own sliding-window script and the mirror's own check, as
 * they are (src/platform/rate-limit/redis-store.ts, redeem-code.mirror-lua.ts), so the answers are
 * the same as from separate calls: a refused admission charges nothing and probes nothing; a
 * failure is counted only for an unknown code. Every key carries the tenant's `{tenant}` hash tag,
 * so one call's keys share a Redis Cluster slot. When either side does not use Redis right now,
 * or the call fails, the caller falls back to the separate calls (which count in-process and
 * skip the probe while Redis cools down).
 */
import type { Redis } from 'ioredis';
import { rateLimited } from '../../platform/errors.js';
import { type RawLimit, type RedemptionGuard, SLIDING_WINDOW_LUA } from '../../platform/rate-limit/index.js';
import { ensureRedisConnected } from '../../platform/redis.js';
import { CHECK_LUA } from './redeem-code.mirror-lua.js';
import type { CodeMirror, Probe } from './redeem-code.mirror.js';
import type { RedeemAttempt } from './redemption.service.js';

/**
 * KEYS: admission keys (n1), the mirror's codes, batches and pending keys, failure keys (n2).
 * ARGV: n1, a1, the admission's a1 arguments, c, the probe's c arguments, n2, a2, the failure's a2
 * arguments. Returns {admission} when refused, else {admission, probe} or, for an unknown code
 * with failure keys, {admission, probe, failure}.
 */
export const GATE_LUA = `
local function sliding_window(KEYS, ARGV)
${SLIDING_WINDOW_LUA}
end
local function check(KEYS, ARGV)
${CHECK_LUA}
end
local function slice(t, from, count)
  local out = {}
  for i = 1, count do out[i] = t[from + i - 1] end
  return out
end
local n1, a1 = tonumber(ARGV[1]), tonumber(ARGV[2])
local admission = sliding_window(slice(KEYS, 1, n1), slice(ARGV, 3, a1))
if admission[1] == 0 then return { admission } end
local p = 3 + a1
local c = tonumber(ARGV[p])
local probe = check(slice(KEYS, n1 + 1, 3), slice(ARGV, p + 1, c))
p = p + 1 + c
local n2, a2 = tonumber(ARGV[p]), tonumber(ARGV[p + 1])
if probe[1] == 'unknown' and n2 > 0 then
  return { admission, probe, sliding_window(slice(KEYS, n1 + 4, n2), slice(ARGV, p + 2, a2)) }
end
return { admission, probe }
`;

type GateCommand = (numKeys: number, ...args: (string | number)[]) => Promise<[RawLimit, string[]?, RawLimit?]>;
const COMMAND = 'mhRedeemGate';

export interface GateOutcome {
  probe: Probe;
  /** The attempt was counted as a failure towards the lock-out (an unknown code). */
  failureCounted: boolean;
}

export type RedemptionGate = ReturnType<typeof createRedemptionGate>;

export function createRedemptionGate(deps: { redis: Redis; guard: RedemptionGuard; mirror: CodeMirror }) {
  const { redis, guard, mirror } = deps;
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { lua: GATE_LUA });
  const gate = (redis as unknown as Record<string, GateCommand>)[COMMAND]!.bind(redis);

  return {
    /**
     * Admits the attempt and probes its code (`forms`, its stored spellings) in one call. Throws
     * 429 rate_limited when the admission refuses; null when the gate cannot be used right now
     * (then admit and probe separately).
     */
    async run(a: RedeemAttempt, forms: string[]): Promise<GateOutcome | null> {
      const [limits, probe] = await Promise.all([
        guard.prepare({ tenantId: a.tenantId, productCode: a.productCode, userId: a.userId, clientIp: a.limitIp }),
        mirror.prepareProbe(a.tenantId, forms),
      ]);
      if (!limits || !probe) return null;
      const failure = limits.failure ?? { keys: [], args: [] };
      let out: Awaited<ReturnType<GateCommand>>;
      try {
        await ensureRedisConnected(redis);
        out = await gate(
          limits.admit.keys.length + probe.keys.length + failure.keys.length,
          ...limits.admit.keys,
          ...probe.keys,
          ...failure.keys,
          limits.admit.keys.length,
          limits.admit.args.length,
          ...limits.admit.args,
          probe.args.length,
          ...probe.args,
          failure.keys.length,
          failure.args.length,
          ...failure.args,
        );
      } catch (err) {
        limits.noteRedisFailure(err);
        mirror.noteRedisFailure(err);
        return null;
      }
      const admitted = limits.admit.settle(out[0]);
      if (!admitted.allowed) throw rateLimited(admitted);
      if (out[2] && limits.failure) limits.failure.settle(out[2]);
      return { probe: probe.settle(out[1]!), failureCounted: out[2] !== undefined };
    },
  };
}
