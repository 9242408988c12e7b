-- mapfilter: pipelines of map, filter and fold over arrays of integers and
-- floats, with closures capturing locals (one counts what it rejects in a
-- variable of the enclosing function), repeated reps times (as
-- programs/lang/mapfilter.lark and benches/peers/c/mapfilter.c).
-- Usage: mapfilter.lua [n [reps]]   (defaults n = 100000, reps = 300)
local n = tonumber(arg and arg[1]) or 100000
local reps = tonumber(arg and arg[2]) or 300

local function map(t, f)
  local out = {}
  for i = 1, #t do out[i] = f(t[i]) end
  return out
end

local function filter(t, f)
  local out = {}
  for i = 1, #t do
    local x = t[i]
    if f(x) then out[#out + 1] = x end
  end
  return out
end

local function fold(t, acc, f)
  for i = 1, #t do acc = f(acc, t[i]) end
  return acc
end

local xs = {}
for i = 0, n - 1 do xs[i + 1] = i * 7919 % 10007 end
local total, ftotal = 0, 0.0
for r = 0, reps - 1 do
  local k = r % 7 + 1
  local ys = map(xs, function(x) return x * k + r end)
  local evens = filter(ys, function(x) return x % 2 == 0 end)
  total = total + fold(evens, 0, function(acc, x) return acc + x % 1000 end)
  local scale = 1.0 / k
  local fs = map(evens, function(x) return x * scale end)
  local rejected = 0
  local big = filter(fs, function(x)
    if x <= 3000.0 then
      rejected = rejected + 1
      return false
    end
    return true
  end)
  ftotal = ftotal + fold(big, 0.0, function(acc, x) return acc + x end)
  total = total + rejected
end
io.write(string.format("mapfilter(%d, %d): total = %d, float total = %.6f\n", n, reps, total, ftotal))
