-- Adds resource-time to owners' decayed usage (fair share), atomically per owner: the stored
-- value is decayed to now and the units added in one step, so concurrent adds from several
-- schedulers are never lost.
-- KEYS[1] {p}:usage  hash owner -> "<units> <at>": unit-seconds as they read at `at` (store
--   clock, epoch ms); they read as units * 2^(-(t - at) / half-life) at a later t
-- ARGV[1] now, ARGV[2] half-life (ms, a positive integer: the caller checked), then 2 per
--   owner: owner, units to add (> 0; each owner once)
-- Returns nothing.

local now, half_life = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  local owner = ARGV[i]
  local units, at = tonumber(ARGV[i + 1]), now
  local stored = redis.call('HGET', KEYS[1], owner)
  if stored then
    local old, old_at = string.match(stored, '^(%S+) (%S+)$')
    old, old_at = tonumber(old), tonumber(old_at)
    -- A time ahead of now (another server's clock a little ahead) reads undecayed and is kept,
    -- as rules/usage-decay.ts's decayed() reads it: usage never inflates.
    units = units + old * math.pow(2, -math.max(0, now - old_at) / half_life)
    at = math.max(now, old_at)
  end
  redis.call('HSET', KEYS[1], owner, string.format('%.17g', units) .. ' ' .. string.format('%d', at))
end
return 0
