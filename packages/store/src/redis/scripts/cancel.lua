-- Cancels a job that is not final, revoking its lease.
-- KEYS[1..8] the job indexes (see lib/job.lua)
-- ARGV[1] now, ARGV[2] job id
-- Returns {1} unknown job (NOT_FOUND); {3, state} already final (FINISHED);
--   {0, agent id ('' for none), job hash as HGETALL returns it, 0 or a workflow's events (see
--   lib/workflow.lua)} when cancelled. A step cancelled on its own advances its workflow as a
--   step that did not succeed.
--@include lib/job.lua
--@include lib/workflow.lua

local job = load_job(ARGV[2])
if not job then return {1} end
if is_final(job.state) then return {3, job.state} end
local agent = job.agent_id or ''
-- A leased job's attempt ends with the job: its record is the job hash (see getAttempts).
move(job, 'cancelled', { finished_at = ARGV[1], updated_at = ARGV[1], lease_token = false, lease_expires_at = false })
if job.wf then wf_step_ended(job, 'cancelled', tonumber(ARGV[1])) end
flush()
return {0, agent, redis.call('HGETALL', job_key(ARGV[2])), wf_take_events()}
