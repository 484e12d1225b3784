-- Shared fragment, included by every job transition script (see scripts.ts: `--@include`).
-- It expects the job's keys first, in this order:
--   KEYS[1] job hash           {p}:job:<id>
--   KEYS[2] attempts list      {p}:attempts:<id>  (attempts that ended without ending the job)
--   KEYS[3] queued             {p}:queued    lex zset "<queue>\0<rank><level>\0<id>": scheduling order
--   KEYS[4] waiting            {p}:waiting   lex zset "<queue>\0<since>\0<id>": oldest queued per queue
--   KEYS[5] delayed            {p}:delayed   zset id by run_at
--   KEYS[6] leased             {p}:leased    zset id by lease_expires_at (assigned and running)
--   KEYS[7] counts             {p}:counts    hash "<queue>\0<state>" -> jobs
--   KEYS[8] by state           {p}:bystate   lex zset "<state>\0<id>" (listing, newest first)
--   KEYS[9] by queue and state {p}:byqueuestate lex zset "<queue>\0<state>\0<id>"
--   KEYS[10] finished          {p}:finished  zset id by finished_at (final jobs: retention)
-- Numbers are written with int() so epoch milliseconds never turn into "1.8e+12".

local NUL = '\0'

local function int(n)
  return string.format('%d', n)
end

local function load_job()
  local flat = redis.call('HGETALL', KEYS[1])
  if #flat == 0 then return nil end
  local job = {}
  for i = 1, #flat, 2 do job[flat[i]] = flat[i + 1] end
  return job
end

-- Writes fields (string values); false stands for null and deletes the field.
local function save(job, fields)
  local set, del = {}, {}
  for k, v in pairs(fields) do
    if v == false then
      job[k] = nil
      del[#del + 1] = k
    else
      job[k] = v
      set[#set + 1] = k
      set[#set + 1] = v
    end
  end
  if #set > 0 then redis.call('HSET', KEYS[1], unpack(set)) end
  if #del > 0 then redis.call('HDEL', KEYS[1], unpack(del)) end
end

local function is_leased(state)
  return state == 'assigned' or state == 'running'
end

local function is_final(state)
  return state == 'succeeded' or state == 'failed' or state == 'cancelled'
end

-- Takes the job out of the indexes of its current state.
local function leave(job)
  local id, queue, state = job.id, job.queue, job.state
  if state == 'queued' then
    redis.call('ZREM', KEYS[3], job.qmember)
    if job.wmember then redis.call('ZREM', KEYS[4], job.wmember) end
  elseif state == 'delayed' then
    redis.call('ZREM', KEYS[5], id)
  elseif is_leased(state) then
    redis.call('ZREM', KEYS[6], id)
  end
  redis.call('HINCRBY', KEYS[7], queue .. NUL .. state, -1)
  redis.call('ZREM', KEYS[8], state .. NUL .. id)
  redis.call('ZREM', KEYS[9], queue .. NUL .. state .. NUL .. id)
end

-- Puts the job in the indexes of `state` and records it; run_at, lease_expires_at and (for a
-- final state) finished_at must be set.
local function enter(job, state)
  local id, queue = job.id, job.queue
  if state == 'queued' then
    redis.call('ZADD', KEYS[3], 0, job.qmember)
    -- A job's wait starts when it became runnable, never before it was created.
    local since = math.max(tonumber(job.run_at), tonumber(job.created_at))
    local w = queue .. NUL .. string.format('%015d', since) .. NUL .. id
    job.wmember = w
    redis.call('ZADD', KEYS[4], 0, w)
    redis.call('HSET', KEYS[1], 'state', state, 'wmember', w)
  else
    if state == 'delayed' then
      redis.call('ZADD', KEYS[5], job.run_at, id)
    elseif is_leased(state) then
      redis.call('ZADD', KEYS[6], job.lease_expires_at, id)
    elseif is_final(state) then
      -- A final job never leaves its state: only deleteFinished takes it out of this index.
      redis.call('ZADD', KEYS[10], job.finished_at, id)
    end
    redis.call('HSET', KEYS[1], 'state', state)
  end
  redis.call('HINCRBY', KEYS[7], queue .. NUL .. state, 1)
  redis.call('ZADD', KEYS[8], 0, state .. NUL .. id)
  redis.call('ZADD', KEYS[9], 0, queue .. NUL .. state .. NUL .. id)
  job.state = state
end

local function move(job, state)
  leave(job)
  enter(job, state)
end

-- Status codes, translated by codes.ts: 0 ok, 1 NOT_FOUND, 2 CANCELLED, 3 FINISHED, 4 STALE_LEASE.
local function lease_status(job, token)
  if not job then return 1 end
  if job.state == 'cancelled' then return 2 end
  if job.lease_token == token and is_leased(job.state) then return 0 end
  if job.state == 'succeeded' or job.state == 'failed' then return 3 end
  return 4
end

-- The attempt's start: the one recorded, else the agent's report (never after now), else null.
local function started_or(job, reported, now)
  if job.started_at then return job.started_at end
  if reported and reported ~= '' then return int(math.min(tonumber(reported), now)) end
  return false
end

-- Records an attempt that ends without ending its job (a retry, a lost lease, a release).
local function finish_attempt(job, outcome, err, now, reported)
  local rec = {
    attempt = job.attempts,
    agentId = job.agent_id,
    assignedAt = job.assigned_at,
    finishedAt = int(now),
    outcome = outcome,
    error = err,
  }
  local s = started_or(job, reported, now)
  if s then rec.startedAt = s end
  redis.call('RPUSH', KEYS[2], cjson.encode(rec))
end

-- Ends the job as failed; its final attempt is read from the job hash (see getAttempts).
local function fail_job(job, err, now, reported)
  save(job, {
    error = err,
    finished_at = int(now),
    updated_at = int(now),
    started_at = started_or(job, reported, now),
    lease_token = false,
    lease_expires_at = false,
  })
  move(job, 'failed')
end

-- Back to `state` (queued or delayed) at run_at, leaving the lease. The GPUs stay: they name
-- the last assignment.
local function requeue(job, state, run_at, err, now, extra)
  local fields = {
    run_at = int(run_at),
    error = err,
    updated_at = int(now),
    agent_id = false,
    lease_token = false,
    lease_expires_at = false,
  }
  if extra then for k, v in pairs(extra) do fields[k] = v end end
  save(job, fields)
  move(job, state)
end
