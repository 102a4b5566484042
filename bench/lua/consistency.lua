-- GET /api/v1/transparency/proofs/consistency from a random older size of a log of
-- $BENCH_LOG_SIZE leaves to the current one (as a client holding an old checkpoint asks).
local size = assert(tonumber(os.getenv("BENCH_LOG_SIZE")), "BENCH_LOG_SIZE is not set")
math.randomseed(os.time())

request = function()
  local first = math.random(1, size)
  return wrk.format("GET", "/api/v1/transparency/proofs/consistency?first=" .. first)
end
