/**
 * The Lua scripts of the redeem-code mirror (redeem-code.mirror.ts): the code validity check
 * (校验码有效性) in Lua. Unlike a script that checks and marks in one step, the check never marks
 * a code used: PostgreSQL stays the authority for every success, and the mirror only learns a use
 * after the redemption committed.
 *
 * Per tenant (`{tenant}` is a Redis Cluster hash tag, so one call's keys share a slot):
 *   codes   hash  stored code -> "S|uses|max_uses|batch_id#seq|assigned_user_id" (S: A active, R redeemed, V voided;
 *                 entries written before the code's seq was mirrored have no "#seq")
 *   batches hash  batch_id    -> "S|{json}" (S: A or V; json: expiry, product, display rule, ...)
 *   pending hash  token       -> wall-clock ms until which a writer may be committing codes not yet mirrored
 */

/**
 * KEYS: codes, batches, pending. ARGV: wall-clock now (ms), expected code count (-1: never
 * answer unknown), then the stored forms the input may have, in preference order.
 * Returns {'found', field, code value, batch value} | {'miss'} | {'unknown'}.
 *
 * 'unknown' (the code does not exist) is answered only when the mirror provably holds every code
 * of the tenant: no writer holds a pending token, and the hash has exactly as many codes as the
 * database counted (every field is a real code of the tenant, so equal counts mean equal sets).
 */
export const CHECK_LUA = `
local now = tonumber(ARGV[1])
local expected = tonumber(ARGV[2])
for i = 3, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local b = string.match(v, '^[^|]*|[^|]*|[^|]*|([^|#]*)[^|]*|')
    local info = false
    if b then info = redis.call('HGET', KEYS[2], b) end
    if not info then return {'miss'} end
    return {'found', ARGV[i], v, info}
  end
end
if expected < 0 then return {'miss'} end
local p = redis.call('HGETALL', KEYS[3])
for k = 2, #p, 2 do
  if tonumber(p[k]) > now then return {'miss'} end
end
if redis.call('HLEN', KEYS[1]) ~= expected then return {'miss'} end
return {'unknown'}
`;

/**
 * Monotone write of code states (live paths: loads, write-backs after a commit). A code only ever
 * moves from active to redeemed or voided, uses only grow, an assignment is never lifted; so the
 * merge keeps the more advanced of the stored and the new state, and writes that arrive out of
 * order can never make the mirror refuse a code the database would still accept.
 * KEYS: codes. ARGV: field, value, field, value, ... Returns the number of fields changed.
 */
export const MERGE_CODES_LUA = `
local function parse(v)
  local s, u, m, b, a = string.match(v, '^(%a)|(%d+)|(%d+)|([^|]*)|(.*)$')
  return s, tonumber(u), m, b, a
end
local changed = 0
for i = 1, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  local cur = redis.call('HGET', KEYS[1], f)
  if cur then
    local s0, u0, _, _, a0 = parse(cur)
    local s1, u1, m1, b1, a1 = parse(v)
    if s0 and s1 then
      local s = s1
      if s0 ~= 'A' then s = s0 end
      local u = u1
      if u0 > u then u = u0 end
      local a = a0
      if a == '' then a = a1 end
      v = s .. '|' .. string.format('%d', u) .. '|' .. m1 .. '|' .. b1 .. '|' .. a
    end
    if v ~= cur then
      redis.call('HSET', KEYS[1], f, v)
      changed = changed + 1
    end
  else
    redis.call('HSET', KEYS[1], f, v)
    changed = changed + 1
  end
end
return changed
`;

/** Monotone write of batch entries: a voided batch stays voided. KEYS: batches. ARGV: field, value, ... */
export const MERGE_BATCHES_LUA = `
for i = 1, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  local cur = redis.call('HGET', KEYS[1], f)
  if cur and string.sub(cur, 1, 1) == 'V' then v = 'V' .. string.sub(v, 2) end
  if v ~= cur then redis.call('HSET', KEYS[1], f, v) end
end
return 1
`;
