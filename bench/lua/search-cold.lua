-- GET /api/v1/listings?q=… with one-letter and two-letter prefixes (cache-busting: a random
-- limit per request), the cheapest query to send and among the dearest to answer.
math.randomseed(os.time())
local letters = "abcdefghiklmnoprstuw"

request = function()
  local i = math.random(#letters)
  local q = letters:sub(i, i)
  if math.random(2) == 1 then
    local j = math.random(#letters)
    q = q .. letters:sub(j, j)
  end
  return wrk.format("GET", "/api/v1/listings?q=" .. q .. "&limit=" .. math.random(100))
end
