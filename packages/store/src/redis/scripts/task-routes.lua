-- The live task routes, deleting a bounded batch of expired ones on the way (atomically, so a
-- route registered again meanwhile is never lost).
-- KEYS[1] {p}:routes   (see register-routes.lua for its values)
-- ARGV[1] now, ARGV[2] how many expired routes to delete at most
-- Returns two values per live route, flat: field, expiry in ms ('' for forever).

--@include lib/routes.lua

local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local flat = redis.call('HGETALL', KEYS[1])
local out, gone = {}, {}
for i = 1, #flat, 2 do
  local field = flat[i]
  local at = route_expiry(flat[i + 1])
  if at == nil then
    out[#out + 1] = field
    out[#out + 1] = ''
  elseif at > now then
    out[#out + 1] = field
    out[#out + 1] = string.format('%d', at)
  elseif #gone < limit then
    gone[#gone + 1] = field
  end
end
if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) end
return out
