-- Records attempts' outcomes under their leases, a batch of them: succeeded; failed with a
-- retry (delayed by the backoff, or queued when it is zero); or failed for good.
-- KEYS[1..8] the job indexes (see lib/job.lua)
-- ARGV[1] now, ARGV[2] longest retry delay (ms), then 7 per item: job id, lease token, outcome
--   ('succeeded' or 'failed'), result or error (JSON), retryable ('1' or '0'), start time the
--   agent reports ('' when none), random number in [0, 1) for the jitter
-- Returns four values per item, flat: status (0 ok, else a refusal code: see lease_status),
--   state, run_at (for a retry that was delayed, else ''), and 0, or for a workflow step whose
--   end advanced its workflow the events to publish (see lib/workflow.lua's wf_events).
--@include lib/job.lua
--@include lib/workflow.lua

local now = tonumber(ARGV[1])
local max_delay = tonumber(ARGV[2])
local out = {}
-- What any outcome reads or may delete: see finish_attempt, fail_job and requeue in lib/job.lua
-- (owner and resources: the owner's counts, lib/owners.lua).
local FIELDS = {
  'id', 'queue', 'state', 'lease_token', 'attempts', 'max_attempts', 'backoff_ms', 'agent_id',
  'assigned_at', 'started_at', 'created_at', 'run_at', 'error', 'lease_expires_at', 'qmember',
  'owner', 'resources', 'wf',
}

local function complete(id, token, outcome, value, retryable, reported, random)
  local job = load_fields(id, FIELDS)
  local status = lease_status(job, token)
  if status ~= 0 then return status, job and job.state or '', '' end
  if outcome == 'succeeded' then
    -- The final attempt is read from the job hash itself (see getAttempts): one write.
    move(job, 'succeeded', {
      result = value,
      error = false,
      progress = '100',
      finished_at = ARGV[1],
      updated_at = ARGV[1],
      started_at = started_or(job, reported, now),
      lease_token = false,
      lease_expires_at = false,
    })
    -- A plain job has no wf: one absent field in the HMGET above is all a step costs it.
    if job.wf then wf_step_ended(job, 'succeeded', now) end
    return 0, 'succeeded', ''
  end
  local attempts = tonumber(job.attempts)
  if retryable == '1' and attempts < tonumber(job.max_attempts) then
    finish_attempt(job, 'failed', value, now, reported)
    -- retryDelayMs of @baton/core: exponential in the attempt, half of it jittered.
    local delay = 0
    local backoff = tonumber(job.backoff_ms)
    if backoff > 0 then
      local exponential = math.min(max_delay, backoff * 2 ^ math.max(0, attempts - 1))
      local half = exponential / 2
      delay = math.floor(half + tonumber(random) * half + 0.5)
    end
    if delay > 0 then
      requeue(job, 'delayed', now + delay, value, now)
      return 0, 'delayed', int(now + delay)
    end
    requeue(job, 'queued', now, value, now)
    return 0, 'queued', ''
  end
  fail_job(job, value, now, reported)
  if job.wf then wf_step_ended(job, 'failed', now) end
  return 0, 'failed', ''
end

for i = 3, #ARGV, 7 do
  local status, state, run_at = complete(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6])
  out[#out + 1] = status
  out[#out + 1] = state
  out[#out + 1] = run_at
  out[#out + 1] = wf_take_events()
end
flush()
return out
