-- Replaces one server's report of its agents and forgets the reports that have expired.
-- KEYS[1] {p}:agents       hash server id -> JSON {"at": <ms>, "report": <the report>}
-- KEYS[2] {p}:agentexpiry  zset server id by expires at
-- ARGV[1] server id, ARGV[2] the hash value, ARGV[3] expires at, ARGV[4] now
-- Returns the number of expired reports dropped.

redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
for _, id in ipairs(expired) do
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
return #expired
