/**
 * Lua scripts of the Redis broker. Each runs atomically inside Redis, which is what makes a
 * batch reserve safe: a message is popped and recorded as unacked in one step, so no crash can
 * fall between the two (kombu's BRPOP-then-MULTI has that window; we keep BRPOP only for waking up
 * when the queues are empty).
 */

/**
 * Reserve up to ARGV[1] messages. KEYS: unacked hash, unacked_index zset, leased set, then the
 * lists to pop from, best first. ARGV[2]: the score (unix time, seconds). Returns a flat list
 * `[list key, payload, list key, payload, ...]`. The unacked entry is `[payload, exchange,
 * routing_key]` as kombu writes it; the payload is stored as received (never re-encoded).
 */
export const RESERVE_SCRIPT = `
local out = {}
local limit = tonumber(ARGV[1])
local taken = 0
for i = 4, #KEYS do
  while taken < limit do
    local m = redis.call('RPOP', KEYS[i])
    if not m then break end
    local ok, env = pcall(cjson.decode, m)
    if ok and type(env) == 'table' and type(env['properties']) == 'table' and env['properties']['delivery_tag'] then
      local props = env['properties']
      local info = props['delivery_info']
      local ex, rk = '', ''
      if type(info) == 'table' then
        if type(info['exchange']) == 'string' then ex = info['exchange'] end
        if type(info['routing_key']) == 'string' then rk = info['routing_key'] end
      end
      local tag = tostring(props['delivery_tag'])
      redis.call('HSET', KEYS[1], tag, '[' .. m .. ', ' .. cjson.encode(ex) .. ', ' .. cjson.encode(rk) .. ']')
      redis.call('ZADD', KEYS[2], ARGV[2], tag)
      redis.call('SADD', KEYS[3], tag)
    end
    out[#out + 1] = KEYS[i]
    out[#out + 1] = m
    taken = taken + 1
  end
  if taken >= limit then break end
end
return out
`;

/** Ack: forget delivery tags (ARGV) in the unacked hash, index and leased set (KEYS). */
export const ACK_SCRIPT = `
for i = 1, #ARGV do
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('SREM', KEYS[3], ARGV[i])
end
return #ARGV
`;
