-- wrk script: PATCH a counter of /v0/$ORCHID_COLLECTION/k<N> for a uniform
-- random N in 0 .. ORCHID_NKEYS-1 with the JSON Patch
-- [{"op":"init","path":"hits","value":0},{"op":"inc","path":"hits"}]:
-- a read-modify-write of a preloaded item in one transaction, each adding a
-- version, as put.lua's PUTs do.
--   ORCHID_KEY=... wrk -t2 -c64 -d10s --latency -s bench/lua/patch.lua http://127.0.0.1:PORT
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")

local headers = {
   ["Authorization"] = c.auth,
   ["Content-Type"] = "application/json-patch+json",
}
local body = '[{"op":"init","path":"hits","value":0},{"op":"inc","path":"hits"}]'

setup = c.setup
function init(args)
   c.seed()
end

function request()
   return wrk.format("PATCH", c.path(), headers, body)
end
