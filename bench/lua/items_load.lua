-- wrk script: PUT about ORCHID_ITEMS items k0 .. k<N-1> into
-- ORCHID_COLLECTION, each thread its share (thread t writes k<t>,
-- k<t + nthreads>, ...; wrk discards the first request() of a thread, so a
-- key or two may be missing: for a bulk load, not for a set of known keys).
--   ORCHID_KEY, ORCHID_ITEMS (total, default 1000000), ORCHID_COLLECTION,
--   ORCHID_THREADS (wrk's -t), ORCHID_DONEDIR (each thread writes DIR/t<N>
--   when its share is answered; wrk's thread:stop() does not end the run, so
--   the caller waits for these files and then interrupts wrk)
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")

local total = tonumber(os.getenv("ORCHID_ITEMS") or "1000000")
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
   local n = tid + sent * nthreads
   sent = sent + 1
   return wrk.format("PUT", "/v0/" .. c.collection .. "/k" .. n, headers,
      '{"n":' .. n .. ',"pad":"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"}')
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
