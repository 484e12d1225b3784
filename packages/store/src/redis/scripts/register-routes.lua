-- Registers task routes, a batch: each live until an expiry, or forever. The newest
-- registration decides between forever and expiring (a forever route registered with an expiry
-- expires, so routes of agents that left lapse); between two expiries the later wins, so a
-- registration never shortens a route's life.
-- KEYS[1] {p}:routes   hash: field `<task>\0<queue>`, value 'inf' (forever) or 'exp:<ms>' (live
--   until then); any other value (a registration time) was written before routes expired and
--   lives an hour after it (lib/routes.lua); it is rewritten as 'exp:<ms>' when registered
-- ARGV[1] now, ARGV[2] the value to register ('inf' or 'exp:<ms>'), then the fields
-- Returns how many of the routes were not live before (absent or expired): only then must
--   servers caching routes read them again.

--@include lib/routes.lua

local now = tonumber(ARGV[1])
local value = ARGV[2]
local wanted = route_expiry(value)
local revived = 0
for i = 3, #ARGV do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  local new = value
  if not old then
    revived = revived + 1
  else
    local was = route_expiry(old)
    if was ~= nil and was <= now then
      revived = revived + 1
    elseif was ~= nil and wanted ~= nil and was > wanted then
      new = 'exp:' .. string.format('%d', was)
    end
  end
  if new ~= old then redis.call('HSET', KEYS[1], ARGV[i], new) end
end
return revived
