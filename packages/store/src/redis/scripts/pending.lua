-- Reads the first queued jobs of queues, in scheduling order: pending in one round trip.
-- KEYS[1] {p}:queued  lex zset "<queue>\0<rank><level>\0<id>"; the job hashes {p}:job:<id>, and
--   for a per-owner read {p}:queuedowners:<queue> and {p}:ownerqueued:<queue>\0<owner> (see
--   lib/job.lua), are named from its prefix (KEYS[1] less "queued"): same hash tag, same slot.
-- ARGV[1] the number of fields F, ARGV[2..F+1] the fields to read, then 4 per queue: name,
--   limit, the member to read after (a keyset cursor; '' reads from the queue's head), and '1'
--   to read up to limit jobs of each owner with queued jobs ('' for the queue's first limit)
-- Returns the jobs' field values, flat, F per job (nil for an absent field), queue after queue;
--   per owner, owners in name order, each owner's jobs in scheduling order.
-- Writes nothing.

local BASE = string.sub(KEYS[1], 1, #KEYS[1] - #'queued')
local nfields = tonumber(ARGV[1])
local names = {}
for i = 1, nfields do names[i] = ARGV[1 + i] end
local out = {}

local function read(members)
  for _, member in ipairs(members) do
    local id = string.match(member, '[^%z]*$')
    local values = redis.call('HMGET', BASE .. 'job:' .. id, unpack(names))
    for f = 1, nfields do out[#out + 1] = values[f] end
  end
end

for i = nfields + 2, #ARGV, 4 do
  local queue, limit, after = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  if ARGV[i + 3] == '1' then
    -- Each owner's index holds only that queue's members: its head is the owner's head.
    local owners = redis.call('SMEMBERS', BASE .. 'queuedowners:' .. queue)
    table.sort(owners)
    for _, owner in ipairs(owners) do
      read(redis.call('ZRANGEBYLEX', BASE .. 'ownerqueued:' .. queue .. '\0' .. owner, '-', '+', 'LIMIT', 0, limit))
    end
  else
    local from = after == '' and '[' .. queue .. '\0' or '(' .. after
    read(redis.call('ZRANGEBYLEX', KEYS[1], from, '(' .. queue .. '\1', 'LIMIT', 0, limit))
  end
end
return out
