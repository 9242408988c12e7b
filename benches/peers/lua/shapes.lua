-- shapes: virtual calls in a hot loop over a class hierarchy built with
-- metatables: Shape, Circle, Rect, Square (a Rect) and Triangle override
-- area, perimeter and sides; mass, defined once in Shape, calls area (as
-- programs/lang/shapes.lark and benches/peers/c/shapes.c).
-- Usage: shapes.lua [n]   (default n = 30000000)
local n = tonumber(arg and arg[1]) or 30000000
local PI = 3.141592653589793

local function class(parent)
  local c = {}
  c.__index = c
  if parent then setmetatable(c, { __index = parent }) end
  return c
end

local Shape = class()
function Shape:area() return 0.0 end
function Shape:perimeter() return 0.0 end
function Shape:sides() return 0 end
function Shape:mass() return self:area() * self.weight end

local Circle = class(Shape)
function Circle.new(r, weight) return setmetatable({ r = r, weight = weight }, Circle) end
function Circle:area() return PI * self.r * self.r end
function Circle:perimeter() return 2.0 * PI * self.r end

local Rect = class(Shape)
function Rect.new(w, h, weight) return setmetatable({ w = w, h = h, weight = weight }, Rect) end
function Rect:area() return self.w * self.h end
function Rect:perimeter() return 2.0 * (self.w + self.h) end
function Rect:sides() return 4 end

local Square = class(Rect)
function Square.new(side, weight) return setmetatable({ w = side, h = side, weight = weight }, Square) end
function Square:perimeter() return 4.0 * self.w end

local Triangle = class(Shape)
function Triangle.new(a, b, c, weight)
  return setmetatable({ a = a, b = b, c = c, weight = weight }, Triangle)
end
function Triangle:area()
  local s = (self.a + self.b + self.c) * 0.5
  return math.sqrt(s * (s - self.a) * (s - self.b) * (s - self.c))
end
function Triangle:perimeter() return self.a + self.b + self.c end
function Triangle:sides() return 3 end

local function make(k)
  local size = (k % 10 + 1) * 0.5
  local weight = 1.0 + (k % 3) * 0.25
  local kind = k % 4
  if kind == 0 then return Circle.new(size, weight) end
  if kind == 1 then return Rect.new(size, size + 1.0, weight) end
  if kind == 2 then return Square.new(size, weight) end
  return Triangle.new(size + 2.0, size + 3.0, size + 4.0, weight)
end

local shapes = {}
for k = 0, 99 do shapes[k + 1] = make(k) end
local area, perimeter, mass, sides = 0.0, 0.0, 0.0, 0
for i = 0, n - 1 do
  local s = shapes[i % #shapes + 1]
  area = area + s:area()
  perimeter = perimeter + s:perimeter()
  mass = mass + s:mass()
  sides = sides + s:sides()
end
io.write(string.format("shapes(%d): area %.3f perimeter %.3f mass %.3f sides %d\n",
  n, area, perimeter, mass, sides))
