-- wrk script: POST /v0 bulk requests of ORCHID_BULK_OPS (default 250) item
-- operations each, every one a new key b<thread>-<n> in ORCHID_COLLECTION,
-- with the same ~200-byte value shape as put.lua. A 200 whose status is not
-- "success" is counted as an error, and the count printed at the end (wrk
-- itself only counts non-2xx statuses).
--   ORCHID_KEY=... wrk -t2 -c4 -d10s --latency -s bench/lua/bulk.lua http://127.0.0.1:PORT
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")

local ops = tonumber(os.getenv("ORCHID_BULK_OPS") or "250")
local headers = {
   ["Authorization"] = c.auth,
   ["Content-Type"] = "application/orchestrate-export-stream+json",
}
local threads = {}
local n = 0

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
   thread:set("bad", 0)
end

function init(args)
   c.seed()
end

function request()
   local lines = {}
   for i = 1, ops do
      n = n + 1
      lines[i] = string.format(
         '{"path":{"collection":"%s","key":"b%d-%d","kind":"item"},' ..
         '"value":{"name":"bench item","owner":"orchid-bench","thread":%d,"seq":%d,' ..
         '"rand":%d,"tags":["alpha","beta","gamma"],"active":true,' ..
         '"score":%d.5,"note":"the quick brown fox jumps over the lazy dog"}}',
         c.collection, tid, n, tid, n, math.random(0, 999999999), math.random(0, 9999))
   end
   return wrk.format("POST", "/v0", headers, table.concat(lines, "\n"))
end

function response(status, hdrs, body)
   if status == 200 and not body:find('"status":"success"', 1, true) then
      bad = bad + 1
   end
end

function done(summary, latency, requests)
   local total = 0
   for _, t in ipairs(threads) do
      total = total + t:get("bad")
   end
   io.write(string.format("bulk requests not fully successful: %d\n", total))
end
