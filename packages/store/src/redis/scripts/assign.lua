-- Hands still-queued jobs to agents under new leases, counting an attempt: a batch of placements.
-- KEYS[1..8] the job indexes (see lib/job.lua)
-- KEYS[9]    {p}:quotas  hash user -> quota (JSON), "\0default" -> the default quota; empty
--            (so no key) while no quota is set, which is the fast path: one EXISTS per call
-- ARGV[1] now, ARGV[2] lease expiry, then 4 per placement: job id, agent id, lease token,
--   GPUs (JSON)
-- Returns one entry per placement: {0} when the job is not queued (or unknown), or when its
--   owner's quota has no room for it: skipped;
--   {1, queue, task, owner, payload, attempts, max_attempts, timeout_ms ('' for none), resources}
--   and, for a workflow's step only, workflow id, step id and inputs (JSON).
-- avoid_agent_id stays: it names the agent whose lease last expired.
--@include lib/job.lua

local QUOTAS = KEYS[9]
local DEFAULT_QUOTA = '\0default'
local now, expiry = ARGV[1], ARGV[2]
-- What the transition and the reply need (move deletes progress and started_at only if present).
local FIELDS = {
  'id', 'queue', 'state', 'task', 'owner', 'payload', 'attempts', 'max_attempts', 'timeout_ms',
  'resources', 'qmember', 'wmember', 'progress', 'started_at', 'wf',
}

local quotas_set = redis.call('EXISTS', QUOTAS) == 1
-- Per owner met in this call: { max_jobs, max_gpus, leased, gpus }, the counts as stored when
-- first met plus this call's assignments (only assignments change them here). Limits are nil
-- when unlimited; an owner with neither limit is `false` and never checked again.
local room = {}
local default_quota

local function limit(quota, name)
  local n = quota[name]
  if type(n) == 'number' then return n end
  return nil
end

local function room_of(owner)
  local r = room[owner]
  if r ~= nil then return r end
  -- The effective quota: the owner's own (it replaces the default whole), else the default.
  local text = redis.call('HGET', QUOTAS, owner)
  if not text then
    if default_quota == nil then default_quota = redis.call('HGET', QUOTAS, DEFAULT_QUOTA) or false end
    text = default_quota
  end
  r = false
  if text then
    local quota = cjson.decode(text)
    local max_jobs, max_gpus = limit(quota, 'maxRunningJobs'), limit(quota, 'maxGpus')
    if max_jobs or max_gpus then
      local counts = redis.call('HMGET', owner_key(owner), 'leased', 'gpus')
      r = { max_jobs = max_jobs, max_gpus = max_gpus, leased = tonumber(counts[1]) or 0, gpus = tonumber(counts[2]) or 0 }
    end
  end
  room[owner] = r
  return r
end

-- Whether the job fits its owner's quota on top of what they hold; counts it when it does. As
-- fitsQuota (rules/quota-rules.ts) decides on the other backends.
local function take_room(job)
  if not quotas_set then return true end
  local r = room_of(job.owner)
  if not r then return true end
  local gpus = gpus_of(job)
  if r.max_jobs and r.leased + 1 > r.max_jobs then return false end
  if r.max_gpus and r.gpus + gpus > r.max_gpus then return false end
  r.leased = r.leased + 1
  r.gpus = r.gpus + gpus
  return true
end

local out = {}
for i = 3, #ARGV, 4 do
  local job = load_fields(ARGV[i], FIELDS)
  if not job or job.state ~= 'queued' or not take_room(job) then
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
    local reply = {
      1, job.queue, job.task, job.owner, job.payload, job.attempts, job.max_attempts,
      job.timeout_ms or '', job.resources,
    }
    -- A plain job pays one absent field of the HMGET above; only a step reads the rest.
    if job.wf then
      local step = redis.call('HMGET', job_key(job.id), 'wf_step', 'inputs')
      reply[10], reply[11], reply[12] = job.wf, step[1], step[2] or '{}'
    end
    out[#out + 1] = reply
  end
end
flush()
return out
