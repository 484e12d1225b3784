-- Ends leased jobs' current attempts now (a GPU failed, the agent was declared dead), a batch
-- of them: back to queued with no backoff, or failed when its attempts are exhausted. The
-- error's retryable flag is not consulted: a release is the fleet's fault, not the task's.
-- KEYS[1..8] the job indexes (see lib/job.lua)
-- ARGV[1] now, then 3 per item: job id, lease token, error (JSON)
-- Returns two values per item, flat: status (0 ok, else a refusal code: see lease_status), state.
--@include lib/job.lua

local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 3 do
  local job = load_job(ARGV[i])
  local status = lease_status(job, ARGV[i + 1])
  local err = ARGV[i + 2]
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
    out[#out + 1] = 0
    out[#out + 1] = 'failed'
  end
end
flush()
return out
