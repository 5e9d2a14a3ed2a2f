import type { Redis } from 'ioredis';
import type { LimitResult, LimitStore, RateRule, StoreMode } from './types.js';
import { bucketWidth } from './window.js';

/**
 * window.ts's `evaluate`, in Lua, so a whole multi-rule check is one atomic step in Redis shared by
 * every API process: no other call can slip in between reading a count and charging it, and a
 * refusal by one rule charges none. Keep the two in step (the same test suite runs on both).
 *
 * KEYS: one hash per rule (field = bucket index, value = units). ARGV: mode, now (ms), cost, then
 * limit, window, bucket width and peek (1: checked, never charged) per rule. Returns {allowed 0/1, remaining (-1 = no rules),
 * retry_after_ms, index of the refusing rule (1-based, 0 = none)}.
 */
export const SLIDING_WINDOW_LUA = `
local mode = ARGV[1]
local now = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local n = #KEYS

local function leaves(j, b, w) return j * b + b - 1 + w end

local function load(key, b, w)
  local flat = redis.call('HGETALL', key)
  local live, dead, used, newest = {}, {}, 0, -1
  for k = 1, #flat, 2 do
    local j, c = tonumber(flat[k]), tonumber(flat[k + 1])
    if leaves(j, b, w) > now then
      live[#live + 1] = { j, c }
      used = used + c
      if j > newest then newest = j end
    else
      dead[#dead + 1] = flat[k]
    end
  end
  if #dead > 0 then redis.call('HDEL', key, unpack(dead)) end
  return used, live, newest
end

local function charge(key, newest, b, w)
  local j = math.floor(now / b)
  redis.call('HINCRBY', key, string.format('%d', j), cost)
  if newest > j then j = newest end
  redis.call('PEXPIRE', key, leaves(j, b, w) - now)
end

local function rule(r)
  local base = 3 + 4 * (r - 1)
  return tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3]), ARGV[base + 4] == '1'
end

if mode == 'add' then
  for r = 1, n do
    local _, w, b = rule(r)
    local _, _, newest = load(KEYS[r], b, w)
    charge(KEYS[r], newest, b, w)
  end
end

local refused, worst, remaining = 0, 0, -1
local newest_of, used_of = {}, {}
for r = 1, n do
  local limit, w, b = rule(r)
  local used, live, newest = load(KEYS[r], b, w)
  newest_of[r], used_of[r] = newest, used
  local free = limit - used
  if free < 0 then free = 0 end
  if remaining < 0 or free < remaining then remaining = free end
  if used + cost > limit then
    local wait = w
    if cost <= limit then
      table.sort(live, function(x, y) return x[1] < y[1] end)
      local need = used + cost - limit
      for _, e in ipairs(live) do
        need = need - e[2]
        if need <= 0 then
          wait = leaves(e[1], b, w) - now
          break
        end
      end
    end
    if refused == 0 or wait > worst then
      refused, worst = r, wait
    end
  end
end

if refused > 0 then return { 0, remaining, worst, refused } end
if mode == 'hit' then
  remaining = -1
  for r = 1, n do
    local limit, w, b, peek = rule(r)
    local left = limit - used_of[r]
    if not peek then
      charge(KEYS[r], newest_of[r], b, w)
      left = left - cost
    end
    if remaining < 0 or left < remaining then remaining = left end
  end
end
return { 1, remaining, 0, 0 }
`;

type ScriptCommand = (numKeys: number, ...args: (string | number)[]) => Promise<RawLimit>;

/** What SLIDING_WINDOW_LUA answers: allowed 0/1, remaining (-1: no rules), retry_after_ms, refusing rule (1-based). */
export type RawLimit = [number, number, number, number];

/** The script's KEYS and ARGV for one call. */
export function slidingWindowCall(mode: StoreMode, rules: readonly RateRule[], cost: number, now: number): { keys: string[]; args: (string | number)[] } {
  const args: (string | number)[] = [mode, now, cost];
  for (const rule of rules) args.push(rule.limit, rule.windowMs, bucketWidth(rule.windowMs), rule.peek ? 1 : 0);
  return { keys: rules.map((r) => r.key), args };
}

/** The script's answer as a LimitResult. */
export function limitResult(raw: RawLimit, rules: readonly RateRule[]): LimitResult {
  const [allowed, remaining, retryAfterMs, refused] = raw;
  return {
    allowed: allowed === 1,
    remaining: remaining < 0 ? Infinity : remaining,
    retryAfterMs,
    rule: refused > 0 ? rules[refused - 1]!.name : null,
  };
}

const COMMAND = 'mhSlidingWindow';

/**
 * The Redis store. The script is registered with ioredis's defineCommand: it is sent by EVALSHA
 * and loaded (EVAL) only when Redis does not know it yet, e.g. after a restart.
 */
export function createRedisStore(redis: Redis, options: { now?: () => number } = {}): LimitStore {
  const now = options.now ?? Date.now;
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { lua: SLIDING_WINDOW_LUA });
  const script = (redis as unknown as Record<string, ScriptCommand>)[COMMAND]!.bind(redis);

  return {
    async run(mode: StoreMode, rules: readonly RateRule[], cost: number): Promise<LimitResult> {
      const { keys, args } = slidingWindowCall(mode, rules, cost, now());
      return limitResult(await script(keys.length, ...keys, ...args), rules);
    },
  };
}
