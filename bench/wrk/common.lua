-- Shared by the scenarios: bearer token and sample ids from the environment / files.
local M = {}

function M.token()
  -- BENCH_TOKEN_FILE: another credential in BENCH_DIR (an API key); default the admin's JWT.
  local f = assert(io.open(os.getenv("BENCH_DIR") .. "/" .. (os.getenv("BENCH_TOKEN_FILE") or "token"), "r"))
  local t = f:read("*l")
  f:close()
  return t
end

function M.ids(name)
  local ids = {}
  for line in io.lines(os.getenv("BENCH_DIR") .. "/" .. name) do
    ids[#ids + 1] = line
  end
  return ids
end

return M
