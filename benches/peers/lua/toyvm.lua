-- toyvm: an interpreter for a toy register machine (an opcode and three
-- operands per instruction, in a flat table) running a program of two nested
-- loops that computes a checksum, n times with different seeds (as
-- programs/lang/toyvm.lark and benches/peers/c/toyvm.c).
-- Usage: toyvm.lua [n [size]]   (defaults n = 2000, size = 100)
local n = tonumber(arg and arg[1]) or 2000
local size = tonumber(arg and arg[2]) or 100

-- The opcodes.
local HALT, LOADI, ADD, ADDI, MUL, MULI, MODI, JMP, JGE = 0, 1, 2, 3, 4, 5, 6, 7, 8

-- An assembler: instruction k (from 0) is code[4k + 1 .. 4k + 4]; a jump
-- forward is patched when its target is reached.
local code, count = {}, 0
local function emit(op, a, b, c)
  local at = count * 4
  code[at + 1], code[at + 2], code[at + 3], code[at + 4] = op, a, b, c
  count = count + 1
  return count - 1
end
local function patch(at, target) code[at * 4 + 4] = target end

-- r0 = acc (the seed at first), r1 = rows, r2 = cols:
-- for i in 0..rows { for j in 0..cols { acc = (acc * 31 + i * j + j) % 1000003 } }
emit(LOADI, 3, 0, 0)                    -- i = 0
local outer = emit(JGE, 3, 1, -1)       -- if i >= rows: done
emit(LOADI, 4, 0, 0)                    -- j = 0
local inner = emit(JGE, 4, 2, -1)       -- if j >= cols: next i
emit(MULI, 5, 0, 31)
emit(MUL, 6, 3, 4)
emit(ADD, 5, 5, 6)
emit(ADD, 5, 5, 4)
emit(MODI, 0, 5, 1000003)
emit(ADDI, 4, 4, 1)
emit(JMP, 0, 0, inner)
patch(inner, emit(ADDI, 3, 3, 1))
emit(JMP, 0, 0, outer)
patch(outer, emit(HALT, 0, 0, 0))

-- Runs code on the registers r (r[1] is r0); returns the number of
-- instructions executed.
local function run(code, r)
  local pc, steps = 0, 0
  while true do
    local at = pc * 4
    local op, a, b, c = code[at + 1], code[at + 2] + 1, code[at + 3], code[at + 4]
    steps = steps + 1
    pc = pc + 1
    if op == LOADI then
      r[a] = b
    elseif op == ADD then
      r[a] = r[b + 1] + r[c + 1]
    elseif op == ADDI then
      r[a] = r[b + 1] + c
    elseif op == MUL then
      r[a] = r[b + 1] * r[c + 1]
    elseif op == MULI then
      r[a] = r[b + 1] * c
    elseif op == MODI then
      r[a] = r[b + 1] % c
    elseif op == JMP then
      pc = c
    elseif op == JGE then
      if r[a] >= r[b + 1] then pc = c end
    else
      return steps
    end
  end
end

local total, steps = 0, 0
local r = {}
for rep = 0, n - 1 do
  for k = 1, 8 do r[k] = 0 end
  r[1], r[2], r[3] = rep, size, size
  steps = steps + run(code, r)
  total = total + r[1]
end
io.write(string.format("toyvm(%d, %d): acc total = %d, steps = %d\n", n, size, total, steps))
