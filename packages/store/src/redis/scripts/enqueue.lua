-- Creates one job, unless its (owner, idempotency key) already names one.
-- KEYS[1..10] the job's keys (see lib/job.lua), then
--   KEYS[11] {p}:idem         hash "<owner>\0<key>" -> job id
--   KEYS[12] {p}:byqueue      lex zset "<queue>\0<id>"
--   KEYS[13] {p}:byowner      lex zset "<owner>\0<id>"
--   KEYS[14] {p}:all          lex zset "<id>"
--   KEYS[15] {p}:queues       set of queue names
-- ARGV[1] state ('queued' or 'delayed'), ARGV[2] idempotency field ('' when none),
-- ARGV[3..] the job hash's fields and values (id, queue, owner, run_at, created_at, qmember, ...)
-- Returns {1} when created, {0, existingId} when the key already names a job.
--@include lib/job.lua

local idem = ARGV[2]
if idem ~= '' then
  local existing = redis.call('HGET', KEYS[11], idem)
  if existing then return {0, existing} end
end
local job = {}
local fields = {}
for i = 3, #ARGV, 2 do
  job[ARGV[i]] = ARGV[i + 1]
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', KEYS[1], unpack(fields))
enter(job, ARGV[1])
if idem ~= '' then redis.call('HSET', KEYS[11], idem, job.id) end
redis.call('ZADD', KEYS[12], 0, job.queue .. NUL .. job.id)
redis.call('ZADD', KEYS[13], 0, job.owner .. NUL .. job.id)
redis.call('ZADD', KEYS[14], 0, job.id)
redis.call('SADD', KEYS[15], job.queue)
return {1}
