-- Shared fragment, included by every job transition script (see scripts.ts: `--@include`).
-- It expects the store's job indexes first, in this order (RedisKeys.jobIndexes):
--   KEYS[1] queued             {p}:queued    lex zset "<queue>\0<rank><level>\0<id>": scheduling order
--   KEYS[2] waiting            {p}:waiting   lex zset "<queue>\0<since>\0<id>": oldest queued per queue
--   KEYS[3] delayed            {p}:delayed   zset id by run_at
--   KEYS[4] leased             {p}:leased    zset id by lease_expires_at (assigned and running)
--   KEYS[5] counts             {p}:counts    hash "<queue>\0<state>" -> jobs
--   KEYS[6] by state           {p}:bystate   lex zset "<state>\0<id>" (listing, newest first)
--   KEYS[7] by queue and state {p}:byqueuestate lex zset "<queue>\0<state>\0<id>"
--   KEYS[8] finished           {p}:finished  zset id by finished_at (final jobs: retention)
-- A job's own keys, {p}:job:<id> (its hash) and {p}:attempts:<id> (attempts that ended without
-- ending the job), are built here from the prefix, KEYS[1] less its "queued": every key of a
-- store carries the one hash tag {p}, so they are in KEYS[1]'s slot and a script may touch
-- them on Redis Cluster too. That is what lets one call carry a whole batch of jobs.
-- Each job's hash is read and written as the script goes, so a job named twice in one batch
-- sees its first change; index changes are collected and written once at the end by flush():
-- one variadic ZADD/ZREM per index and one HINCRBY per counter for the whole batch, the last
-- change of each member winning. Every script of a batch is one atomic call, so each job's
-- transition is atomic too.
-- Each move also keeps its owner's counts (lib/owners.lua): a job read for a transition needs
-- its owner, and its resources when it enters or leaves a leased state.
-- And each queue's queued jobs per owner (fair share's per-owner heads, pending.lua):
--   {p}:ownerqueued:<queue>\0<owner>  lex zset, the members of {p}:queued of that owner's jobs
--   {p}:queuedowners:<queue>          set of the owners with a queued job in the queue
-- written by flush() with the other indexes (no name contains \0, so the key names one pair).
-- Numbers are written with int() so epoch milliseconds never turn into "1.8e+12".

