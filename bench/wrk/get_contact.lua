package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local token, ids
local n = 0
function init(args)
  token = common.token()
  ids = common.ids("contact_ids")
  n = math.random(#ids)
end
function request()
  n = n % #ids + 1
  -- BENCH_SUFFIX reads something of the contact (`/next-best-actions`); none: the contact.
  return wrk.format("GET", "/api/v1/contacts/" .. ids[n] .. (os.getenv("BENCH_SUFFIX") or ""), { ["Authorization"] = "Bearer " .. token })
end
