-- wrk script for the etcd peer of script/bench: etcd 3.4's JSON gateway
-- (POST /v3/kv/put, POST /v3/kv/range), keys bench/k0 .. bench/k<N-1> as
-- bench/lua/put.lua and get.lua use them, values of the same ~200 bytes.
--   ETCD_OP=put|get  ORCHID_NKEYS (default 10000)
--   wrk -t2 -c64 -d10s --latency -s bench/lua/etcd.lua http://127.0.0.1:PORT
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
   local out = {}
   for i = 1, #s, 3 do
      local a, b, c = s:byte(i, i + 2)
      local n = a * 65536 + (b or 0) * 256 + (c or 0)
      out[#out + 1] = b64chars:sub(math.floor(n / 262144) % 64 + 1, math.floor(n / 262144) % 64 + 1)
         .. b64chars:sub(math.floor(n / 4096) % 64 + 1, math.floor(n / 4096) % 64 + 1)
         .. (b and b64chars:sub(math.floor(n / 64) % 64 + 1, math.floor(n / 64) % 64 + 1) or "=")
         .. (c and b64chars:sub(n % 64 + 1, n % 64 + 1) or "=")
   end
   return table.concat(out)
end

local op = os.getenv("ETCD_OP") or "get"
local nkeys = tonumber(os.getenv("ORCHID_NKEYS") or "10000")
local headers = { ["Content-Type"] = "application/json" }
local counter = 0
local n = 0

function setup(thread)
   counter = counter + 1
   thread:set("thread_id", counter)
end

local gets = {}

function init(args)
   math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
   for _ = 1, 10 do math.random() end
   if op == "get" then
      -- Formatted once, as bench/lua/get.lua does for Orchid.
      for i = 0, nkeys - 1 do
         gets[i + 1] = wrk.format("POST", "/v3/kv/range", headers,
            '{"key":"' .. base64("bench/k" .. i) .. '"}')
      end
   end
end

function request()
   if op == "get" then
      return gets[math.random(1, nkeys)]
   end
   local key = base64("bench/k" .. math.random(0, nkeys - 1))
   n = n + 1
   local value = string.format(
      '{"name":"bench item","owner":"orchid-bench","thread":%d,"seq":%d,' ..
      '"rand":%d,"tags":["alpha","beta","gamma"],"active":true,' ..
      '"score":%d.5,"note":"the quick brown fox jumps over the lazy dog"}',
      thread_id or 0, n, math.random(0, 999999999), math.random(0, 9999))
   return wrk.format("POST", "/v3/kv/put", headers,
      '{"key":"' .. key .. '","value":"' .. base64(value) .. '"}')
end
