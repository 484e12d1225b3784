-- Makes an owner hold exactly the listed shards it can get: gives up its unlisted shards, then
-- takes or renews each listed shard that is free, expired or already its own.
-- KEYS[1] {p}:shards       hash shard -> "<expires at>\0<owner>"
-- KEYS[2] {p}:shardowners  lex zset "<owner>\0<shard>"
-- ARGV[1] owner, ARGV[2] now, ARGV[3] expires at, ARGV[4..] the listed shards (decimal)
-- Returns the listed shards the owner holds afterwards under a live lease (unsorted).

local NUL = '\0'
local owner, now, expires = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local function lease(shard)
  local value = redis.call('HGET', KEYS[1], shard)
  if not value then return nil end
  local at = string.find(value, NUL, 1, true)
  return tonumber(string.sub(value, 1, at - 1)), string.sub(value, at + 1)
end

local listed = {}
for i = 4, #ARGV do listed[ARGV[i]] = true end

-- Give up what is no longer listed (and forget index entries of leases taken by others).
local prefix = owner .. NUL
for _, member in ipairs(redis.call('ZRANGEBYLEX', KEYS[2], '[' .. prefix, '(' .. owner .. '\1')) do
  local shard = string.sub(member, #prefix + 1)
  local _, holder = lease(shard)
  if holder ~= owner then
    redis.call('ZREM', KEYS[2], member)
  elseif not listed[shard] then
    redis.call('HDEL', KEYS[1], shard)
    redis.call('ZREM', KEYS[2], member)
  end
end

local held, seen = {}, {}
for i = 4, #ARGV do
  local shard = ARGV[i]
  local until_, holder = lease(shard)
  if seen[shard] then
    -- listed twice: decided already
  elseif not until_ or holder == owner or until_ <= now then
    if holder and holder ~= owner then redis.call('ZREM', KEYS[2], holder .. NUL .. shard) end
    redis.call('HSET', KEYS[1], shard, expires .. NUL .. owner)
    redis.call('ZADD', KEYS[2], 0, prefix .. shard)
    if tonumber(expires) > now then held[#held + 1] = shard end
  end
  seen[shard] = true
end
return held
