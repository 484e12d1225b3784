-- Grows a running workflow on behalf of one of its leased steps (see Workflows.addSteps), in
-- one call. Every check that reads stored state is made here, in the contract's order, before
-- anything is written; the caller (workflow-growth.ts) has checked what needs none.
-- KEYS[1..8] the job indexes (see lib/job.lua), then
--   KEYS[9]  {p}:byqueue    lex zset "<queue>\0<id>"
--   KEYS[10] {p}:byowner    lex zset "<owner>\0<id>"
--   KEYS[11] {p}:all        lex zset "<id>"
--   KEYS[12] {p}:queues     set of queue names
--   the workflow's keys are named from their prefix (lib/workflow.lua).
-- ARGV[1] now, ARGV[2] workflow id, ARGV[3] by's job id, ARGV[4] by's lease token,
--   ARGV[5] '1' when every new job names this workflow and its own step (else '0'),
--   ARGV[6] '1' when the new steps' graph is sound among themselves (else '0'),
--   ARGV[7] the steps as JSON text, as create-workflow.lua takes them (states all 'blocked').
-- Returns, nothing written unless the first value is 0:
--   {1, 'WORKFLOW_NOT_FOUND'}
--   {3, 'WORKFLOW_FINISHED', state} | {3, 'NOT_A_STEP'} | {3, 'LEASE', by's state}
--   {3, 'RULES', workflow hash as HGETALL} (an owner, ref or maxSteps check failed)
--   {3, 'GRAPH', the names of existing steps the new steps name} (a duplicate or unknown step,
--     or a fault among the new steps)
--   {0, workflow hash as HGETALL, 0 or events (lib/workflow.lua), per new step in order:
--     state, error ('' for none), finished_at ('' for none)}
--@include lib/job.lua
--@include lib/workflow.lua

local now, wf, by_id, by_token = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local refs_ok, graph_ok = ARGV[5] == '1', ARGV[6] == '1'
local key = wf_key(wf)
local w = redis.call('HMGET', key, 'state', 'owner', 'steps', 'max_steps')
local state = w[1]
if not state then return { 1, 'WORKFLOW_NOT_FOUND' } end
if state ~= 'running' then return { 3, 'WORKFLOW_FINISHED', state } end

local by = load_fields(by_id, { 'id', 'wf', 'state', 'lease_token' })
if not by or by.wf ~= wf then return { 3, 'NOT_A_STEP' } end
if lease_status(by, by_token) ~= 0 then return { 3, 'LEASE', by.state } end

local spec = cjson.decode(ARGV[7])
local names, rows = spec.names, spec.steps
local new_steps = {}
for n, row in ipairs(rows) do
  local fields = {}
  for f, name in ipairs(names) do fields[name] = row[4 + f] end
  new_steps[n] = { step = row[1], needs_json = row[2], needs = cjson.decode(row[2]), timeout = row[4], fields = fields }
  if fields.owner ~= w[2] then refs_ok = false end
end
if not refs_ok or tonumber(w[3]) + #new_steps > tonumber(w[4]) then
  return { 3, 'RULES', redis.call('HGETALL', key) }
end

-- The existing steps the new ones name (as their own ids or as needs), read for these names
-- only: never the whole workflow.
local is_new, named, named_order = {}, {}, {}
for _, s in ipairs(new_steps) do is_new[s.step] = true end
local function name(step)
  if not named[step] then
    named[step] = true
    named_order[#named_order + 1] = step
  end
end
for _, s in ipairs(new_steps) do
  name(s.step)
  for _, need in ipairs(s.needs) do
    if not is_new[need] then name(need) end
  end
end
local existing, existing_names = {}, {}
for from = 1, #named_order, CHUNK do
  local to = math.min(from + CHUNK - 1, #named_order)
  local ids = redis.call('HMGET', BASE .. 'wfstepids:' .. wf, unpack(named_order, from, to))
  for i = from, to do
    local id = ids[i - from + 1]
    if id then
      existing[named_order[i]] = { id = id }
      existing_names[#existing_names + 1] = named_order[i]
    end
  end
end
-- A new id clashing with a step, or a need naming none: the caller names the fault.
local graph_fault = not graph_ok
for _, s in ipairs(new_steps) do
  if existing[s.step] then graph_fault = true end
  for _, need in ipairs(s.needs) do
    if not is_new[need] and not existing[need] then graph_fault = true end
  end
end
if graph_fault then return { 3, 'GRAPH', existing_names } end

-- Checked: now the writes. Each new step's job is created blocked (as create-workflow.lua
-- creates one), after the last step in creation order.
for _, step in ipairs(existing_names) do
  local e = existing[step]
  e.state = redis.call('HGET', job_key(e.id), 'state')
end
local last = redis.call('ZRANGE', BASE .. 'wfsteps:' .. wf, -1, -1, 'WITHSCORES')
local index = tonumber(last[2] or 0)
local job_of = {}
for step, e in pairs(existing) do job_of[step] = e.id end
for _, s in ipairs(new_steps) do job_of[s.step] = s.fields.id end

local queues, queue_order, ids_of_steps = {}, {}, {}
local unsuccessful, unsuccessful_order, to_release = {}, {}, {}
for n, s in ipairs(new_steps) do
  local fields = s.fields
  local id = fields.id
  -- Needs not yet succeeded: new steps, and existing ones unfinished or unsuccessful.
  local left = 0
  for _, need in ipairs(s.needs) do
    local e = existing[need]
    if not (e and e.state == 'succeeded') then left = left + 1 end
    if e and (e.state == 'failed' or e.state == 'cancelled' or e.state == 'skipped') and not unsuccessful[e.id] then
      unsuccessful[e.id] = true
      unsuccessful_order[#unsuccessful_order + 1] = { id = e.id, wf_step = need, state = e.state }
    end
    redis.call('SADD', BASE .. 'deps:' .. job_of[need], id)
  end
  fields.gpus = '[]'
  fields.attempts = '0'
  fields.updated_at = fields.created_at
  if s.timeout ~= '' then fields.timeout_ms = s.timeout end
  fields.wf = wf
  fields.wf_step = s.step
  fields.wf_needs = s.needs_json
  fields.needs_left = int(left)
  fields.wf_max = fields.max_attempts
  move({ id = id, queue = fields.queue, created_at = fields.created_at }, 'blocked', fields)
  zset(KEYS[9], fields.queue .. NUL .. id, 0)
  zset(KEYS[10], fields.owner .. NUL .. id, 0)
  zset(KEYS[11], id, 0)
  zset(BASE .. 'wfsteps:' .. wf, id, index + n)
  ids_of_steps[#ids_of_steps + 1] = s.step
  ids_of_steps[#ids_of_steps + 1] = id
  if left == 0 then to_release[#to_release + 1] = id end
  if not queues[fields.queue] then
    queues[fields.queue] = true
    queue_order[#queue_order + 1] = fields.queue
  end
end
if #queue_order > 0 then chunked('SADD', KEYS[12], queue_order) end
-- Before any release: a released step's inputs are read through this map.
if #ids_of_steps > 0 then chunked('HSET', BASE .. 'wfstepids:' .. wf, ids_of_steps) end
redis.call('HINCRBY', key, 'steps', #new_steps)
redis.call('HSET', key, 'updated_at', int(now))

-- Skipped first (a step is released only while still blocked): each new step needing an
-- existing step that ended without success, and the new steps needing those.
for _, need in ipairs(unsuccessful_order) do
  wf_count(wf, 'skipped', wf_skip_dependents(need, need.state, now), now)
end
for _, id in ipairs(to_release) do
  local job = load_fields(id, STEP_FIELDS)
  if job.state == 'blocked' then wf_release(job, now) end
end
-- `by` is unfinished, so this never ends it; checked all the same, as every advance does.
wf_check_end(wf, now)
flush()

local out = { 0, redis.call('HGETALL', key), wf_take_events() }
for _, s in ipairs(new_steps) do
  local v = redis.call('HMGET', job_key(s.fields.id), 'state', 'error', 'finished_at')
  out[#out + 1] = v[1]
  out[#out + 1] = v[2] or ''
  out[#out + 1] = v[3] or ''
end
return out
