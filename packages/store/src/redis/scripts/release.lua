-- Ends leased jobs' current attempts now (a GPU failed, the agent was declared dead), a batch
-- of them: back to queued with no backoff, or failed when its attempts are exhausted. The
-- error's retryable flag is not consulted: a release is the fleet's fault, not the task's.
-- KEYS[1..8] the job indexes (see lib/job.lua)
-- ARGV[1] now, then 4 per item: job id, lease token, error (JSON), lease expires by ('' for
--   an unconditional release: else a current lease ending after it was renewed since the
--   caller saw it, and the job is left as it is)
-- Returns three values per item, flat: status (0 ok, else a refusal code: see lease_status; 5
--   LEASE_RENEWED), state, and 0 or a workflow's events (lib/workflow.lua).
--@include lib/job.lua
--@include lib/workflow.lua

local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 4 do
  local job = load_job(ARGV[i])
  local status = lease_status(job, ARGV[i + 1])
  local err = ARGV[i + 2]
  local by = ARGV[i + 3]
  -- Only a current lease can be found renewed: every other refusal keeps its code.
  if status == 0 and by ~= '' and job.lease_expires_at and tonumber(job.lease_expires_at) > tonumber(by) then
    status = 5
  end
  if status ~= 0 then
    out[#out + 1] = status
    out[#out + 1] = job and job.state or ''
  elseif tonumber(job.attempts) < tonumber(job.max_attempts) then
    finish_attempt(job, 'failed', err, now, nil)
    requeue(job, 'queued', now, err, now)
    out[#out + 1] = 0
    out[#out + 1] = 'queued'
  else
    fail_job(job, err, now, nil)
    if job.wf then wf_step_ended(job, 'failed', now) end
    out[#out + 1] = 0
    out[#out + 1] = 'failed'
  end
  out[#out + 1] = wf_take_events()
end
flush()
return out
