-- POST /api/v1/auth/login as random seeded accounts with their right password
-- (org_id,email,password,api_key lines from $BENCH_LOGINS): every request hashes once.
package.path = package.path .. ";bench/lua/?.lua"
local common = require("common")
local logins = common.lines(os.getenv("BENCH_LOGINS"), true)
math.randomseed(os.time())

request = function()
  local login = logins[math.random(#logins)]
  local body = '{"email":"' .. login[2] .. '","password":"' .. login[3] .. '"}'
  return wrk.format("POST", "/api/v1/auth/login", { ["Content-Type"] = "application/json" }, body)
end
