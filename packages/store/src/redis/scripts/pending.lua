-- Reads the first queued jobs of queues, in scheduling order: pending in one round trip.
-- KEYS[1] {p}:queued  lex zset "<queue>\0<rank><level>\0<id>"; the job hashes {p}:job:<id> are
--   named from its prefix (KEYS[1] less "queued"): same hash tag, same slot (see lib/job.lua).
-- ARGV[1] the number of fields F, ARGV[2..F+1] the fields to read, then 3 per queue: name, limit,
--   and the member to read after (a keyset cursor; '' reads from the queue's head)
-- Returns the jobs' field values, flat, F per job (nil for an absent field), queue after queue.
-- Writes nothing.

local BASE = string.sub(KEYS[1], 1, #KEYS[1] - #'queued')
local nfields = tonumber(ARGV[1])
local names = {}
for i = 1, nfields do names[i] = ARGV[1 + i] end
local out = {}
for i = nfields + 2, #ARGV, 3 do
  local queue = ARGV[i]
  local after = ARGV[i + 2]
  local from = after == '' and '[' .. queue .. '\0' or '(' .. after
  local members = redis.call('ZRANGEBYLEX', KEYS[1], from, '(' .. queue .. '\1', 'LIMIT', 0, tonumber(ARGV[i + 1]))
  for _, member in ipairs(members) do
    local id = string.match(member, '[^%z]*$')
    local values = redis.call('HMGET', BASE .. 'job:' .. id, unpack(names))
    for f = 1, nfields do out[#out + 1] = values[f] end
  end
end
return out
