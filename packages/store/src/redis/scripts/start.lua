-- assigned -> running (a repeated report keeps the first start time), renewing the lease: a
-- batch of leases.
-- KEYS[1..8] the job indexes (see lib/job.lua)
-- ARGV[1] now, ARGV[2] lease expiry, then 2 per item: job id, lease token
-- Returns two values per item, flat: status (0 ok, else a refusal code: see lease_status), state.
--@include lib/job.lua

local now, expiry = ARGV[1], ARGV[2]
local FIELDS = { 'id', 'queue', 'state', 'lease_token', 'owner' }
local out = {}
for i = 3, #ARGV, 2 do
  local job = load_fields(ARGV[i], FIELDS)
  local status = lease_status(job, ARGV[i + 1])
  if status ~= 0 then
    out[#out + 1] = status
    out[#out + 1] = job and job.state or ''
  else
    local fields = { lease_expires_at = expiry, updated_at = now }
    if job.state == 'assigned' then
      fields.started_at = now
      move(job, 'running', fields)
    else
      save(job, fields)
      zset(LEASED, job.id, expiry)
    end
    out[#out + 1] = 0
    out[#out + 1] = 'running'
  end
end
flush()
return out
