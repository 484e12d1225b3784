-- Records runtimes for learned estimates: each class's new runtimes are pushed onto the head of
-- its list and the list cut to the cap, in one atomic step, so concurrent writers from many
-- servers lose nothing but what falls past the cap.
-- KEYS[1] {p}:runtimeclasses  lex zset of the classes with samples (for paging through them)
-- KEYS[2..] {p}:runtime:<class>  one list per class, newest first, in the order of ARGV's classes
-- ARGV[1] cap (runtimes kept per class), then per class: class, n, then n runtimes (whole ms),
--   oldest first (LPUSH leaves the last pushed at the head)
-- Returns nothing.

local cap = tonumber(ARGV[1])
local i = 2
for k = 2, #KEYS do
  local class, n = ARGV[i], tonumber(ARGV[i + 1])
  redis.call('LPUSH', KEYS[k], unpack(ARGV, i + 2, i + 1 + n))
  redis.call('LTRIM', KEYS[k], 0, cap - 1)
  redis.call('ZADD', KEYS[1], 0, class)
  i = i + 2 + n
end
return 0
