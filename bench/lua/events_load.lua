-- wrk script: POST events to one key, timestamps counting up from a base, so
-- one stream holds N events. Each thread stops after its share.
--   ORCHID_KEY, ORCHID_EVENTS (total, default 1000000), ORCHID_EVPATH
--   (default /v0/bench/big/events/e), ORCHID_TS0 (first timestamp, ms),
--   ORCHID_DONEDIR (each thread writes DIR/t<N> when its share is answered;
--   wrk's thread:stop() does not end the run, so the caller waits for these
--   files and then interrupts wrk)
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")

local total = tonumber(os.getenv("ORCHID_EVENTS") or "1000000")
local evpath = os.getenv("ORCHID_EVPATH") or "/v0/bench/big/events/e"
local ts0 = tonumber(os.getenv("ORCHID_TS0") or "1500000000000")
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads - 1)
end

function init(args)
   nthreads = tonumber(os.getenv("ORCHID_THREADS") or "2")
   share = math.floor(total / nthreads)
   sent, done, finished = 0, 0, false
   donedir = os.getenv("ORCHID_DONEDIR")
   headers = { ["Authorization"] = c.auth, ["Content-Type"] = "application/json" }
end

function request()
   -- Thread t writes timestamps ts0 + t, ts0 + t + nthreads, ...: one event
   -- per millisecond over the stream, the threads interleaved.
   local ts = ts0 + tid + sent * nthreads
   sent = sent + 1
   return wrk.format("POST", evpath .. "/" .. string.format("%d", ts), headers,
      '{"n":' .. sent .. ',"t":' .. tid .. ',"pad":"abcdefghijklmnopqrstuvwxyz0123456789"}')
end

local function finish(what)
   finished = true
   if donedir then
      local f = io.open(donedir .. "/t" .. tid, "w")
      f:write(what)
      f:close()
   end
   wrk.thread:stop()
end

function response(status, headers, body)
   if finished then
      return
   end
   done = done + 1
   if status ~= 201 then
      finish("status " .. status .. ": " .. body)
   elseif done >= share then
      finish("ok " .. done)
   end
end
