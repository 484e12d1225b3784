-- Runs part of an ended workflow again, in one call (see Workflows.retryWorkflow): the step
-- `from` and every step needing it, directly or not; without `from`, every step that did not
-- succeed and every step needing one of them. Checks everything before writing anything.
-- KEYS[1..8] the job indexes (see lib/job.lua); the workflow's keys are named from their prefix
--   (lib/workflow.lua).
-- ARGV[1] now, ARGV[2] workflow id, ARGV[3] from ('' for none)
-- Returns {1, code} unknown workflow or step; {3, code[, step, need]} a conflict (nothing
--   written); {0, workflow hash as HGETALL, 0 or events (lib/workflow.lua: released queues)}.
--@include lib/job.lua
--@include lib/workflow.lua

local now, wf, from = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local key = wf_key(wf)
local state = redis.call('HGET', key, 'state')
if not state then return { 1, 'WORKFLOW_NOT_FOUND' } end
if state == 'running' then return { 3, 'WORKFLOW_RUNNING' } end

-- What the reset reads, and every field it may delete (save deletes only fields it read).
local FIELDS = {
  'id', 'queue', 'state', 'owner', 'resources', 'created_at', 'run_at', 'qmember', 'wmember',
  'agent_id', 'wf', 'wf_step', 'wf_needs', 'wf_max', 'attempts', 'assigned_at', 'started_at',
  'finished_at', 'error', 'result', 'progress', 'inputs', 'avoid_agent_id', 'lease_token',
  'lease_expires_at',
}
local steps, by_step = {}, {}
for n, id in ipairs(redis.call('ZRANGE', BASE .. 'wfsteps:' .. wf, 0, -1)) do
  local s = load_fields(id, FIELDS)
  if s then
    steps[#steps + 1] = s
    by_step[s.wf_step] = s
  end
end

-- The steps to run again: the seeds and, through {p}:deps:<id>, all that need them.
local in_set, todo = {}, {}
local function add(s)
  if in_set[s.id] then return end
  in_set[s.id] = true
  todo[#todo + 1] = s.id
end
if from ~= '' then
  if not by_step[from] then return { 1, 'STEP_NOT_FOUND' } end
  add(by_step[from])
else
  for _, s in ipairs(steps) do
    if s.state ~= 'succeeded' then add(s) end
  end
  if #todo == 0 then return { 3, 'NOTHING_TO_RETRY' } end
end
local i = 1
while todo[i] do
  for _, dep in ipairs(redis.call('SMEMBERS', BASE .. 'deps:' .. todo[i])) do add({ id = dep }) end
  i = i + 1
end

-- A step to re-run whose need stays as it is must find that need succeeded: its result is an input.
for _, s in ipairs(steps) do
  if in_set[s.id] then
    for _, need in ipairs(cjson.decode(s.wf_needs)) do
      local n = by_step[need]
      if n and not in_set[n.id] and n.state ~= 'succeeded' then return { 3, 'NEED_UNSUCCESSFUL', s.wf_step, need } end
    end
  end
end

-- The attempt that ended the step is read from its hash (see currentAttempt in job-hash.ts):
-- before the hash is reset, it goes to the attempts list, so the history is kept.
local function keep_attempt(s)
  local attempts = tonumber(s.attempts)
  if not s.agent_id or attempts <= redis.call('LLEN', attempts_key(s.id)) then return end
  local outcome, err = s.state, nil
  if s.state == 'failed' then
    err = s.error
    if err and string.find(err, '"code":"LEASE_EXPIRED"', 1, true) then outcome = 'lease_expired' end
  end
  local rec = {
    attempt = s.attempts,
    agentId = s.agent_id,
    assignedAt = s.assigned_at,
    finishedAt = s.finished_at,
    outcome = outcome,
    error = err,
  }
  if s.started_at then rec.startedAt = s.started_at end
  redis.call('RPUSH', attempts_key(s.id), cjson.encode(rec))
end

local deltas = {}
for _, s in ipairs(steps) do
  if in_set[s.id] then
    keep_attempt(s)
    local left = 0
    for _, need in ipairs(cjson.decode(s.wf_needs)) do
      if in_set[by_step[need].id] then left = left + 1 end
    end
    if is_final(s.state) then deltas[s.state] = (deltas[s.state] or 0) - 1 end
    local fields = {
      result = false, error = false, finished_at = false, started_at = false, progress = false,
      inputs = false, agent_id = false, avoid_agent_id = false, lease_token = false,
      lease_expires_at = false,
      -- A fresh budget: its maxAttempts as created, counted from the attempts it has had.
      max_attempts = int(tonumber(s.attempts) + tonumber(s.wf_max)),
      needs_left = int(left),
      updated_at = int(now),
    }
    if left == 0 then
      fields.inputs = wf_inputs(wf, s.wf_needs)
      fields.run_at = int(now)
      move(s, 'queued', fields)
      wf_events[#wf_events + 1] = 'q'
      wf_events[#wf_events + 1] = s.queue
    else
      move(s, 'blocked', fields)
    end
  end
end

for field, n in pairs(deltas) do redis.call('HINCRBY', key, field, n) end
redis.call('HSET', key, 'state', 'running', 'updated_at', int(now))
redis.call('HDEL', key, 'finished_at', 'cancel_requested')
redis.call('ZREM', BASE .. 'wfbystate', state .. NUL .. wf)
redis.call('ZADD', BASE .. 'wfbystate', 0, 'running' .. NUL .. wf)
flush()
return { 0, redis.call('HGETALL', key), wf_take_events() }
