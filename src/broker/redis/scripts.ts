/**
 * Lua scripts of the Redis broker. Each runs atomically inside Redis, which is what makes a
 * batch reserve safe: a message is popped and recorded as unacked in one step, so no crash can
 * fall between the two (kombu's BRPOP-then-MULTI has that window; celeriac never uses BRPOP).
 */

/**
 * What the reserve script returns in place of a message longer than its size limit: this prefix
 * and the length (a kombu envelope is JSON, so it never starts with it).
 */
export const OVERSIZE_MARK = '!oversize:';

/**
 * Reserve up to ARGV[1] messages. KEYS: unacked hash, unacked_index zset, leased set, then the
 * lists to pop from, best first. ARGV[2]: the score (unix time, seconds). ARGV[3]: the longest
 * payload to hand out (0: any); a longer one is dropped and returned as {@link OVERSIZE_MARK}
 * and its length. Returns a flat list
 * `[list key, payload, list key, payload, ...]` of the popped ones. The unacked entry is `[payload, exchange, routing_key]` as kombu writes it; the
 * payload is stored as received (never re-encoded).
 */
export const RESERVE_SCRIPT = `
local find, match, sub = string.find, string.match, string.sub
local VALUE = '^%s*:%s*"([^"\\\\]*)"'
-- The string value of the key "<head><probe>" in the JSON text m when the key occurs exactly once
-- and its value needs no unescaping; nil otherwise. kombu's envelopes have delivery_tag, exchange
-- and routing_key once each, in properties. Plain finds only (Lua patterns over a whole message
-- cost as much as decoding it), for the key's tail: its first character is rare in envelopes, so
-- the search stops at few places, where the head is compared.
local function only(m, head, probe)
  local found, init, n = nil, 1, #head
  while true do
    local a, b = find(m, probe, init, true)
    if not a then break end
    if sub(m, a - n, a - 1) == head then
      if found then return nil end
      found = b
    end
    init = b + 1
  end
  if found then return match(m, VALUE, found + 1) end
  return nil
end
local OVERSIZE_MARK = '${OVERSIZE_MARK}'
local out, entries, scores, tags = {}, {}, {}, {}
local nout, ntags = 0, 0
local limit, score, maxlen = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]) or 0
-- Adds message m to the unacked records written at the end (when it has a delivery tag).
local function record(m)
  local tag = only(m, '"deliver', 'y_tag"')
  local ex = tag and only(m, '"e', 'xchange"')
  local rk = ex and only(m, '"routin', 'g_key"')
  if rk then
    ex, rk = '"' .. ex .. '"', '"' .. rk .. '"'
  else
    -- Not the usual layout: read it properly (slower).
    tag, ex, rk = nil, '""', '""'
    local decoded, env = pcall(cjson.decode, m)
    if decoded and type(env) == 'table' and type(env['properties']) == 'table' and env['properties']['delivery_tag'] then
      local props = env['properties']
      local info = props['delivery_info']
      if type(info) == 'table' then
        if type(info['exchange']) == 'string' then ex = cjson.encode(info['exchange']) end
        if type(info['routing_key']) == 'string' then rk = cjson.encode(info['routing_key']) end
      end
      tag = tostring(props['delivery_tag'])
    end
  end
  if tag then
    ntags = ntags + 1
    tags[ntags] = tag
    entries[2 * ntags - 1] = tag
    entries[2 * ntags] = '[' .. m .. ', ' .. ex .. ', ' .. rk .. ']'
    scores[2 * ntags - 1] = score
    scores[2 * ntags] = tag
  end
end
local taken = 0
for i = 4, #KEYS do
  if taken >= limit then break end
  local ok, popped = pcall(redis.call, 'RPOP', KEYS[i], limit - taken)
  if not ok then
    -- Redis before 6.2 has no RPOP count: one at a time.
    popped = {}
    while #popped < limit - taken do
      local m = redis.call('RPOP', KEYS[i])
      if not m then break end
      popped[#popped + 1] = m
    end
  end
  if popped then
    for j = 1, #popped do
      local m = popped[j]
      out[nout + 1] = KEYS[i]
      if maxlen > 0 and #m > maxlen then
        -- Over messageMaxBytes: dropped here, never sent to the worker (a few of them in one
        -- batch would take hundreds of MB there); the worker logs the marker.
        out[nout + 2] = OVERSIZE_MARK .. #m
      else
        record(m)
        out[nout + 2] = m
      end
      nout = nout + 2
    end
    taken = taken + #popped
  end
end
if ntags > 0 then
  redis.call('HSET', KEYS[1], unpack(entries))
  redis.call('ZADD', KEYS[2], unpack(scores))
  redis.call('SADD', KEYS[3], unpack(tags))
end
return out
`;

