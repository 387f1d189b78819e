-- Shared by get.lua and put.lua (loaded with dofile from the directory of the
-- calling script). Environment:
--   ORCHID_KEY         API key (Basic auth user name, empty password); required
--   ORCHID_COLLECTION  collection (default "bench")
--   ORCHID_NKEYS       keys are k0 .. k<N-1> (default 10000, as preloaded by
--                      script/bench)
local M = {}

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.base64(s)
   local out = {}
   for i = 1, #s, 3 do
      local a, b, c = s:byte(i, i + 2)
      local n = a * 65536 + (b or 0) * 256 + (c or 0)
      local c1 = math.floor(n / 262144) % 64
      local c2 = math.floor(n / 4096) % 64
      local c3 = math.floor(n / 64) % 64
      local c4 = n % 64
      out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) .. b64chars:sub(c2 + 1, c2 + 1)
         .. (b and b64chars:sub(c3 + 1, c3 + 1) or "=")
         .. (c and b64chars:sub(c4 + 1, c4 + 1) or "=")
   end
   return table.concat(out)
end

local key = os.getenv("ORCHID_KEY")
if key == nil or key == "" then
   error("ORCHID_KEY is not set")
end
M.auth = "Basic " .. M.base64(key .. ":")
M.collection = os.getenv("ORCHID_COLLECTION") or "bench"
M.nkeys = tonumber(os.getenv("ORCHID_NKEYS") or "10000")

-- Give each wrk thread its own random sequence (every thread has its own Lua
-- state, and os.time() alone is the same in all of them).
local counter = 0
function M.setup(thread)
   counter = counter + 1
   thread:set("thread_id", counter)
end

function M.seed()
   math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
   -- The first values after seeding are poorly mixed in some Lua versions.
   for _ = 1, 10 do math.random() end
end

-- A JSON object of 196-201 bytes (depending on the digits of the counters)
-- that differs on every call: the value of put.lua and event_post.lua.
function M.value(n)
   return string.format(
      '{"name":"bench item","owner":"orchid-bench","thread":%d,"seq":%d,' ..
      '"rand":%d,"tags":["alpha","beta","gamma"],"active":true,' ..
      '"score":%d.5,"note":"the quick brown fox jumps over the lazy dog"}',
      thread_id or 0, n, math.random(0, 999999999), math.random(0, 9999))
end

function M.path()
   return "/v0/" .. M.collection .. "/k" .. math.random(0, M.nkeys - 1)
end

return M
