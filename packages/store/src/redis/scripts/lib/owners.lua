-- Shared fragment: each owner's job counts, kept exact by every script that moves a job
-- between states (lib/job.lua's move, and delete-finished). Included after BASE (the store's
-- "{p}:" prefix) is defined. Per owner, one hash {p}:owner:<owner>:
--   "<queue>\0<state>" -> jobs of the owner in that queue and state (ownerUsage)
--   "leased"           -> jobs assigned or running (quota maxRunningJobs, checked in assign)
--   "gpus"             -> resources.gpus summed over those jobs (quota maxGpus)
--   "units"            -> what fair share charges for those jobs: each one's GPUs, or its slots
--                         when it has no GPU (ownerLoads)
-- and one set, {p}:leasedowners, of the owners with a leased job, so ownerLoads reads only
-- those owners' hashes, never a SCAN.
-- A field that reaches zero is deleted, so an owner with no jobs leaves no key behind and the
-- queues of the hash are exactly those the owner has jobs in. Changes are collected and
-- written by flush_owners(), like lib/job.lua's counters.

local function owner_key(owner)
  return BASE .. 'owner:' .. owner
end

local LEASED_OWNERS = BASE .. 'leasedowners'

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

-- The slots a job asks for (resources.slots, 1 when absent), read as gpus_of reads its GPUs.
local function slots_of(job)
  return tonumber(string.match(job.resources, '"slots"%s*:%s*(%d+)')) or 1
end

-- What fair share charges for the job while it is leased: its GPUs, else its slots.
local function units_of(job)
  local gpus = gpus_of(job)
  if gpus ~= 0 then return gpus end
  return slots_of(job)
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
    owner_count(owner, 'units', sign * units_of(job))
  end
end

local function flush_owners()
  for _, owner in ipairs(owner_order) do
    local key, t = owner_key(owner), owner_deltas[owner]
    for _, field in ipairs(t.order) do
      local delta = t.fields[field]
      if delta ~= 0 then
        local n = redis.call('HINCRBY', key, field, delta)
        if n == 0 then redis.call('HDEL', key, field) end
        -- Only a change of leased jobs can add or remove the owner from the leased set.
        if field == 'leased' then redis.call(n > 0 and 'SADD' or 'SREM', LEASED_OWNERS, owner) end
      end
    end
  end
  owner_deltas, owner_order = {}, {}
end
