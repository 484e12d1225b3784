-- Requeues (or, with attempts exhausted, fails) jobs whose leases ran out: a batch of ids. The
-- agent that held a job becomes the one placement avoids.
-- KEYS[1..8] the job indexes (see lib/job.lua)
-- ARGV[1] now, ARGV[2..] job ids
-- Returns two values per id: 0 when the lease is not (or no longer) expired, 1 requeued, 2
--   failed; then 0 or a workflow's events (lib/workflow.lua).
--@include lib/job.lua
--@include lib/workflow.lua

local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  local job = load_job(ARGV[i])
  if not job then
    zset(LEASED, ARGV[i], false)
    out[#out + 1] = 0
  elseif not is_leased(job.state) or tonumber(job.lease_expires_at) > now then
    out[#out + 1] = 0
  else
    local err = cjson.encode({
      code = 'LEASE_EXPIRED',
      message = 'agent ' .. (job.agent_id or '?') .. ' stopped renewing its lease',
      retryable = true,
    })
    if tonumber(job.attempts) < tonumber(job.max_attempts) then
      finish_attempt(job, 'lease_expired', err, now, nil)
      requeue(job, 'queued', now, err, now, { avoid_agent_id = job.agent_id or false })
      out[#out + 1] = 1
    else
      fail_job(job, err, now, nil)
      if job.wf then wf_step_ended(job, 'failed', now) end
      out[#out + 1] = 2
    end
  end
  out[#out + 1] = wf_take_events()
end
flush()
return out
