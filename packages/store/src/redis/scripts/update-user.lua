-- Changes a user's record if it is still the one the caller read (compare and set): the
-- caller computes the new record from the old and tries again when another write came first.
-- KEYS[1] {p}:users   hash name -> {role, weight, createdAt} (JSON)
-- ARGV[1] name, ARGV[2] the record as read, ARGV[3] the new record
-- Returns 1 when set, 0 when there is no such user, 2 when the record changed since it was read.

local now = redis.call('HGET', KEYS[1], ARGV[1])
if not now then return 0 end
if now ~= ARGV[2] then return 2 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
