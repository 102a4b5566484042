-- GET /api/v1/orgs/{id}/matches as random seeded organisations, each with its own API key
-- (org_id,email,password,api_key lines from $BENCH_LOGINS).
package.path = package.path .. ";bench/lua/?.lua"
local common = require("common")
local logins = common.lines(os.getenv("BENCH_LOGINS"), true)
math.randomseed(os.time())

request = function()
  local login = logins[math.random(#logins)]
  return wrk.format("GET", "/api/v1/orgs/" .. login[1] .. "/matches",
    { ["Authorization"] = "Bearer " .. login[4] })
end
