-- assigned -> running (a repeated report keeps the first start time), renewing the lease.
-- KEYS[1..10] the job's keys (see lib/job.lua)
-- ARGV[1] now, ARGV[2] lease expiry, ARGV[3] lease token
-- Returns {status, state}: status 0 ok, else a refusal code (see lease_status).
--@include lib/job.lua

local job = load_job()
local status = lease_status(job, ARGV[3])
if status ~= 0 then return {status, job and job.state or ''} end
local fields = { lease_expires_at = ARGV[2], updated_at = ARGV[1] }
if job.state == 'assigned' then
  fields.started_at = ARGV[1]
  save(job, fields)
  move(job, 'running')
else
  save(job, fields)
  redis.call('ZADD', KEYS[6], ARGV[2], job.id)
end
return {0, 'running'}
