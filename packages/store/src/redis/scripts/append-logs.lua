-- Appends one job's chunks of a batch, keeping only the newest bytes of its output. The caller
-- has already left out the batch's chunks that the tail would drop at once (see logs.ts).
-- KEYS[1] {p}:logs:<id>     list of "<seq>:<bytes>:<attempt>:<at>:<stream>:<data>", oldest first
-- KEYS[2] {p}:logtail:<id>  hash seq (last given), bytes (kept)
-- ARGV[1] bytes the stored chunks may keep beside the batch (0: drop them all), ARGV[2] now,
-- ARGV[3..] per chunk: attempt, stream, bytes, data
-- Returns the last seq given.

local tail = redis.call('HMGET', KEYS[2], 'seq', 'bytes')
local seq = tonumber(tail[1]) or 0
local stored = tonumber(tail[2]) or 0
local budget = tonumber(ARGV[1])
if stored > budget then
  if budget == 0 then
    redis.call('DEL', KEYS[1])
    stored = 0
  else
    -- Oldest first, whole chunks: the kept output is always an unbroken tail.
    while stored > budget do
      local head = redis.call('LPOP', KEYS[1])
      if not head then
        stored = 0
        break
      end
      stored = stored - tonumber(string.match(head, '^%d+:(%d+):'))
    end
  end
end
local added = 0
for i = 3, #ARGV, 4 do
  seq = seq + 1
  local bytes = tonumber(ARGV[i + 2])
  added = added + bytes
  redis.call('RPUSH', KEYS[1], string.format('%d:%d:%s:%s:%s:', seq, bytes, ARGV[i], ARGV[2], ARGV[i + 1]) .. ARGV[i + 3])
end
redis.call('HSET', KEYS[2], 'seq', string.format('%d', seq), 'bytes', string.format('%d', stored + added))
return seq
