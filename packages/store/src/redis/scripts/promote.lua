-- Moves delayed jobs whose time has come to queued: a batch of ids.
-- KEYS[1..8] the job indexes (see lib/job.lua)
-- ARGV[1] now, ARGV[2..] job ids
-- Returns one value per id: 1 when promoted, 0 when the job is not (or no longer) due.
--@include lib/job.lua

local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  local job = load_job(ARGV[i])
  if not job then
    zset(DELAYED, ARGV[i], false)
    out[#out + 1] = 0
  elseif job.state ~= 'delayed' or tonumber(job.run_at) > now then
    out[#out + 1] = 0
  else
    move(job, 'queued', { updated_at = ARGV[1] })
    out[#out + 1] = 1
  end
end
flush()
return out
