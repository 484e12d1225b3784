-- Stores an API token of an existing user, checked in the same atomic step, so a token is never
-- left behind for a user deleted meanwhile (delete-user.lua takes a user's tokens with them).
-- KEYS[1] {p}:users               hash name -> user (JSON)
-- KEYS[2] {p}:tokens              hash id -> {user, hash, createdAt} (JSON)
-- KEYS[3] {p}:usertokens:<user>   zset token id by createdAt
-- ARGV[1] token id, ARGV[2] user, ARGV[3] created at, ARGV[4] the token's record (JSON)
-- Returns 0 stored, 1 no such user (USER_NOT_FOUND), 2 the id is taken (TOKEN_EXISTS).

if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return 1 end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[4]) == 0 then return 2 end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 0
