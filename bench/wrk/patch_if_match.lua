-- PATCH contacts with If-Match, tracking each contact's version from the responses.
-- Every thread works on its own slice of ids, round-robin over many ids, so two in-flight
-- requests never target the same contact.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local token, ids
local versions = {}
local n = 0
local lo, hi
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  token = common.token()
  ids = common.ids("contact_ids")
  local slice = math.floor(#ids / 2)
  lo = (tid - 1) * slice + 1
  hi = lo + slice - 1
  n = lo
end
function request()
  n = n + 1
  if n > hi then n = lo end
  local id = ids[n]
  local v = versions[id] or 1
  local body = string.format('{"title":"Title %d"}', v)
  return wrk.format("PATCH", "/api/v1/contacts/" .. id, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["If-Match"] = '"' .. v .. '"',
  }, body)
end
function response(status, headers, body)
  local id = string.match(body, '"id":"([%x%-]+)"')
  local etag = headers["etag"] or headers["ETag"]
  if id and etag then
    versions[id] = tonumber(string.match(etag, "%d+"))
  elseif status == 412 then
    local cid = string.match(body, '"instance":"/api/v1/contacts/([%x%-]+)"')
    local cur = string.match(body, '"current_version":(%d+)')
    if cid and cur then versions[cid] = tonumber(cur) end
  end
end
