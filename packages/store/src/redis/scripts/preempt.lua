-- Gives leased jobs back to their queues for a higher-class job, a batch of them: each back to
-- queued at once (no backoff), its lease revoked, its attempt ended in history as 'preempted'
-- and not spent (max_attempts grows by one, so it has the attempts left it had before it was
-- assigned; attempts keeps counting, so the history stays numbered). Never fails a job.
-- KEYS[1..8] the job indexes (see lib/job.lua)
-- ARGV[1] now, then 3 per item: job id, lease token, error (JSON, code PREEMPTED)
-- Returns three values per item, flat: status (0 ok, else a refusal code: see lease_status),
--   state, queue ('' for an unknown job).
--@include lib/job.lua

local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 3 do
  local job = load_job(ARGV[i])
  local status = lease_status(job, ARGV[i + 1])
  if status == 0 then
    local err = ARGV[i + 2]
    finish_attempt(job, 'preempted', err, now, nil)
    requeue(job, 'queued', now, err, now, { max_attempts = int(tonumber(job.max_attempts) + 1) })
  end
  out[#out + 1] = status
  out[#out + 1] = job and job.state or ''
  out[#out + 1] = job and job.queue or ''
end
flush()
return out
