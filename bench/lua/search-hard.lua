-- The dearest catalogue queries we know of, cache-busting (a random limit per request):
-- one-letter and two-letter words, eight common words at once, common words with every
-- filter, and filter combinations without words.
package.path = package.path .. ";bench/lua/?.lua"
local common = require("common")
local words = common.lines("bench/search-words.txt")
math.randomseed(os.time())
local letters = "abcdefghiklmnoprstuw"
local regions = { "Bayern", "Berlin", "Tirol", "Wien", "Z%C3%BCrich" }
local tags = { "kundenservice", "schulung", "seminarraum", "catering", "probemonat" }

local function pick(list) return list[math.random(#list)] end

-- Every byte but letters and digits percent-encoded: a raw UTF-8 byte in a request line is
-- refused (400) by the HTTP parser before the API sees it.
local function encode(text)
  return (text:gsub("[^%w]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function filters()
  local out = {}
  if math.random(2) == 1 then out[#out + 1] = "kind=" .. pick({ "offer", "need" }) end
  if math.random(2) == 1 then out[#out + 1] = "category=" .. pick({ "expertise", "resource" }) end
  if math.random(2) == 1 then out[#out + 1] = "region=" .. pick(regions) end
  if math.random(3) == 1 then out[#out + 1] = "trial=" .. pick({ "true", "false" }) end
  if math.random(3) == 1 then out[#out + 1] = "tag=" .. pick(tags) end
  if math.random(3) == 1 then out[#out + 1] = "industry=hospitality" end
  return table.concat(out, "&")
end

request = function()
  local kind = math.random(4)
  local q
  if kind == 1 then
    local i = math.random(#letters)
    q = "q=" .. letters:sub(i, i)
    if math.random(2) == 1 then
      local j = math.random(#letters)
      q = q .. letters:sub(j, j)
    end
  elseif kind == 2 then
    local eight = {}
    for _ = 1, 8 do eight[#eight + 1] = pick(words) end
    q = "q=" .. encode(table.concat(eight, " "))
  elseif kind == 3 then
    q = "q=" .. encode(pick(words)) .. "&" .. filters()
  else
    q = filters()
  end
  return wrk.format("GET", "/api/v1/listings?" .. q .. "&limit=" .. math.random(100))
end
