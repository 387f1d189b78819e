-- wrk script: GET one events URL (ORCHID_URLPATH) with the API key.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")
local path = os.getenv("ORCHID_URLPATH")
local headers = { ["Authorization"] = c.auth }

function request()
   return wrk.format("GET", path, headers)
end
