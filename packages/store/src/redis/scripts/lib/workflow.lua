-- Shared fragment: advancing workflows (see workflows.ts, the contract). Included after
-- lib/job.lua by every script that can finish a step (complete, release, expire, cancel) and by
-- the workflow scripts, so a step's end and its workflow's advance are one atomic call.
-- Keys, all under the store's hash tag (BASE, from lib/job.lua):
--   {p}:wf:<id>         hash: id, owner, name, on_failure, max_steps, idem, state, created_at,
--                       updated_at, finished_at, cancel_requested, steps, succeeded, failed,
--                       cancelled, skipped (the counts)
--   {p}:wfsteps:<id>    zset step job id by creation index (steps in creation order)
--   {p}:wfstepids:<id>  hash step id -> job id
--   {p}:deps:<job id>   set of the job ids of the steps that need this step
--   {p}:wfbystate       lex zset "<state>\0<id>" (listings)
-- A step's job hash carries wf (workflow id: its presence is what tells a step from a plain
-- job), wf_step, wf_needs (JSON array), needs_left (needs not yet succeeded), wf_max (its
-- maxAttempts as created: each run's budget) and, once released, inputs (JSON object).
-- Steps never enter {p}:finished (lib/job.lua's enter), so retention never sees them.
-- The error texts are generated from @baton/core's workflow.ts by scripts.ts (one place):
--@workflow-errors

-- Events the caller publishes (workflow-events.ts): 'q', queue (a step released), 'd', run_at
-- (a step released to wait for its run_at) or 'c', job id, agent id (a step cancelled; '' when
-- it held no lease). Taken per item by wf_take_events().
local wf_events = {}

local function wf_key(id)
  return BASE .. 'wf:' .. id
end

local function wf_take_events()
  if #wf_events == 0 then return 0 end
  local t = wf_events
  wf_events = {}
  return t
end

-- Replaces the first plain occurrence of `marker` in `text` (no pattern magic in step names).
local function fill(text, marker, value)
  local at = string.find(text, marker, 1, true)
  if not at then return text end
  return string.sub(text, 1, at - 1) .. value .. string.sub(text, at + #marker)
end

-- A string as it goes inside a JSON string literal (cjson's escaping, less the quotes).
local function json_inner(s)
  local quoted = cjson.encode(s)
  return string.sub(quoted, 2, #quoted - 1)
end

local function skipped_error(need, state)
  return fill(fill(WF_SKIPPED_ERROR, '@1@', json_inner(need)), '@2@', json_inner(state))
end

local function fail_fast_error(step, state)
  return fill(fill(WF_FAIL_FAST_ERROR, '@1@', json_inner(step)), '@2@', json_inner(state))
end

-- The inputs of a step whose needs all succeeded: {need: result} as JSON text, built from the
-- stored result texts (never decoded, so numbers and key order stay as the agent sent them).
local function wf_inputs(wf, needs_json)
  local needs = cjson.decode(needs_json)
  local parts = {}
  -- In chunks: a join may need thousands of steps, more than unpack takes at once.
  for from = 1, #needs, CHUNK do
    local to = math.min(from + CHUNK - 1, #needs)
    local ids = redis.call('HMGET', BASE .. 'wfstepids:' .. wf, unpack(needs, from, to))
    for i = from, to do
      local id = ids[i - from + 1]
      local result = id and redis.call('HGET', job_key(id), 'result')
      parts[i] = cjson.encode(needs[i]) .. ':' .. (result or 'null')
    end
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- Fields a step's advance reads of a step (move's, the owner counts', the step's own, and
-- those it may delete: save deletes only fields it read).
local STEP_FIELDS = {
  'id', 'queue', 'state', 'owner', 'resources', 'created_at', 'run_at', 'qmember', 'wmember',
  'agent_id', 'lease_token', 'lease_expires_at', 'wf', 'wf_step', 'wf_needs', 'needs_left',
}

-- A blocked step whose needs all succeeded: queued now (its wait starts now), or delayed when
-- its own run_at is still ahead.
local function wf_release(job, now)
  local fields = { inputs = wf_inputs(job.wf, job.wf_needs), updated_at = int(now) }
  if tonumber(job.run_at) > now then
    move(job, 'delayed', fields)
    wf_events[#wf_events + 1] = 'd'
    wf_events[#wf_events + 1] = job.run_at
  else
    fields.run_at = int(now)
    move(job, 'queued', fields)
    wf_events[#wf_events + 1] = 'q'
    wf_events[#wf_events + 1] = job.queue
  end
end

-- Ends an unfinished step as `state` (cancelled or skipped) with `err`, revoking a lease. A
-- cancelled leased one gets a 'cancelled' event naming its agent, which must stop; a cascade over
-- thousands of waiting steps announces nothing for them. Its attempt's record is the job hash.
local function wf_end_step(job, state, err, now)
  local agent = is_leased(job.state) and job.agent_id
  move(job, state, {
    error = err,
    finished_at = int(now),
    updated_at = int(now),
    lease_token = false,
    lease_expires_at = false,
  })
  if state == 'cancelled' and agent then
    wf_events[#wf_events + 1] = 'c'
    wf_events[#wf_events + 1] = job.id
    wf_events[#wf_events + 1] = agent
  end
end

-- Ends the workflow when no step is unfinished: cancelled (cancelWorkflow), succeeded (every
-- step did), else failed.
local function wf_check_end(wf, now)
  local key = wf_key(wf)
  local v = redis.call('HMGET', key, 'state', 'steps', 'succeeded', 'failed', 'cancelled', 'skipped', 'cancel_requested')
  if v[1] ~= 'running' then return end
  local steps, succeeded = tonumber(v[2]), tonumber(v[3])
  if steps - succeeded - tonumber(v[4]) - tonumber(v[5]) - tonumber(v[6]) > 0 then return end
  local state = v[7] and 'cancelled' or (succeeded == steps and 'succeeded' or 'failed')
  redis.call('HSET', key, 'state', state, 'finished_at', int(now), 'updated_at', int(now))
  redis.call('ZREM', BASE .. 'wfbystate', 'running' .. NUL .. wf)
  redis.call('ZADD', BASE .. 'wfbystate', 0, state .. NUL .. wf)
end

local function wf_count(wf, state, n, now)
  if n == 0 then return end
  redis.call('HINCRBY', wf_key(wf), state, n)
  redis.call('HSET', wf_key(wf), 'updated_at', int(now))
end

-- Skips every blocked step that needs `job` (which ended `state` without success), directly or
-- not; each names the need that did not succeed. Returns how many were skipped.
local function wf_skip_dependents(job, state, now)
  local skipped = 0
  local todo = { { id = job.id, step = job.wf_step, state = state } }
  local i = 1
  while todo[i] do
    local from = todo[i]
    i = i + 1
    for _, dep_id in ipairs(redis.call('SMEMBERS', BASE .. 'deps:' .. from.id)) do
      local dep = load_fields(dep_id, STEP_FIELDS)
      if dep and dep.state == 'blocked' then
        wf_end_step(dep, 'skipped', skipped_error(from.step, from.state), now)
        skipped = skipped + 1
        todo[#todo + 1] = { id = dep.id, step = dep.wf_step, state = 'skipped' }
      end
    end
  end
  return skipped
end

-- Cancels every unfinished step of the workflow with `err` (fail-fast, cancelWorkflow).
-- Returns how many were cancelled.
local function wf_cancel_unfinished(wf, err, now)
  local n = 0
  for _, id in ipairs(redis.call('ZRANGE', BASE .. 'wfsteps:' .. wf, 0, -1)) do
    local step = load_fields(id, STEP_FIELDS)
    if step and not is_final(step.state) then
      wf_end_step(step, 'cancelled', err, now)
      n = n + 1
    end
  end
  return n
end

-- Advances the workflow of a step that has just ended `state` (a final state); the caller
-- moved the job and checked job.wf. The same call that finished the step.
local function wf_step_ended(job, state, now)
  local wf = job.wf
  wf_count(wf, state, 1, now)
  if state == 'succeeded' then
    for _, dep_id in ipairs(redis.call('SMEMBERS', BASE .. 'deps:' .. job.id)) do
      -- Only a blocked dependent waits on its needs; the last success releases it, once.
      if redis.call('HGET', job_key(dep_id), 'state') == 'blocked' then
        if redis.call('HINCRBY', job_key(dep_id), 'needs_left', -1) <= 0 then
          wf_release(load_fields(dep_id, STEP_FIELDS), now)
        end
      end
    end
  else
    if not job.wf_step then job.wf_step = redis.call('HGET', job_key(job.id), 'wf_step') end
    wf_count(wf, 'skipped', wf_skip_dependents(job, state, now), now)
    if redis.call('HGET', wf_key(wf), 'on_failure') == 'fail-fast' then
      wf_count(wf, 'cancelled', wf_cancel_unfinished(wf, fail_fast_error(job.wf_step, state), now), now)
    end
  end
  wf_check_end(wf, now)
end
