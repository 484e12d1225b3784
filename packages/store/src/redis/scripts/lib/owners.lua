-- Shared fragment: each owner's job counts, kept exact by every script that moves a job
-- between states (lib/job.lua's move, and delete-finished). Included after BASE (the store's
-- "{p}:" prefix) is defined. Per owner, one hash {p}:owner:<owner>:
--   "<queue>\0<state>" -> jobs of the owner in that queue and state (ownerUsage)
--   "leased"           -> jobs assigned or running (quota maxRunningJobs, checked in assign)
--   "gpus"             -> resources.gpus summed over those jobs (quota maxGpus)
-- A field that reaches zero is deleted, so an owner with no jobs leaves no key behind and the
-- queues of the hash are exactly those the owner has jobs in. Changes are collected and
-- written by flush_owners(), like lib/job.lua's counters.

local function owner_key(owner)
  return BASE .. 'owner:' .. owner
end

-- Pending deltas: owner_deltas[owner][field] = delta, in first-touched order.
local owner_deltas, owner_order = {}, {}

local function owner_count(owner, field, delta)
  local t = owner_deltas[owner]
  if not t then
    t = { fields = {}, order = {} }
    owner_deltas[owner] = t
    owner_order[#owner_order + 1] = owner
  end
  local n = t.fields[field]
  if n == nil then t.order[#t.order + 1] = field end
  t.fields[field] = (n or 0) + delta
end

-- The GPUs a job asks for (resources.gpus, a whole number; 0 when absent). Resources are a flat
-- JSON object, so a pattern finds the field: half the cost of cjson.decode on every lease
-- taken or given up. Remembered on the job table (assign asks twice: quota, then counts).
local function gpus_of(job)
  local gpus = job.gpus_asked
  if gpus then return gpus end
  if not job.resources then error('job ' .. job.id .. ' was read without its resources') end
  gpus = tonumber(string.match(job.resources, '"gpus"%s*:%s*(%d+)')) or 0
  job.gpus_asked = gpus
  return gpus
end

local function is_lease_state(state)
  return state == 'assigned' or state == 'running'
end

-- Counts the job's move from `from` (nil for a new job, which has no count yet) to `to` (nil
-- for a job deleted). Leased jobs and their GPUs change only when leased-ness does, so
-- assigned -> running never reads the resources.
local function owner_moved(job, from, to)
  local owner = job.owner
  if not owner then error('job ' .. job.id .. ' was read without its owner') end
  if from then owner_count(owner, job.queue .. '\0' .. from, -1) end
  if to then owner_count(owner, job.queue .. '\0' .. to, 1) end
  local was, is = is_lease_state(from), is_lease_state(to)
  if was ~= is then
    local sign = is and 1 or -1
    owner_count(owner, 'leased', sign)
    local gpus = gpus_of(job)
    if gpus ~= 0 then owner_count(owner, 'gpus', sign * gpus) end
  end
end

local function flush_owners()
  for _, owner in ipairs(owner_order) do
    local key, t = owner_key(owner), owner_deltas[owner]
    for _, field in ipairs(t.order) do
      local delta = t.fields[field]
      if delta ~= 0 and redis.call('HINCRBY', key, field, delta) == 0 then redis.call('HDEL', key, field) end
    end
  end
  owner_deltas, owner_order = {}, {}
end
