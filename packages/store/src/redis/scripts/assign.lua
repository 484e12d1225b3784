-- Hands still-queued jobs to agents under new leases, counting an attempt: a batch of placements.
-- KEYS[1..8] the job indexes (see lib/job.lua)
-- ARGV[1] now, ARGV[2] lease expiry, then 4 per placement: job id, agent id, lease token,
--   GPUs (JSON)
-- Returns one entry per placement: {0} when the job is not queued (or unknown): skipped;
--   {1, queue, task, owner, payload, attempts, max_attempts, timeout_ms ('' for none), resources}.
-- avoid_agent_id stays: it names the agent whose lease last expired.
--@include lib/job.lua

local now, expiry = ARGV[1], ARGV[2]
-- What the transition and the reply need (move deletes progress and started_at only if present).
local FIELDS = {
  'id', 'queue', 'state', 'task', 'owner', 'payload', 'attempts', 'max_attempts', 'timeout_ms',
  'resources', 'qmember', 'wmember', 'progress', 'started_at',
}
local out = {}
for i = 3, #ARGV, 4 do
  local job = load_fields(ARGV[i], FIELDS)
  if not job or job.state ~= 'queued' then
    out[#out + 1] = { 0 }
  else
    move(job, 'assigned', {
      agent_id = ARGV[i + 1],
      lease_token = ARGV[i + 2],
      lease_expires_at = expiry,
      gpus = ARGV[i + 3],
      attempts = int(tonumber(job.attempts) + 1),
      progress = false,
      started_at = false,
      assigned_at = now,
      updated_at = now,
    })
    out[#out + 1] = {
      1, job.queue, job.task, job.owner, job.payload, job.attempts, job.max_attempts,
      job.timeout_ms or '', job.resources,
    }
  end
end
flush()
return out
