-- A clean stop: the scheduler is no longer alive and every shard lease it holds ends.
-- KEYS[1] {p}:schedulers   zset id by expires at
-- KEYS[2] {p}:shards       hash shard -> "<expires at>\0<owner>"
-- KEYS[3] {p}:shardowners  lex zset "<owner>\0<shard>"
-- ARGV[1] scheduler id
-- Returns the number of shard leases ended.

local NUL = '\0'
local owner = ARGV[1]
redis.call('ZREM', KEYS[1], owner)
local prefix = owner .. NUL
local ended = 0
for _, member in ipairs(redis.call('ZRANGEBYLEX', KEYS[3], '[' .. prefix, '(' .. owner .. '\1')) do
  local shard = string.sub(member, #prefix + 1)
  local value = redis.call('HGET', KEYS[2], shard)
  if value and string.sub(value, string.find(value, NUL, 1, true) + 1) == owner then
    redis.call('HDEL', KEYS[2], shard)
    ended = ended + 1
  end
  redis.call('ZREM', KEYS[3], member)
end
return ended
