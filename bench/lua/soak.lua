-- wrk script for bench/soak: a mixed load of every kind of request a client
-- makes, chosen at random per request (weights in MIX below).
--
--   ORCHID_KEY    API key of the main tenant (collection "soak"); required
--   ORCHID_KEY2   API key of a second tenant (collection "other"); optional,
--                 gets ~10 % of the item and event requests
--   ORCHID_NKEYS  items are k0 .. k<N-1> (default 2000): a bounded set that
--                 gets new versions; POST /v0/<c> adds a few new keys too
--   ORCHID_NEVKEYS  event streams e0 .. e<N-1> (default 200), types
--                 "click" and "view"
--
-- Refs and event locations are learned from the Location / Content-Location
-- headers of the answers (a ring per wrk thread), so If-Match, GET by ref and
-- the single-event requests mostly name things that exist; a quarter of the
-- If-Match PUTs send a wrong ref on purpose (412). At the end done() prints
-- one "SOAK <what> <name> <count>" line per counter: answers by status, and
-- requests sent by kind.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")

local nkeys = tonumber(os.getenv("ORCHID_NKEYS") or "2000")
local nevkeys = tonumber(os.getenv("ORCHID_NEVKEYS") or "200")
local key2 = os.getenv("ORCHID_KEY2") or ""
local auth1 = c.auth
local auth2 = key2 ~= "" and ("Basic " .. c.base64(key2 .. ":")) or nil
local badauth = "Basic " .. c.base64("0123456789abcdef0123456789abcdef:")

-- kind, weight (per mille)
local MIX = {
   { "get_item", 200 },
   { "put_item", 170 },
   { "put_if_match", 80 },
   { "put_if_none_match", 20 },
   { "post_item", 30 },
   { "put_big_item", 10 },
   { "post_event", 120 },
   { "list_events", 100 },
   { "get_event", 30 },
   { "put_event", 20 },
   { "patch_event", 10 },
   { "purge_event", 10 },
   { "list_refs", 70 },
   { "get_by_ref", 20 },
   { "delete_item", 30 },
   { "purge_item", 10 },
   { "get_missing", 40 },
   { "list_collection", 18 },
   { "list_tenant", 2 },
   { "bad_key", 10 },
}
local total_weight = 0
for _, m in ipairs(MIX) do total_weight = total_weight + m[2] end

local threads = {}
function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_id", #threads)
end

local RING = 512
function init(args)
   c.seed()
   statuses = {}
   sent = {}
   refring, refn = {}, 0      -- { path, ref }
   evring, evn = {}, 0        -- event location paths
   seq = 0
end

local function tenant()
   if auth2 ~= nil and math.random() < 0.1 then
      return auth2, "other"
   end
   return auth1, "soak"
end

local function auth_of(path)
   if auth2 ~= nil and path:sub(1, 10) == "/v0/other/" then
      return auth2
   end
   return auth1
end

