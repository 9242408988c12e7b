-- binarytrees: the benchmarks game's allocation test, trees of tables
-- {left, right} (as benches/programs/binarytrees.tj).
-- Usage: binarytrees.lua [n]   (default n = 16)
local n = tonumber(arg and arg[1]) or 16

local function make(d)
  if d > 0 then
    return { make(d - 1), make(d - 1) }
  end
  return {}
end

local function check(t)
  local l = t[1]
  if l then
    return 1 + check(l) + check(t[2])
  end
  return 1
end

local s = make(n + 1)
io.write(string.format("stretch tree of depth %d\t check: %d\n", n + 1, check(s)))
s = nil
local longlived = make(n)
for d = 4, n, 2 do
  local iters = 2 ^ (n - d + 4)
  local sum = 0
  for _ = 1, iters do
    sum = sum + check(make(d))
  end
  io.write(string.format("%d\t trees of depth %d\t check: %d\n", iters, d, sum))
end
io.write(string.format("long lived tree of depth %d\t check: %d\n", n, check(longlived)))