local NUL = '\0'
local QUEUED, WAITING, DELAYED, LEASED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local COUNTS, BYSTATE, BYQUEUESTATE, FINISHED = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local BASE = string.sub(KEYS[1], 1, #KEYS[1] - #'queued')
--@include lib/owners.lua

local function int(n)
  return string.format('%d', n)
end

local function job_key(id)
  return BASE .. 'job:' .. id
end

local function attempts_key(id)
  return BASE .. 'attempts:' .. id
end

-- Pending index changes: zsets[key][member] = score, or false to remove; counters[field] = delta.
local zsets, zset_order, counters, counter_order = {}, {}, {}, {}

local function zset(key, member, score)
  local t = zsets[key]
  if not t then
    t = {}
    zsets[key] = t
    zset_order[#zset_order + 1] = key
  end
  t[member] = score
end

-- The (queue, owner) pairs whose queued index changed in this batch: flush() keeps the queue's
-- set of owners with queued jobs from them.
local owner_queues, owner_queue_order = {}, {}

local function owner_queued_key(queue, owner)
  return BASE .. 'ownerqueued:' .. queue .. NUL .. owner
end

local function queued_owners_key(queue)
  return BASE .. 'queuedowners:' .. queue
end

-- The queue's queued index and the owner's, together: every change of one is a change of both.
local function queued(job, score)
  zset(QUEUED, job.qmember, score)
  local key = owner_queued_key(job.queue, job.owner)
  if not owner_queues[key] then
    owner_queues[key] = { queue = job.queue, owner = job.owner }
    owner_queue_order[#owner_queue_order + 1] = key
  end
  zset(key, job.qmember, score)
end

local function count(field, delta)
  local n = counters[field]
  if n == nil then counter_order[#counter_order + 1] = field end
  counters[field] = (n or 0) + delta
end

-- Lua's unpack has a limit on values: variadic calls go in chunks (an even size, for ZADD).
local CHUNK = 4000
local function chunked(command, key, values)
  for i = 1, #values, CHUNK do
    redis.call(command, key, unpack(values, i, math.min(i + CHUNK - 1, #values)))
  end
end

-- Writes the collected index changes. Every script that moves jobs calls it before returning.
local function flush()
  for _, key in ipairs(zset_order) do
    local add, rem = {}, {}
    for member, score in pairs(zsets[key]) do
      if score then
        add[#add + 1] = score
        add[#add + 1] = member
      else
        rem[#rem + 1] = member
      end
    end
    if #rem > 0 then chunked('ZREM', key, rem) end
    if #add > 0 then chunked('ZADD', key, add) end
  end
  for _, key in ipairs(owner_queue_order) do
    local pair = owner_queues[key]
    -- After this batch's adds and removals: does the owner still have a queued job here?
    local empty = redis.call('ZCARD', key) == 0
    redis.call(empty and 'SREM' or 'SADD', queued_owners_key(pair.queue), pair.owner)
  end
  for _, field in ipairs(counter_order) do
    local delta = counters[field]
    if delta ~= 0 then redis.call('HINCRBY', COUNTS, field, delta) end
  end
  zsets, zset_order, counters, counter_order = {}, {}, {}, {}
  owner_queues, owner_queue_order = {}, {}
  flush_owners()
end

local function load_job(id)
  local flat = redis.call('HGETALL', job_key(id))
  if #flat == 0 then return nil end
  local job = {}
  for i = 1, #flat, 2 do job[flat[i]] = flat[i + 1] end
  return job
end

-- Only the named fields (a job whose hash lacks id is unknown: nil).
local function load_fields(id, names)
  local values = redis.call('HMGET', job_key(id), unpack(names))
  local job = {}
  for i, name in ipairs(names) do
    if values[i] then job[name] = values[i] end
  end
  if not job.id then return nil end
  return job
end

-- Writes fields (string values) in one HSET; false stands for null and deletes the field
-- (one HDEL, only of fields the job has).
local function save(job, fields)
  local set, del = {}, {}
  for k, v in pairs(fields) do
    if v == false then
      if job[k] ~= nil then del[#del + 1] = k end
      job[k] = nil
    else
      job[k] = v
      set[#set + 1] = k
      set[#set + 1] = v
    end
  end
  local key = job_key(job.id)
  if #set > 0 then redis.call('HSET', key, unpack(set)) end
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
end

local function is_leased(state)
  return state == 'assigned' or state == 'running'
end

local function is_final(state)
  return state == 'succeeded' or state == 'failed' or state == 'cancelled' or state == 'skipped'
end

-- Takes the job out of the indexes of its current state.
local function leave(job)
  local id, queue, state = job.id, job.queue, job.state
  if state == 'queued' then
    queued(job, false)
    if job.wmember then zset(WAITING, job.wmember, false) end
  elseif state == 'delayed' then
    zset(DELAYED, id, false)
  elseif is_leased(state) then
    zset(LEASED, id, false)
  end
  count(queue .. NUL .. state, -1)
  zset(BYSTATE, state .. NUL .. id, false)
  zset(BYQUEUESTATE, queue .. NUL .. state .. NUL .. id, false)
end

-- Puts the job in the indexes of its state; run_at, lease_expires_at and (for a final state)
-- finished_at are set, and wmember for queued.
local function enter(job)
  local id, queue, state = job.id, job.queue, job.state
  if state == 'queued' then
    queued(job, 0)
    zset(WAITING, job.wmember, 0)
  elseif state == 'delayed' then
    zset(DELAYED, id, job.run_at)
  elseif is_leased(state) then
    zset(LEASED, id, job.lease_expires_at)
  elseif is_final(state) and not job.wf then
    -- A final job never leaves its state: only deleteFinished takes it out of this index. A
    -- workflow's step (job.wf) is never indexed: retention must not delete it (a retry reads
    -- its result), and a retried step may leave its final state.
    zset(FINISHED, id, job.finished_at)
  end
  count(queue .. NUL .. state, 1)
  zset(BYSTATE, state .. NUL .. id, 0)
  zset(BYQUEUESTATE, queue .. NUL .. state .. NUL .. id, 0)
end

-- The wait-index member of a job queued from now on: its wait starts when it became runnable,
-- never before it was created.
local function wait_member(job, run_at)
  local since = math.max(tonumber(run_at), tonumber(job.created_at))
  return job.queue .. NUL .. string.format('%015d', since) .. NUL .. job.id
end

-- Moves the job to `state`, writing `fields` and the state in the same HSET.
local function move(job, state, fields)
  local from = job.state
  if from then leave(job) end
  fields.state = state
  if state == 'queued' then fields.wmember = wait_member(job, fields.run_at or job.run_at) end
  save(job, fields)
  enter(job)
  owner_moved(job, from, state)
end

-- Status codes, translated by codes.ts: 0 ok, 1 NOT_FOUND, 2 CANCELLED, 3 FINISHED, 4 STALE_LEASE
-- (release.lua adds 5 LEASE_RENEWED).
local function lease_status(job, token)
  if not job then return 1 end
  if job.state == 'cancelled' then return 2 end
  if job.lease_token == token and is_leased(job.state) then return 0 end
  if job.state == 'succeeded' or job.state == 'failed' or job.state == 'skipped' then return 3 end
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
  redis.call('RPUSH', attempts_key(job.id), cjson.encode(rec))
end

-- Ends the job as failed; its final attempt is read from the job hash (see getAttempts).
local function fail_job(job, err, now, reported)
  move(job, 'failed', {
    error = err,
    finished_at = int(now),
    updated_at = int(now),
    started_at = started_or(job, reported, now),
    lease_token = false,
    lease_expires_at = false,
  })
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
  move(job, state, fields)
end