/** Ack: forget delivery tags (ARGV) in the unacked hash, index and leased set (KEYS). */
export const ACK_SCRIPT = `
for i = 1, #ARGV, 1000 do
  local last = math.min(i + 999, #ARGV)
  redis.call('ZREM', KEYS[2], unpack(ARGV, i, last))
  redis.call('HDEL', KEYS[1], unpack(ARGV, i, last))
  redis.call('SREM', KEYS[3], unpack(ARGV, i, last))
end
return #ARGV
`;

/** Bits in a publisher's ring of executed sequence numbers (256 KiB at most per publisher). */
export const PUBLISH_RING_BITS = 2 ** 21;

/**
 * Publish once or never (issue 17): the publisher's deadline is checked against Redis's own clock,
 * so a publish the caller was told failed cannot be executed later (stuck in a socket or an
 * offline queue); and an executed publish sets its sequence number's bit in the publisher's ring,
 * so one whose reply was lost with its connection is found out, never guessed.
 *
 * KEYS[1]: the publisher's ring (a bitmap); KEYS[2]: the exchange's binding set (mode `bind`).
 * ARGV: sequence number, deadline (Redis time, unix ms), payload, mode, then by mode:
 * - `bind`: routing key, priority suffix of the list names ('' or `SEP<step>`), SEP: kombu's
 *   lookup in the binding set (entries `routing_key SEP pattern SEP queue`) and an LPUSH to
 *   every matching queue; with no bindings at all the routing key names the queue;
 * - `list`: the list keys to LPUSH to;
 * - `fanout`: the channel to PUBLISH on.
 * Returns the number of queues (or subscribers) reached, or -1 when past the deadline (nothing
 * done).
 */
export const PUBLISH_SCRIPT = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local seq, deadline, payload, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local t = redis.call('TIME')
if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > deadline then return -1 end
local ring = ${PUBLISH_RING_BITS}
redis.call('SETBIT', KEYS[1], seq % ring, 1)
-- Forget what is half a ring behind, so the bit of a number is never an older one's.
if seq >= ring / 2 then redis.call('SETBIT', KEYS[1], (seq - ring / 2) % ring, 0) end
redis.call('PEXPIRE', KEYS[1], 3600000)
if mode == 'fanout' then return redis.call('PUBLISH', ARGV[5], payload) end
if mode == 'list' then
  for i = 5, #ARGV do redis.call('LPUSH', ARGV[i], payload) end
  return #ARGV - 4
end
local rk, suffix, sep = ARGV[5], ARGV[6], ARGV[7]
local members = redis.call('SMEMBERS', KEYS[2])
if #members == 0 then
  redis.call('LPUSH', rk .. suffix, payload)
  return 1
end
local done, n = {}, 0
for _, entry in ipairs(members) do
  local a = string.find(entry, sep, 1, true)
  if a and string.sub(entry, 1, a - 1) == rk then
    local b = string.find(entry, sep, a + #sep, true)
    local queue = b and string.sub(entry, b + #sep) or ''
    if queue ~= '' and not done[queue] then
      done[queue] = true
      redis.call('LPUSH', queue .. suffix, payload)
      n = n + 1
    end
  end
end
return n
`;
