-- Shared helpers for the wrk scripts: read one value per line from a file.
local common = {}

function common.lines(path, column)
  local values = {}
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  for line in file:lines() do
    if column then
      local fields = {}
      for field in string.gmatch(line, "([^,]+)") do fields[#fields + 1] = field end
      if fields[1] ~= "org_id" then values[#values + 1] = fields end
    elseif #line > 0 then
      values[#values + 1] = line
    end
  end
  file:close()
  return values
end

return common
