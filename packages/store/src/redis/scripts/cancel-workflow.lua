-- Cancels every unfinished step of a running workflow (error WORKFLOW_CANCELLED, leases
-- revoked) and ends it cancelled, in one call.
-- KEYS[1..8] the job indexes (see lib/job.lua); the workflow's keys are named from their prefix
--   (lib/workflow.lua).
-- ARGV[1] now, ARGV[2] workflow id
-- Returns {1} unknown workflow; {3, state} it has ended; {0, workflow hash as HGETALL, 0 or
--   events (lib/workflow.lua: the leased steps' 'cancelled')}.
--@include lib/job.lua
--@include lib/workflow.lua

local now, wf = tonumber(ARGV[1]), ARGV[2]
local key = wf_key(wf)
local state = redis.call('HGET', key, 'state')
if not state then return { 1 } end
if state ~= 'running' then return { 3, state } end
-- Read by wf_check_end: the workflow ends cancelled, whatever its steps' states.
redis.call('HSET', key, 'cancel_requested', '1')
wf_count(wf, 'cancelled', wf_cancel_unfinished(wf, WF_CANCELLED_ERROR, now), now)
wf_check_end(wf, now)
flush()
return { 0, redis.call('HGETALL', key), wf_take_events() }
