-- GET the path in BENCH_PATH (already URL-encoded).
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local token
local path = os.getenv("BENCH_PATH")
function init(args)
  token = common.token()
end
function request()
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
