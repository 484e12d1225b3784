-- Requeues (or, with attempts exhausted, fails) a job whose lease ran out. The agent that
-- held it becomes the one placement avoids.
-- KEYS[1..10] the job's keys (see lib/job.lua)
-- ARGV[1] now, ARGV[2] job id
-- Returns 0 when the lease is not (or no longer) expired, 1 requeued, 2 failed.
--@include lib/job.lua

local job = load_job()
if not job then
  redis.call('ZREM', KEYS[6], ARGV[2])
  return 0
end
local now = tonumber(ARGV[1])
if not is_leased(job.state) or tonumber(job.lease_expires_at) > now then return 0 end
local err = cjson.encode({
  code = 'LEASE_EXPIRED',
  message = 'agent ' .. (job.agent_id or '?') .. ' stopped renewing its lease',
  retryable = true,
})
if tonumber(job.attempts) < tonumber(job.max_attempts) then
  finish_attempt(job, 'lease_expired', err, now, nil)
  requeue(job, 'queued', now, err, now, { avoid_agent_id = job.agent_id or false })
  return 1
end
fail_job(job, err, now, nil)
return 2
