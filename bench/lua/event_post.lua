-- wrk script: POST an event of ~200 bytes to /v0/$ORCHID_COLLECTION/k<N>/events/bench
-- for a uniform random N in 0 .. ORCHID_NKEYS-1 (the items script/bench
-- preloaded), timestamp now: each request appends one event to one item's
-- stream, in one durable transaction, as PUT does for items.
--   ORCHID_KEY=... wrk -t2 -c64 -d10s --latency -s bench/lua/event_post.lua http://127.0.0.1:PORT
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
   return wrk.format("POST", c.path() .. "/events/bench", headers, c.value(n))
end