local function hex16()
   return string.format("%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
end

local function value(kind)
   seq = seq + 1
   local pad = ""
   if kind == "big" then
      -- 2 to 12 KiB: overflow pages, bigger buffers (below nginx's 16 KiB
      -- client_body_buffer_size, which would log a warning)
      pad = string.rep("0123456789abcdef", math.random(128, 768))
   end
   return string.format(
      '{"name":"soak item","thread":%d,"seq":%d,"rand":%d,"tags":["alpha","beta"],' ..
      '"active":true,"score":%d.25,"note":"the quick brown fox","pad":"%s"}',
      thread_id or 0, seq, math.random(0, 999999999), math.random(0, 9999), pad)
end

local function event_body()
   seq = seq + 1
   return string.format('{"thread":%d,"seq":%d,"page":"/p/%d","ms":%d}',
      thread_id or 0, seq, math.random(0, 999), math.random(0, 5000))
end

local function hdrs(auth, ctype, extra)
   local h = { ["Authorization"] = auth }
   if ctype then h["Content-Type"] = ctype end
   if extra then for k, v in pairs(extra) do h[k] = v end end
   return h
end

local function item_path(coll)
   return "/v0/" .. coll .. "/k" .. math.random(0, nkeys - 1)
end

local function ev_path(coll)
   local t = math.random() < 0.7 and "click" or "view"
   return "/v0/" .. coll .. "/e" .. math.random(0, nevkeys - 1) .. "/events/" .. t
end

local function pick_kind()
   local r = math.random(1, total_weight)
   for _, m in ipairs(MIX) do
      r = r - m[2]
      if r <= 0 then return m[1] end
   end
   return MIX[1][1]
end

local function build(kind)
   local auth, coll = tenant()
   if kind == "get_item" then
      return wrk.format("GET", item_path(coll), hdrs(auth))
   elseif kind == "put_item" then
      return wrk.format("PUT", item_path(coll), hdrs(auth, "application/json"), value())
   elseif kind == "put_big_item" then
      return wrk.format("PUT", item_path(coll), hdrs(auth, "application/json"), value("big"))
   elseif kind == "put_if_match" then
      if refn == 0 then return nil end
      local e = refring[math.random(1, math.min(refn, RING))]
      local ref = e[2]
      if math.random() < 0.25 then ref = hex16() end
      return wrk.format("PUT", e[1], hdrs(auth_of(e[1]), "application/json",
         { ["If-Match"] = '"' .. ref .. '"' }), value())
   elseif kind == "put_if_none_match" then
      return wrk.format("PUT", item_path(coll), hdrs(auth, "application/json",
         { ["If-None-Match"] = '"*"' }), value())
   elseif kind == "post_item" then
      return wrk.format("POST", "/v0/" .. coll, hdrs(auth, "application/json"), value())
   elseif kind == "post_event" then
      return wrk.format("POST", ev_path(coll), hdrs(auth, "application/json"), event_body())
   elseif kind == "list_events" then
      local p = ev_path(coll)
      local now = os.time() * 1000
      local r = math.random(1, 4)
      if r == 1 then
         p = p .. "?limit=10"
      elseif r == 2 then
         p = p .. "?limit=100"
      elseif r == 3 then
         p = p .. string.format("?limit=10&beforeEvent=%d", now - math.random(0, 60000))
      else
         p = p .. string.format("?startEvent=%d&endEvent=%d&limit=50",
            now - math.random(60000, 120000), now)
      end
      return wrk.format("GET", p, hdrs(auth))
   elseif kind == "get_event" or kind == "put_event" or kind == "patch_event"
      or kind == "purge_event" then
      if evn == 0 then return nil end
      local loc = evring[math.random(1, math.min(evn, RING))]
      local a = auth_of(loc)
      if kind == "get_event" then
         return wrk.format("GET", loc, hdrs(a))
      elseif kind == "put_event" then
         return wrk.format("PUT", loc, hdrs(a, "application/json"), event_body())
      elseif kind == "patch_event" then
         return wrk.format("PATCH", loc, hdrs(a, "application/merge-patch+json"),
            string.format('{"patched":true,"n":%d}', math.random(0, 1000)))
      else
         return wrk.format("DELETE", loc .. "?purge=true", hdrs(a))
      end
   elseif kind == "list_refs" then
      local p = item_path(coll) .. "/refs"
      local r = math.random(1, 3)
      if r == 1 then
         p = p .. "?limit=10"
      elseif r == 2 then
         p = p .. "?limit=20&values=true"
      else
         p = p .. "?limit=5&offset=" .. math.random(0, 20)
      end
      return wrk.format("GET", p, hdrs(auth))
   elseif kind == "get_by_ref" then
      if refn == 0 then return nil end
      local e = refring[math.random(1, math.min(refn, RING))]
      return wrk.format("GET", e[1] .. "/refs/" .. e[2], hdrs(auth_of(e[1])))
   elseif kind == "delete_item" then
      return wrk.format("DELETE", item_path(coll), hdrs(auth))
   elseif kind == "purge_item" then
      return wrk.format("DELETE", item_path(coll) .. "?purge=true", hdrs(auth))
   elseif kind == "get_missing" then
      if math.random() < 0.5 then
         return wrk.format("GET", "/v0/" .. coll .. "/missing-" .. hex16(), hdrs(auth))
      end
      return wrk.format("GET", item_path(coll) .. "/refs/" .. hex16(), hdrs(auth))
   elseif kind == "list_collection" then
      if math.random() < 0.5 then
         return wrk.format("GET", "/v0/" .. coll .. "?limit=20&startKey=k" ..
            math.random(0, nkeys - 1), hdrs(auth))
      end
      return wrk.format("GET", "/v0/" .. coll .. "?limit=100&values=false", hdrs(auth))
   elseif kind == "list_tenant" then
      return wrk.format("GET", "/v0", hdrs(auth))
   elseif kind == "bad_key" then
      return wrk.format("GET", item_path(coll), hdrs(badauth))
   end
   return nil
end

function request()
   local kind, req
   for _ = 1, 10 do
      kind = pick_kind()
      req = build(kind)
      if req ~= nil then break end
   end
   if req == nil then
      kind = "get_item"
      req = build(kind)
   end
   sent[kind] = (sent[kind] or 0) + 1
   return req
end

local function learn(loc)
   if loc == nil then return end
   local path, ref = loc:match("^(/v0/[^/]+/[^/]+)/refs/(%x+)$")
   if path ~= nil then
      refn = refn + 1
      refring[(refn - 1) % RING + 1] = { path, ref }
      return
   end
   if loc:find("/events/", 1, true) then
      evn = evn + 1
      evring[(evn - 1) % RING + 1] = loc
   end
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status < 300 then
      learn(headers["Location"] or headers["location"])
      learn(headers["Content-Location"] or headers["content-location"])
   end
end

function done(summary, latency, requests)
   local st, se = {}, {}
   for _, t in ipairs(threads) do
      for k, v in pairs(t:get("statuses") or {}) do st[k] = (st[k] or 0) + v end
      for k, v in pairs(t:get("sent") or {}) do se[k] = (se[k] or 0) + v end
   end
   for k, v in pairs(st) do io.write(string.format("SOAK status %d %d\n", k, v)) end
   for k, v in pairs(se) do io.write(string.format("SOAK sent %s %d\n", k, v)) end
   local e = summary.errors
   io.write(string.format("SOAK total requests %d\n", summary.requests))
   io.write(string.format("SOAK total duration_us %d\n", summary.duration))
   io.write(string.format("SOAK errors connect %d\nSOAK errors read %d\n" ..
      "SOAK errors write %d\nSOAK errors timeout %d\n",
      e.connect, e.read, e.write, e.timeout))
   io.write(string.format("SOAK latency p50_us %d\nSOAK latency p99_us %d\n" ..
      "SOAK latency max_us %d\n", latency:percentile(50), latency:percentile(99),
      latency.max))
end
