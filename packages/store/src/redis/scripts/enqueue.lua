-- Creates a batch of jobs, each unless its (owner, idempotency key) already names one.
-- KEYS[1..8] the job indexes (see lib/job.lua), then
--   KEYS[9]  {p}:idem         hash "<owner>\0<key>" -> job id
--   KEYS[10] {p}:byqueue      lex zset "<queue>\0<id>"
--   KEYS[11] {p}:byowner      lex zset "<owner>\0<id>"
--   KEYS[12] {p}:all          lex zset "<id>"
--   KEYS[13] {p}:queues       set of queue names
-- ARGV[1] F, the number of fields every job gives; ARGV[2..F+1] their names (id, queue, owner
--   and created_at among them); then per job F + 3 values: state ('queued' or 'delayed'),
--   idempotency field ('' when none; the key is what follows its first \0), timeout_ms ('' for
--   none), and the F field values. Each new job also gets gpus '[]', attempts '0', updated_at =
--   created_at, state and wmember.
-- Returns two values per job, flat: 1, '' when created; 0, existing id when its key already
--   names a job (also one created earlier in the same batch).
--@include lib/job.lua

local nfields = tonumber(ARGV[1])
local names = {}
for i = 1, nfields do names[i] = ARGV[1 + i] end
local out = {}
local queues = {}
local i = nfields + 2
while i <= #ARGV do
  local state, idem, timeout = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local fields = {}
  for f = 1, nfields do fields[names[f]] = ARGV[i + 2 + f] end
  i = i + 3 + nfields
  local existing = idem ~= '' and redis.call('HGET', KEYS[9], idem)
  if existing then
    out[#out + 1] = 0
    out[#out + 1] = existing
  else
    local id = fields.id
    fields.gpus = '[]'
    fields.attempts = '0'
    fields.updated_at = fields.created_at
    if timeout ~= '' then fields.timeout_ms = timeout end
    if idem ~= '' then
      fields.idem = string.sub(idem, string.find(idem, NUL, 1, true) + 1)
      redis.call('HSET', KEYS[9], idem, id)
    end
    move({ id = id, queue = fields.queue, created_at = fields.created_at }, state, fields)
    zset(KEYS[10], fields.queue .. NUL .. id, 0)
    zset(KEYS[11], fields.owner .. NUL .. id, 0)
    zset(KEYS[12], id, 0)
    queues[fields.queue] = true
    out[#out + 1] = 1
    out[#out + 1] = ''
  end
end
local names_of_queues = {}
for q in pairs(queues) do names_of_queues[#names_of_queues + 1] = q end
if #names_of_queues > 0 then chunked('SADD', KEYS[13], names_of_queues) end
flush()
return out
