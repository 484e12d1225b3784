-- A `{p}:routes` value's expiry in ms, or nil for forever: 'inf' is forever, 'exp:<ms>' live
-- until then, and any other value is a registration time written before routes expired, which
-- lives one hour (ROUTES_FROM_BEFORE_MS in src/routes.ts) after it: live agents re-register
-- well within that, so only the routes of agents that left before the upgrade go.
local function route_expiry(v)
  if v == 'inf' then return nil end
  if string.sub(v, 1, 4) == 'exp:' then return tonumber(string.sub(v, 5)) end
  return (tonumber(v) or 0) + 3600000
end
