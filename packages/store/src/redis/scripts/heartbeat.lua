-- Renews a lease and records progress.
-- KEYS[1..10] the job's keys (see lib/job.lua)
-- ARGV[1] now, ARGV[2] lease expiry, ARGV[3] lease token, ARGV[4] progress ('' keeps the last)
-- Returns {status, state}: status 0 ok, else a refusal code (see lease_status).
--@include lib/job.lua

local job = load_job()
local status = lease_status(job, ARGV[3])
if status ~= 0 then return {status, job and job.state or ''} end
local fields = { lease_expires_at = ARGV[2], updated_at = ARGV[1] }
if ARGV[4] ~= '' then fields.progress = ARGV[4] end
save(job, fields)
redis.call('ZADD', KEYS[6], ARGV[2], job.id)
return {0, job.state}
