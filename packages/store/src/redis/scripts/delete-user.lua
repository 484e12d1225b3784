-- Deletes a user with their tokens and quota in one atomic step: once it returns, no token of
-- theirs authenticates. Their jobs (and so their owner counts) stay.
-- KEYS[1] {p}:users               hash name -> user (JSON)
-- KEYS[2] {p}:tokens              hash id -> token (JSON)
-- KEYS[3] {p}:quotas              hash user -> quota (JSON)
-- KEYS[4] {p}:usertokens:<name>   zset token id by createdAt
-- ARGV[1] name
-- Returns 1 deleted, 0 no such user.

if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
local ids = redis.call('ZRANGE', KEYS[4], 0, -1)
-- Lua's unpack has a limit on values: HDEL in chunks.
for i = 1, #ids, 4000 do
  redis.call('HDEL', KEYS[2], unpack(ids, i, math.min(i + 3999, #ids)))
end
redis.call('DEL', KEYS[4])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
