-- json: generate a JSON document of n records (a deterministic LCG picks
-- every number, string and shape), parse it with a recursive-descent parser
-- into a tree, walk the tree and print checksums (as programs/lang/json.lark
-- and benches/peers/c/json.c). Every integer stays below 2^53, and every
-- float is computed in the same order as in C, so LuaJIT prints the same.
-- Usage: json.lua [n]   (default n = 50000)
local n = tonumber(arg and arg[1]) or 50000

local seed = 42
local function rand()
  seed = seed * 16807 % 2147483647
  return seed
end

local KEYS = { "id", "name", "value", "items", "tags", "meta", "score", "next" }
local ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
local concat = table.concat

-- Generation: the pieces of the text go into out.
local gen_value

local function gen_string(out)
  out[#out + 1] = '"'
  for _ = 1, rand() % 16 do
    local c = rand() % 40
    if c < 36 then
      out[#out + 1] = ALNUM:sub(c + 1, c + 1)
    elseif c == 36 then
      out[#out + 1] = " "
    elseif c == 37 then
      out[#out + 1] = '\\"'
    elseif c == 38 then
      out[#out + 1] = "\\\\"
    else
      out[#out + 1] = "\\n"
    end
  end
  out[#out + 1] = '"'
end

local function gen_object(out, depth)
  out[#out + 1] = "{"
  local count = rand() % 6
  local start = rand() % #KEYS
  for i = 0, count - 1 do
    if i > 0 then out[#out + 1] = ", " end
    out[#out + 1] = '"' .. KEYS[(start + i) % #KEYS + 1] .. '": '
    gen_value(out, depth + 1)
  end
  out[#out + 1] = "}"
end

gen_value = function(out, depth)
  local r = rand() % 10
  if depth >= 3 then r = r % 6 end
  if r < 2 then
    out[#out + 1] = string.format("%d", rand() % 2000001 - 1000000)
  elseif r == 2 then
    local cents = rand() % 2000001 - 1000000
    if cents < 0 then
      out[#out + 1] = "-"
      cents = -cents
    end
    local frac = cents % 100
    out[#out + 1] = string.format("%d.%d%d", (cents - frac) / 100, math.floor(frac / 10), frac % 10)
  elseif r < 6 then
    gen_string(out)
  elseif r < 8 then
    out[#out + 1] = "["
    for i = 0, rand() % 6 - 1 do
      if i > 0 then out[#out + 1] = ", " end
      gen_value(out, depth + 1)
    end
    out[#out + 1] = "]"
  else
    gen_object(out, depth)
  end
end

local function generate(records)
  local out = { "[" }
  for i = 0, records - 1 do
    if i > 0 then out[#out + 1] = ",\n" end
    gen_object(out, 0)
  end
  out[#out + 1] = "]\n"
  return concat(out)
end

-- Parsing: values are tables tagged by kind.
local byte, sub = string.byte, string.sub
local B_SPACE, B_NL, B_QUOTE, B_BACKSLASH = 32, 10, 34, 92
local B_LBRACE, B_RBRACE, B_LBRACK, B_RBRACK = 123, 125, 91, 93
local B_COMMA, B_MINUS, B_DOT, B_0 = 44, 45, 46, 48
local B_n = 110

local text, pos

local function skip_ws()
  local c = byte(text, pos)
  while c == B_SPACE or c == B_NL do
    pos = pos + 1
    c = byte(text, pos)
  end
end

local function expect(c)
  skip_ws()
  if byte(text, pos) ~= c then error("expected " .. string.char(c) .. " at " .. pos) end
  pos = pos + 1
end

local function parse_string()
  expect(B_QUOTE)
  local start = pos
  local c = byte(text, pos)
  while c ~= B_QUOTE and c ~= B_BACKSLASH do
    pos = pos + 1
    c = byte(text, pos)
  end
  if c == B_QUOTE then
    pos = pos + 1
    return sub(text, start, pos - 2)
  end
  -- An escape: build the string piece by piece.
  local parts = { sub(text, start, pos - 1) }
  while c ~= B_QUOTE do
    if c == B_BACKSLASH then
      pos = pos + 1
      c = byte(text, pos)
      parts[#parts + 1] = c == B_n and "\n" or string.char(c)
    else
      parts[#parts + 1] = string.char(c)
    end
    pos = pos + 1
    c = byte(text, pos)
  end
  pos = pos + 1
  return concat(parts)
end

local function parse_number()
  local negative = byte(text, pos) == B_MINUS
  if negative then pos = pos + 1 end
  local m, digits, c = 0, 0, byte(text, pos)
  while c and c >= B_0 and c <= B_0 + 9 do
    m = m * 10 + (c - B_0)
    pos = pos + 1
    c = byte(text, pos)
  end
  if c == B_DOT then
    pos = pos + 1
    c = byte(text, pos)
    while c and c >= B_0 and c <= B_0 + 9 do
      m = m * 10 + (c - B_0)
      digits = digits + 1
      pos = pos + 1
      c = byte(text, pos)
    end
  end
  local scale = 1.0
  for _ = 1, digits do scale = scale * 10.0 end
  local v = m / scale
  if negative then v = -v end
  return v
end

local parse_value

local function parse_array()
  expect(B_LBRACK)
  local items = {}
  skip_ws()
  if byte(text, pos) == B_RBRACK then
    pos = pos + 1
    return { kind = "arr", items = items }
  end
  while true do
    items[#items + 1] = parse_value()
    skip_ws()
    local c = byte(text, pos)
    pos = pos + 1
    if c == B_RBRACK then break end
    if c ~= B_COMMA then error("bad array at " .. pos) end
  end
  return { kind = "arr", items = items }
end

local function parse_object()
  expect(B_LBRACE)
  local keys, members = {}, {}
  skip_ws()
  if byte(text, pos) == B_RBRACE then
    pos = pos + 1
    return { kind = "obj", keys = keys, members = members }
  end
  while true do
    local key = parse_string()
    expect(58) -- ':'
    keys[#keys + 1] = key
    members[key] = parse_value()
    skip_ws()
    local c = byte(text, pos)
    pos = pos + 1
    if c == B_RBRACE then break end
    if c ~= B_COMMA then error("bad object at " .. pos) end
  end
  return { kind = "obj", keys = keys, members = members }
end

parse_value = function()
  skip_ws()
  local c = byte(text, pos)
  if c == B_LBRACE then return parse_object() end
  if c == B_LBRACK then return parse_array() end
  if c == B_QUOTE then return { kind = "str", text = parse_string() } end
  return { kind = "num", value = parse_number() }
end

local function parse(s)
  text, pos = s, 1
  return parse_value()
end

-- Walking: counts, the sum of the numbers, the bytes and a hash of the strings.
local st = { objects = 0, arrays = 0, strings = 0, numbers = 0, members = 0,
             sum = 0.0, bytes = 0, hash = 0 }

local function add_text(s)
  st.bytes = st.bytes + #s
  local h = st.hash
  for i = 1, #s do
    h = (h * 31 + byte(s, i)) % 1000000007
  end
  st.hash = h
end

local function walk(v)
  local kind = v.kind
  if kind == "num" then
    st.numbers = st.numbers + 1
    st.sum = st.sum + v.value
  elseif kind == "str" then
    st.strings = st.strings + 1
    add_text(v.text)
  elseif kind == "arr" then
    st.arrays = st.arrays + 1
    local items = v.items
    for i = 1, #items do walk(items[i]) end
  else
    st.objects = st.objects + 1
    local keys, members = v.keys, v.members
    for i = 1, #keys do
      st.members = st.members + 1
      add_text(keys[i])
      walk(members[keys[i]])
    end
  end
end

local doc = generate(n)
local root = parse(doc)
walk(root)
-- Look up "value" in every record.
local found, found_sum = 0, 0.0
for i = 1, #root.items do
  local v = root.items[i].members["value"]
  if v and v.kind == "num" then
    found = found + 1
    found_sum = found_sum + v.value
  end
end
io.write(string.format("json(%d): %d bytes\n", n, #doc))
io.write(string.format("objects %d arrays %d strings %d numbers %d members %d\n",
  st.objects, st.arrays, st.strings, st.numbers, st.members))
io.write(string.format("sum %.6f\n", st.sum))
io.write(string.format("string bytes %d hash %d\n", st.bytes, st.hash))
io.write(string.format("value lookups %d sum %.6f\n", found, found_sum))
