-- Ends a leased job's current attempt now (a GPU failed, the agent was declared dead): back to
-- queued with no backoff, or failed when its attempts are exhausted. The error's retryable
-- flag is not consulted: a release is the fleet's fault, not the task's.
-- KEYS[1..10] the job's keys (see lib/job.lua)
-- ARGV[1] now, ARGV[2] lease token, ARGV[3] error (JSON)
-- Returns {status, state}: status 0 ok, else a refusal code (see lease_status).
--@include lib/job.lua

local job = load_job()
local status = lease_status(job, ARGV[2])
if status ~= 0 then return {status, job and job.state or ''} end
local now = tonumber(ARGV[1])
if tonumber(job.attempts) < tonumber(job.max_attempts) then
  finish_attempt(job, 'failed', ARGV[3], now, nil)
  requeue(job, 'queued', now, ARGV[3], now)
  return {0, 'queued'}
end
fail_job(job, ARGV[3], now, nil)
return {0, 'failed'}
