-- GET /api/v1/listings?q=… with words of the seeded vocabulary (German and English), most of
-- them its commonest topics, one per line in bench/search-words.txt.
package.path = package.path .. ";bench/lua/?.lua"
local common = require("common")
local words = common.lines("bench/search-words.txt")
math.randomseed(os.time())

local function encode(text)
  return (text:gsub("[^%w]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

request = function()
  return wrk.format("GET", "/api/v1/listings?q=" .. encode(words[math.random(#words)]))
end
