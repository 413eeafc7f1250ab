-- POST new contacts with unique emails (thread id + counter).
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local token
local counter = 0
local prefix
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  token = common.token()
  prefix = tostring(tid) .. "-" .. tostring(os.time())
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"first_name":"Bench","last_name":"User%d","email":"bench-%s-%d@load.example.com","city":"Seoul"}',
    counter, prefix, counter)
  return wrk.format("POST", "/api/v1/contacts",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
