-- POST /api/v1/proposals/{id}/accept, each open proposal once, as its receiver
-- (proposal_id,receiver_api_key,receiver_org_id lines from $BENCH_PROPOSALS, written by
-- `mutua seed --open-proposals N`). Threads take disjoint slices ($BENCH_THREADS threads);
-- a thread that runs out of proposals wraps around, and its repeats answer 409 (counted as
-- non-2xx, so a run that ran out shows it).
package.path = package.path .. ";bench/lua/?.lua"
local common = require("common")
local threads = {}
local counter = 0

setup = function(thread)
  thread:set("slot", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

init = function(args)
  local all = common.lines(os.getenv("BENCH_PROPOSALS"), true)
  local count = tonumber(os.getenv("BENCH_THREADS") or "2")
  mine = {}
  for i, row in ipairs(all) do
    if row[1] ~= "proposal_id" and (i - 1) % count == slot then table.insert(mine, row) end
  end
  next_row = 1
end

request = function()
  local row = mine[((next_row - 1) % #mine) + 1]
  next_row = next_row + 1
  return wrk.format("POST", "/api/v1/proposals/" .. row[1] .. "/accept",
    { ["Authorization"] = "Bearer " .. row[2], ["Content-Type"] = "application/json" },
    '{"revision":1}')
end
