-- Retention: deletes one final job that finished before the cut-off, with everything it owns.
-- The caller read the candidates from {p}:finished (oldest first); this checks again.
-- KEYS[1]  {p}:job:<id>       the job hash
-- KEYS[2]  {p}:attempts:<id>  its ended attempts
-- KEYS[3]  {p}:logs:<id>      its kept output
-- KEYS[4]  {p}:logtail:<id>   its last seq and kept bytes
-- KEYS[5]  {p}:finished       zset id by finished_at
-- KEYS[6]  {p}:counts         hash "<queue>\0<state>" -> jobs
-- KEYS[7]  {p}:bystate        lex zset "<state>\0<id>"
-- KEYS[8]  {p}:byqueuestate   lex zset "<queue>\0<state>\0<id>"
-- KEYS[9]  {p}:byqueue        lex zset "<queue>\0<id>"
-- KEYS[10] {p}:byowner        lex zset "<owner>\0<id>"
-- KEYS[11] {p}:all            lex zset "<id>"
-- KEYS[12] {p}:idem           hash "<owner>\0<key>" -> job id
-- KEYS[13] {p}:queues         set of queue names
-- ARGV[1] job id, ARGV[2] finished before (epoch ms; finished_at < it), ARGV[3] the only
-- final state to delete, or '' for any
-- Returns 1 when the job was deleted, 0 when it is gone, not final, or too young, 2 when it is
-- in another final state (kept, and left in {p}:finished). A stale entry of {p}:finished is
-- removed (or re-scored), so a caller's next read moves on. The owner's counts
-- (lib/owners.lua) lose the job too.

local NUL = '\0'
local BASE = string.sub(KEYS[5], 1, #KEYS[5] - #'finished')
--@include lib/owners.lua
local STATES = { 'blocked', 'delayed', 'queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled', 'skipped' }
local id = ARGV[1]

local fields = redis.call('HMGET', KEYS[1], 'state', 'queue', 'owner', 'idem', 'finished_at', 'wf')
local state, queue, owner, idem, finished_at = fields[1], fields[2], fields[3], fields[4], fields[5]
local final = state == 'succeeded' or state == 'failed' or state == 'cancelled' or state == 'skipped'
-- A workflow's step is never deleted (a retry may need its result); steps are never indexed in
-- {p}:finished, so this only drops an entry that should not be there.
if not final or not finished_at or fields[6] then
  redis.call('ZREM', KEYS[5], id)
  return 0
end
if ARGV[3] ~= '' and state ~= ARGV[3] then
  return 2
end
if tonumber(finished_at) >= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[5], finished_at, id)
  return 0
end

redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[5], id)
redis.call('ZREM', KEYS[7], state .. NUL .. id)
redis.call('ZREM', KEYS[8], queue .. NUL .. state .. NUL .. id)
redis.call('ZREM', KEYS[9], queue .. NUL .. id)
redis.call('ZREM', KEYS[10], owner .. NUL .. id)
redis.call('ZREM', KEYS[11], id)
if idem then
  local field = owner .. NUL .. idem
  -- The key is free again: the next enqueue with it creates a new job.
  if redis.call('HGET', KEYS[12], field) == id then redis.call('HDEL', KEYS[12], field) end
end

-- Counts stay exact; a queue left with no job leaves the counts (and the queue set), as it
-- would on a backend that counts rows.
redis.call('HINCRBY', KEYS[6], queue .. NUL .. state, -1)
owner_moved({ id = id, owner = owner, queue = queue }, state, nil)
flush_owners()
local names = {}
for i, s in ipairs(STATES) do names[i] = queue .. NUL .. s end
local left = 0
for _, n in ipairs(redis.call('HMGET', KEYS[6], unpack(names))) do left = left + (tonumber(n) or 0) end
if left == 0 then
  redis.call('HDEL', KEYS[6], unpack(names))
  redis.call('SREM', KEYS[13], queue)
end
return 1
