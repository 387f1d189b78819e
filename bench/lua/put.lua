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
   -- 196-201 bytes, depending on the digits of the counters.
   local body = string.format(
      '{"name":"bench item","owner":"orchid-bench","thread":%d,"seq":%d,' ..
      '"rand":%d,"tags":["alpha","beta","gamma"],"active":true,' ..
      '"score":%d.5,"note":"the quick brown fox jumps over the lazy dog"}',
      thread_id or 0, n, math.random(0, 999999999), math.random(0, 9999))
   return wrk.format("PUT", c.path(), headers, body)
end
