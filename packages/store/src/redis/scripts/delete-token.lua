-- Deletes an API token and its entry in its user's token index.
-- KEYS[1] {p}:tokens   hash id -> {user, hash, createdAt} (JSON); the user's index
--   {p}:usertokens:<user> is built from its prefix (same hash tag, so the same slot)
-- ARGV[1] token id
-- Returns the token's record (JSON) as it was, or false when there was none.

local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return false end
local base = string.sub(KEYS[1], 1, #KEYS[1] - #'tokens')
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', base .. 'usertokens:' .. cjson.decode(record).user, ARGV[1])
return record
