-- GraphQL: 50 contacts in one city with their account.
package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require("common")
local token
local body = '{"query":"{ contacts(first: 50, filter: \\"city[eq]:Seoul\\", orderBy: [{field: LAST_NAME}]) { nodes { id firstName lastName email city account { id name tier } } pageInfo { hasNextPage endCursor } } }"}'
function init(args)
  token = common.token()
end
function request()
  return wrk.format("POST", "/graphql",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
