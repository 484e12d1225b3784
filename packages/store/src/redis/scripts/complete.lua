-- Records an attempt's outcome under its lease: succeeded; failed with a retry (delayed by
-- the backoff, or queued when it is zero); or failed for good.
-- KEYS[1..10] the job's keys (see lib/job.lua)
-- ARGV[1] now, ARGV[2] lease token, ARGV[3] outcome ('succeeded' or 'failed'),
-- ARGV[4] result or error (JSON), ARGV[5] retryable ('1' or '0'),
-- ARGV[6] start time the agent reports ('' when none), ARGV[7] random number in [0, 1) for
-- the jitter, ARGV[8] longest retry delay (ms)
-- Returns {status, state, run_at}: status 0 ok, else a refusal code (see lease_status);
--   run_at is given for a retry that was delayed.
--@include lib/job.lua

local job = load_job()
local status = lease_status(job, ARGV[2])
if status ~= 0 then return {status, job and job.state or ''} end
local now = tonumber(ARGV[1])
if ARGV[3] == 'succeeded' then
  -- The final attempt is read from the job hash itself (see getAttempts): one write.
  save(job, {
    result = ARGV[4],
    error = false,
    progress = '100',
    finished_at = ARGV[1],
    updated_at = ARGV[1],
    started_at = started_or(job, ARGV[6], now),
    lease_token = false,
    lease_expires_at = false,
  })
  move(job, 'succeeded')
  return {0, 'succeeded'}
end
local attempts = tonumber(job.attempts)
if ARGV[5] == '1' and attempts < tonumber(job.max_attempts) then
  finish_attempt(job, 'failed', ARGV[4], now, ARGV[6])
  -- retryDelayMs of @baton/core: exponential in the attempt, half of it jittered.
  local delay = 0
  local backoff = tonumber(job.backoff_ms)
  if backoff > 0 then
    local exponential = math.min(tonumber(ARGV[8]), backoff * 2 ^ math.max(0, attempts - 1))
    local half = exponential / 2
    delay = math.floor(half + tonumber(ARGV[7]) * half + 0.5)
  end
  local state = 'queued'
  if delay > 0 then state = 'delayed' end
  requeue(job, state, now + delay, ARGV[4], now)
  if delay > 0 then return {0, state, int(now + delay)} end
  return {0, state}
end
fail_job(job, ARGV[4], now, ARGV[6])
return {0, 'failed'}
