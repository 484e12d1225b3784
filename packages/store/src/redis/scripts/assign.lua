-- Hands a still-queued job to an agent under a new lease, counting an attempt.
-- KEYS[1..10] the job's keys (see lib/job.lua)
-- ARGV[1] now, ARGV[2] agent id, ARGV[3] lease token, ARGV[4] lease expiry, ARGV[5] GPUs (JSON)
-- Returns {0} when the job is not queued (or unknown): skipped;
--   {1, queue, task, owner, payload, attempts, max_attempts, timeout_ms ('' for none), resources}.
-- avoid_agent_id stays: it names the agent whose lease last expired.
--@include lib/job.lua

local job = load_job()
if not job or job.state ~= 'queued' then return {0} end
local now = ARGV[1]
save(job, {
  agent_id = ARGV[2],
  lease_token = ARGV[3],
  lease_expires_at = ARGV[4],
  gpus = ARGV[5],
  attempts = int(tonumber(job.attempts) + 1),
  progress = false,
  started_at = false,
  assigned_at = now,
  updated_at = now,
})
move(job, 'assigned')
return {1, job.queue, job.task, job.owner, job.payload, job.attempts, job.max_attempts, job.timeout_ms or '', job.resources}
