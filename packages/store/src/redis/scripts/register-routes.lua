-- Registers task routes, a batch: each live until an expiry, or forever. Extends a live route,
-- never shortens it: the later expiry wins, and forever beats both.
-- KEYS[1] {p}:routes   hash: field `<task>\0<queue>`, value 'inf' (forever) or 'exp:<ms>' (live
--   until then); any other value (a registration time) was written before routes expired,
--   when every route was forever, and still means forever
-- ARGV[1] now, ARGV[2] the value to register ('inf' or 'exp:<ms>'), then the fields
-- Returns how many of the routes were not live before (absent or expired): only then must
--   servers caching routes read them again.

local now = tonumber(ARGV[1])
local value = ARGV[2]

-- A stored value's expiry; nil for forever.
local function expiry(v)
  if string.sub(v, 1, 4) == 'exp:' then return tonumber(string.sub(v, 5)) end
  return nil
end

local wanted = expiry(value)
local revived = 0
for i = 3, #ARGV do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  local keep = false
  if not old then
    revived = revived + 1
  else
    local was = expiry(old)
    if was == nil then
      keep = true
    elseif was <= now then
      revived = revived + 1
    elseif wanted ~= nil and was >= wanted then
      keep = true
    end
  end
  if not keep then redis.call('HSET', KEYS[1], ARGV[i], value) end
end
return revived
