-- GET /api/v1/listings/{id} for random published listings (ids from $BENCH_IDS).
package.path = package.path .. ";bench/lua/?.lua"
local common = require("common")
local ids = common.lines(os.getenv("BENCH_IDS"))
math.randomseed(os.time())

request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/api/v1/listings/" .. id)
end
