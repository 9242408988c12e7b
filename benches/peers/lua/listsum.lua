-- listsum: a linked list of n tables {val, next} (val = 0..n-1, built front
-- to back), its val fields summed reps times.
-- Usage: listsum.lua [n [reps]]   (default n = 1000000, reps = 100)
local n = tonumber(arg and arg[1]) or 1000000
local reps = tonumber(arg and arg[2]) or 100
local head = nil
for i = n - 1, 0, -1 do
  head = { val = i, next = head }
end
local total = 0
for _ = 1, reps do
  local s, p = 0, head
  while p do
    s = s + p.val
    p = p.next
  end
  total = total + s
end
print(string.format("listsum(%d, %d) = %d", n, reps, total))
