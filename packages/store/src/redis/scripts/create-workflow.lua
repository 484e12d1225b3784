-- Creates a workflow and all its steps' jobs in one call, unless its (owner, idempotency key)
-- already names one. Steps without needs are queued (or delayed), the rest blocked.
-- KEYS[1..8] the job indexes (see lib/job.lua), then
--   KEYS[9]  {p}:byqueue    lex zset "<queue>\0<id>"
--   KEYS[10] {p}:byowner    lex zset "<owner>\0<id>"
--   KEYS[11] {p}:all        lex zset "<id>"
--   KEYS[12] {p}:queues     set of queue names
--   KEYS[13] {p}:wfidem     hash "<owner>\0<key>" -> workflow id
--   KEYS[14] {p}:wfall      lex zset "<id>" (listings, newest first)
--   KEYS[15] {p}:wfbyowner  lex zset "<owner>\0<id>"
--   KEYS[16] {p}:wfbystate  lex zset "<state>\0<id>"
-- ARGV[1] idempotency field ('' for none), ARGV[2] the steps as JSON text (below), then the
--   workflow hash's field/value pairs (id and owner first; see lib/workflow.lua).
-- The steps go as one JSON argument, {names: [job hash fields], steps: [[step, needs (JSON
-- text), state, timeout_ms ('' for none), values of names...], ...]}, every value a string: a
-- workflow of 10 000 steps is one argument, not 200 000 (and no unpack of them), and the
-- payloads stay the JSON text the caller wrote (never decoded here).
-- Returns {1, workflow hash as HGETALL} when created; {0, the existing one's hash} when the
-- key already names one.
--@include lib/job.lua

local idem = ARGV[1]
if idem ~= '' then
  local existing = redis.call('HGET', KEYS[13], idem)
  if existing then return { 0, redis.call('HGETALL', BASE .. 'wf:' .. existing) } end
end
local wf, owner = ARGV[4], ARGV[6]
local spec = cjson.decode(ARGV[2])
local names, steps = spec.names, spec.steps

-- Every step's job id first: a step may need one listed after it.
local job_of = {}
for n, row in ipairs(steps) do
  local id
  for f, name in ipairs(names) do
    if name == 'id' then id = row[4 + f] end
  end
  job_of[row[1]] = id
end

local queues, order, ids_of_steps = {}, {}, {}
for n, row in ipairs(steps) do
  local fields = {}
  for f, name in ipairs(names) do fields[name] = row[4 + f] end
  local id, needs_json = fields.id, row[2]
  local needs = cjson.decode(needs_json)
  fields.gpus = '[]'
  fields.attempts = '0'
  fields.updated_at = fields.created_at
  if row[4] ~= '' then fields.timeout_ms = row[4] end
  fields.wf = wf
  fields.wf_step = row[1]
  fields.wf_needs = needs_json
  fields.needs_left = int(#needs)
  -- Each run's budget of attempts (a retry counts it from the attempts had).
  fields.wf_max = fields.max_attempts
  move({ id = id, queue = fields.queue, created_at = fields.created_at }, row[3], fields)
  zset(KEYS[9], fields.queue .. NUL .. id, 0)
  zset(KEYS[10], fields.owner .. NUL .. id, 0)
  zset(KEYS[11], id, 0)
  zset(BASE .. 'wfsteps:' .. wf, id, n)
  ids_of_steps[#ids_of_steps + 1] = row[1]
  ids_of_steps[#ids_of_steps + 1] = id
  for _, need in ipairs(needs) do
    redis.call('SADD', BASE .. 'deps:' .. job_of[need], id)
  end
  if not queues[fields.queue] then
    queues[fields.queue] = true
    order[#order + 1] = fields.queue
  end
end
if #order > 0 then chunked('SADD', KEYS[12], order) end
if #ids_of_steps > 0 then chunked('HSET', BASE .. 'wfstepids:' .. wf, ids_of_steps) end

local pairs_ = {}
for i = 3, #ARGV do pairs_[#pairs_ + 1] = ARGV[i] end
chunked('HSET', BASE .. 'wf:' .. wf, pairs_)
if idem ~= '' then redis.call('HSET', KEYS[13], idem, wf) end
redis.call('ZADD', KEYS[14], 0, wf)
redis.call('ZADD', KEYS[15], 0, owner .. NUL .. wf)
redis.call('ZADD', KEYS[16], 0, 'running' .. NUL .. wf)
flush()
return { 1, redis.call('HGETALL', BASE .. 'wf:' .. wf) }
