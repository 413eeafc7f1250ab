-- Full-text search over rotating name prefixes.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local token
local terms = { "kim", "lee", "park", "smith", "jones", "sato", "muller", "min", "jo", "ha", "mia", "noah" }
local n = 0
function init(args)
  token = common.token()
end
function request()
  n = n % #terms + 1
  return wrk.format("GET", "/api/v1/contacts?limit=50&q=" .. terms[n], { ["Authorization"] = "Bearer " .. token })
end
