-- wrk script: GET /v0/$ORCHID_COLLECTION/k<N> for a uniform random N in
-- 0 .. ORCHID_NKEYS-1 (default 10000 keys, preloaded by script/bench).
--   ORCHID_KEY=... wrk -t2 -c64 -d10s --latency -s bench/lua/get.lua http://127.0.0.1:PORT
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")

local headers = { ["Authorization"] = c.auth }

setup = c.setup
function init(args)
   c.seed()
end

function request()
   return wrk.format("GET", c.path(), headers)
end
