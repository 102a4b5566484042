-- GET /api/v1/transparency/proofs/inclusion for random leaves of a log of $BENCH_LOG_SIZE
-- leaves (tree_size left out: the current size, as a client checking the latest
-- checkpoint asks).
local size = assert(tonumber(os.getenv("BENCH_LOG_SIZE")), "BENCH_LOG_SIZE is not set")
math.randomseed(os.time())

request = function()
  local leaf = math.random(0, size - 1)
  return wrk.format("GET", "/api/v1/transparency/proofs/inclusion?leaf_index=" .. leaf)
end
