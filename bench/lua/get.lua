-- wrk script: GET /v0/$ORCHID_COLLECTION/k<N> for a uniform random N in
-- 0 .. ORCHID_NKEYS-1 (default 10000 keys, preloaded by script/bench).
-- The requests are formatted once, in init: per request the script only
-- picks one, so wrk spends about as little CPU per request as on the
-- scriptless hello run it is compared with.
--   ORCHID_KEY=... wrk -t2 -c64 -d10s --latency -s bench/lua/get.lua http://127.0.0.1:PORT
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")

local headers = { ["Authorization"] = c.auth }
local reqs = {}

setup = c.setup
function init(args)
   c.seed()
   for i = 0, c.nkeys - 1 do
      reqs[i + 1] = wrk.format("GET", "/v0/" .. c.collection .. "/k" .. i, headers)
   end
end

function request()
   return reqs[math.random(1, c.nkeys)]
end
