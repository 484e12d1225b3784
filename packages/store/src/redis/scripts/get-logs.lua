-- Reads a page of one job's kept output after a seq, touching only the page's list entries.
-- The kept chunks' seqs are consecutive and the newest is the tail's `seq` (append-logs.lua
-- numbers every pushed chunk and drops only from the head), so entry i of the list holds
-- seq last - len + 1 + i, and the page starts at index len - (last - after).
-- KEYS[1] {p}:logs:<id>     list of "<seq>:<bytes>:<attempt>:<at>:<stream>:<data>", oldest first
-- KEYS[2] {p}:logtail:<id>  hash seq (last given), bytes (kept)
-- ARGV[1] after seq, ARGV[2] most chunks
-- Returns the page's entries, oldest first (empty when nothing follows `after`).

local last = tonumber(redis.call('HGET', KEYS[2], 'seq')) or 0
local after = tonumber(ARGV[1])
if after >= last then
  return {}
end
local len = redis.call('LLEN', KEYS[1])
local start = len - (last - after)
if start < 0 then
  start = 0
end
return redis.call('LRANGE', KEYS[1], start, start + tonumber(ARGV[2]) - 1)
