-- GET /api/v1/listings?q=… with words from the seeded vocabulary (German and English).
local words = { "kundenservice", "schulung", "seminarraum", "catering", "probemonat", "buchhaltung",
  "fotografie", "reinigung", "shuttle", "nachhaltigkeit", "weinkeller", "marketing", "wellness",
  "aussergewohnlicher", "außergewöhnlicher", "regionale", "training", "kunden", "seminar", "partner" }
math.randomseed(os.time())

request = function()
  local q = words[math.random(#words)]
  return wrk.format("GET", "/api/v1/listings?q=" .. q:gsub("[^%w]", function(c)
    return string.format("%%%02X", string.byte(c)) end))
end
