-- wrk script: PUT a ~200-byte JSON object to /v0/$ORCHID_COLLECTION/k<N> for a
-- uniform random N in 0 .. ORCHID_NKEYS-1 (updates of the preloaded items:
-- each one adds a version). The value differs on every request, so every
-- write stores new content (a new ref).
--   ORCHID_KEY=... wrk -t2 -c64 -d10s --latency -s bench/lua/put.lua http://127.0.0.1:PORT
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")

local headers = {
   ["Authorization"] = c.auth,
   ["Content-Type"] = "application/json",
}
local n = 0

setup = c.setup
function init(args)
   c.seed()
end

function request()
   n = n + 1
   return wrk.format("PUT", c.path(), headers, c.value(n))
end
