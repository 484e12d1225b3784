-- Sets or removes a quota: a user's, checked to be a user in the same atomic step (so a quota
-- is never left behind for a deleted user), or the default.
-- KEYS[1] {p}:users    hash name -> user (JSON)
-- KEYS[2] {p}:quotas   hash user -> quota (JSON), "\0default" -> the default
-- ARGV[1] the field (a user's name, or the default's), ARGV[2] '1' when it names a user,
--   ARGV[3] the quota (JSON), or '' to remove it
-- Returns 0 done, 1 no such user (USER_NOT_FOUND).

if ARGV[2] == '1' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 1 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
end
return 0
