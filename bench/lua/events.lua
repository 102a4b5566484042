-- GET /api/v1/orgs/{id}/events?limit=100 (the first page of an organisation's event feed)
-- as random receivers of the seeded proposals, each with its own key
-- (proposal_id,receiver_api_key,receiver_org_id lines from $BENCH_RECEIVERS, the file of `mutua seed --proposals-out`).
package.path = package.path .. ";bench/lua/?.lua"
local common = require("common")
local rows = {}
for _, row in ipairs(common.lines(os.getenv("BENCH_RECEIVERS"), true)) do
  if row[1] ~= "proposal_id" then rows[#rows + 1] = row end
end
math.randomseed(os.time())

request = function()
  local row = rows[math.random(#rows)]
  return wrk.format("GET", "/api/v1/orgs/" .. row[3] .. "/events?limit=100",
    { ["Authorization"] = "Bearer " .. row[2] })
end
