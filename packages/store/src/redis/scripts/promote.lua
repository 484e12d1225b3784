-- Moves a delayed job whose time has come to queued.
-- KEYS[1..10] the job's keys (see lib/job.lua)
-- ARGV[1] now, ARGV[2] job id
-- Returns 1 when promoted, 0 when the job is not (or no longer) due.
--@include lib/job.lua

local job = load_job()
if not job then
  redis.call('ZREM', KEYS[5], ARGV[2])
  return 0
end
if job.state ~= 'delayed' or tonumber(job.run_at) > tonumber(ARGV[1]) then return 0 end
save(job, { updated_at = ARGV[1] })
move(job, 'queued')
return 1
