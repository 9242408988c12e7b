//! Lark programs compiled by `tierjit::lang` and run on every engine through
//! the differential harness: every engine must print the expected lines
//! (worked out by hand or from the C references of the suite).

mod differential;

use tierjit::Value;
use tierjit::lang::compile;

/// Compile `src`, run `main(args)` on every engine, and return what it
/// printed (all engines agree, or the harness panics).
fn run(src: &str, args: &[i64]) -> String {
    let module = compile(src, "test.lark").unwrap_or_else(|e| panic!("{e}\n{src}"));
    let args: Vec<Value> = args.iter().map(|&a| Value::I(a)).collect();
    differential::check_module(&module, "main", &args).output
}

fn program(name: &str) -> String {
    let path = format!("{}/programs/lang/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The Lark versions of suite programs print what the C versions print,
/// for every row of `tests/expected/suite.tsv` naming a program that has
/// one (`programs/X.tj` -> `programs/lang/X.lark`).
#[test]
fn lark_suite_programs_print_what_the_c_versions_print() {
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest =
        std::fs::read_to_string(format!("{root}/tests/expected/suite.tsv")).expect("manifest");
    let mut ran = Vec::new();
    for line in manifest
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let Some(name) = cols[0]
            .strip_prefix("programs/")
            .and_then(|n| n.strip_suffix(".tj"))
        else {
            continue;
        };
        let lark = format!("{name}.lark");
        if !std::path::Path::new(&format!("{root}/programs/lang/{lark}")).exists() {
            continue;
        }
        let args: Vec<i64> = cols[1]
            .split_whitespace()
            .map(|a| a.parse().expect("i64"))
            .collect();
        let expected = std::fs::read_to_string(format!("{root}/{}", cols[2])).expect("expected");
        assert_eq!(run(&program(&lark), &args), expected, "{lark} {args:?}");
        ran.push(lark);
    }
    ran.dedup();
    assert_eq!(
        ran,
        [
            "fib.lark",
            "loop.lark",
            "sieve.lark",
            "nbody.lark",
            "mandelbrot.lark",
            "spectralnorm.lark",
            "matmul.lark"
        ]
    );
}

#[test]
fn integer_arithmetic_has_the_bytecode_semantics() {
    let src = "
fn main() {
    let big = 9223372036854775807
    println(big + 1)                 // wraps
    println(-7 / 2, \" \", -7 % 2)     // truncates toward zero
    println(1 << 65, \" \", -16 >> 2, \" \", -16 >>> 60)
    println(0xff & 0x0f | 0x100, \" \", 5 ^ 3, \" \", ~0)
    println(-9223372036854775808)
    var x = 10
    x -= 3
    x *= 4
    x /= 3
    x %= 5
    println(x)
}
";
    assert_eq!(
        run(src, &[]),
        "-9223372036854775808\n-3 -1\n2 -4 15\n271 6 -1\n-9223372036854775808\n4\n"
    );
}

#[test]
fn integer_division_by_zero_traps_like_div() {
    let src = "fn div(a: int, b: int) -> int {\n    return a / b\n}\nfn main(b: int) -> int {\n    return div(7, b)\n}\n";
    let module = compile(src, "t.lark").expect("compiles");
    let out = differential::check_module(&module, "main", &[Value::I(0)]);
    assert_eq!(out.trap().0, tierjit::TrapKind::DivisionByZero);
    assert_eq!(out.trap().1, "div");
}

#[test]
fn floats_casts_and_builtins() {
    let src = "
fn main() {
    let a = 7.5
    let b = 2.0
    println(a + b, \" \", a - b, \" \", a * b, \" \", a / b: 3)
    println(sqrt(2.0): 12, \" \", abs(-1.25): 2, \" \", floor(-1.5): 1)
    println(a as int, \" \", (3 as float) / 2.0: 1, \" \", -a: 2)
    println(1.0 / 0.0 > 1e308, \" \", (true as int) + 1)
    let nan = 0.0 / 0.0
    println(nan == nan, \" \", nan != nan, \" \", !(nan < 1.0), \" \", nan < 1.0)
}
";
    assert_eq!(
        run(src, &[]),
        "9.500000 5.500000 15.000000 3.750\n1.414213562373 1.25 -2.0\n7 1.5 -7.50\ntrue 2\nfalse true true false\n"
    );
}

#[test]
fn control_flow_and_short_circuits() {
    let src = "
var calls = 0

fn touch(v: bool) -> bool {
    calls += 1
    return v
}

fn classify(n: int) -> int {
    if n < 0 {
        return -1
    } else if n == 0 {
        return 0
    } else {
        return 1
    }
}

fn first_square_above(limit: int) -> int {
    var i = 0
    while true {
        if i * i > limit {
            return i
        }
        i += 1
    }
}

fn main() {
    println(classify(-5), classify(0), classify(9))
    println(touch(false) && touch(true), \" \", calls)
    println(touch(true) || touch(true), \" \", calls)
    println(touch(true) && touch(false) || touch(true), \" \", calls)
    var sum = 0
    for i in 0..100 {
        if i % 2 == 0 { continue }
        if i > 10 { break }
        sum += i
    }
    println(sum, \" \", first_square_above(50))
    var n = 0
    while n < 3 && !(n == 5) { n += 1 }
    println(n)
    for i in 5..2 { println(\"never\") }
}
";
    assert_eq!(run(src, &[]), "-101\nfalse 1\ntrue 2\ntrue 5\n25 8\n3\n");
}

#[test]
fn arrays_strings_and_globals() {
    let src = "
var total: int
let greeting = 42
var scale = 2.5
var flag = true

fn fill(a: [int]) {
    for i in 0..len(a) { a[i] = i * i }
}

fn main() {
    let a = new [int](5)
    fill(a)
    a[4] += 100
    println(a[0], \",\", a[1], \",\", a[4], \" len \", len(a))
    let grid = new [[float]](2)
    grid[1] = new [float](3)
    grid[1][2] = scale
    scale *= 2.0
    println(grid[1][2]: 1, \" \", scale: 1, \" \", len(grid[0] == grid[0]))
}
";
    // Arrays are not comparable: the program above must not compile.
    assert!(compile(src, "t.lark").is_err());
    let src = src.replace(", \" \", len(grid[0] == grid[0])", "");
    let src = src.replace(
        "println(grid",
        "total = greeting + 1\n    println(total, \" \", flag, \" \", grid",
    );
    assert_eq!(run(&src, &[]), "0,1,116 len 5\n43 true 2.5 5.0\n");
    let strings = "
fn count(s: string, byte: int) -> int {
    var n = 0
    for i in 0..len(s) {
        if s[i] == byte { n += 1 }
    }
    return n
}

fn main() {
    let s = \"hello, world\\n\"
    print(s)
    println(len(s), \" \", count(s, 108), \" \", s[0])
}
";
    assert_eq!(run(strings, &[]), "hello, world\n13 3 104\n");
}

#[test]
fn out_of_bounds_traps() {
    let src = "fn main(i: int) -> int {\n    let a = new [int](3)\n    return a[i]\n}\n";
    let module = compile(src, "t.lark").expect("compiles");
    let out = differential::check_module(&module, "main", &[Value::I(3)]);
    assert_eq!(out.trap().0, tierjit::TrapKind::IndexOutOfBounds);
}

#[test]
fn classes_dispatch_virtually() {
    // programs/lang/shapes.lark, the class benchmark, is checked against its
    // C and Lua references in tests/lang_programs.rs.
    let src = "
class Animal {
    var legs: int
    var name: string
    fn speak() -> string { return \"...\" }
    fn describe() {
        println(self.name, \" has \", self.legs, \" legs and says \", self.speak())
    }
}
class Dog extends Animal {
    fn speak() -> string { return \"woof\" }
}
class Puppy extends Dog {
    var age: int
    fn speak() -> string { return \"yip\" }
}
class Node {
    var value: int
    var next: Node
}
fn main() {
    let animals = new [Animal](3)
    animals[0] = new Animal()
    animals[0].name = \"thing\"
    let d = new Dog()
    d.legs = 4
    d.name = \"rex\"
    animals[1] = d
    let p = new Puppy()
    p.legs = 4
    p.legs += 0
    p.age = 1
    p.name = \"bit\"
    animals[2] = p
    for i in 0..len(animals) { animals[i].describe() }
    var list = new Node()
    for v in 1..4 {
        let n = new Node()
        n.value = v
        n.next = list
        list = n
    }
    var sum = 0
    while list.value != 0 {
        sum = sum * 10 + list.value
        list = list.next
    }
    println(sum)
}
";
    assert_eq!(
        run(src, &[]),
        "thing has 0 legs and says ...\nrex has 4 legs and says woof\nbit has 4 legs and says yip\n321\n"
    );
}

#[test]
fn a_null_object_traps() {
    let src = "class C {\n    var x: int\n}\nvar g: C\nfn main() -> int {\n    return g.x\n}\n";
    let module = compile(src, "t.lark").expect("compiles");
    let out = differential::check_module(&module, "main", &[]);
    assert_eq!(out.trap().0, tierjit::TrapKind::NullReference);
}

/// The harness's deterministic host function's result for i64 arguments.
fn host_mix(args: &[i64]) -> i64 {
    args.iter()
        .fold(0x9e37_79b9u64, |h, &a| h.rotate_left(5) ^ a as u64) as i64
}

#[test]
fn host_functions_are_called_through_imports() {
    let src = "
import fn mix(a: int, b: int) -> int
import fn note(x: float)

fn main(a: int) -> int {
    note(1.5)
    return mix(a, 2) + 1
}
";
    let module = compile(src, "t.lark").expect("compiles");
    assert_eq!(module.imports.len(), 2);
    let out = differential::check_module(&module, "main", &[Value::I(5)]);
    assert_eq!(out.int(), host_mix(&[5, 2]).wrapping_add(1));
    // The host refuses 13: a trap of kind `host error` on every engine.
    let out = differential::check_module(&module, "main", &[Value::I(13)]);
    assert_eq!(out.trap().0, tierjit::TrapKind::HostError);
}

#[test]
fn closures_capture_by_value_and_are_called_indirectly() {
    assert_eq!(
        run(&program("closures.lark"), &[]),
        "sum: 240\n7\n1.50\nsum: 3\n"
    );
}

#[test]
fn long_else_if_chains_pick_the_first_arm_that_holds() {
    let mut src = String::from("fn pick(n: int) -> int {\n    var r = -1\n");
    for k in 0..300 {
        let word = if k == 0 { "if" } else { "} else if" };
        src.push_str(&format!(
            "    {word} n == {k} || n == {} {{\n        r = {k}\n",
            k + 1000
        ));
    }
    src.push_str("    }\n    return r\n}\n");
    src.push_str(
        "fn main() {\n    println(pick(0), \" \", pick(299), \" \", pick(1150), \" \", pick(5000))\n    for i in 0..4 {\n        if i == 0 { print(\"a\") } else if i == 1 { continue } else if i == 3 { break } else { print(\"c\") }\n        print(i)\n    }\n    println()\n}\n",
    );
    assert_eq!(run(&src, &[]), "0 299 150 -1\na0c2\n");
}

#[test]
fn null_and_identity_comparisons() {
    let src = "
class Node {
    var value: int
    var next: Node
}
class Tagged extends Node {
}
fn length(n: Node) -> int {
    var k = 0
    var at = n
    while at != null {
        k += 1
        at = at.next
    }
    return k
}
fn find(n: Node, v: int) -> Node {
    var at = n
    while at != null && at.value != v { at = at.next }
    return at
}
fn main() {
    var list: Node = null
    for v in 0..5 {
        let n = new Node()
        n.value = v
        n.next = list
        list = n
    }
    let t = new Tagged()
    t.next = list
    let as_node: Node = t
    println(length(list), \" \", length(null), \" \", length(t))
    println(find(list, 3) == list.next, \" \", find(list, 9) == null, \" \", null == find(list, 4))
    println(as_node == t, \" \", t != as_node, \" \", list == t.next, \" \", new Node() == new Node())
    let a = new [int](2)
    let b = a
    var c: [int] = null
    println(a == b, \" \", a == new [int](2), \" \", c == null, \" \", c != null)
    c = a
    println(c == a, \" \", a != c)
    let f: fun(int) -> int = null
    let g = length
    let h = g
    var s: string = null
    println(f == null, \" \", g == h, \" \", s == null, \" \", \"x\" == null)
    s = \"set\"
    if s != null { println(s) }
    let x: Node = null
    println(x.value)
}
";
    let module = compile(src, "t.lark").unwrap_or_else(|e| panic!("{e}"));
    let out = differential::check_module(&module, "main", &[]);
    assert_eq!(out.trap().0, tierjit::TrapKind::NullReference);
    assert_eq!(
        out.output,
        "5 0 6\ntrue true false\ntrue false true false\ntrue false true false\ntrue false\ntrue true true false\nset\n"
    );
}

#[test]
fn constructors_is_and_downcasts() {
    let src = "
class Shape {
    var name: string
    fn init(name: string) { self.name = name }
    fn area() -> float { return 0.0 }
}
class Circle extends Shape {
    var r: float
    fn init(r: float) {
        self.name = \"circle\"
        self.r = r
    }
    fn area() -> float { return 3.0 * self.r * self.r }
}
class Square extends Shape {
    var side: float
    fn area() -> float { return self.side * self.side }
}
class Unit extends Circle {
}
class Plain {
    var v: int
}
fn describe(s: Shape) {
    if s is Circle {
        let c = s as Circle
        println(s.name, \" r=\", c.r: 1, \" unit=\", s is Unit, \" area=\", s.area(): 1)
    } else if s is Square {
        println(s.name, \" side=\", (s as Square).side: 1, \" area=\", s.area(): 1)
    } else {
        println(s.name, \" is just a shape\")
    }
}
fn main(bad: int) {
    let shapes = new [Shape](5)
    shapes[0] = new Circle(2.0)
    let sq = new Square(\"square\")
    sq.side = 3.0
    shapes[1] = sq
    shapes[2] = new Shape(\"blob\")
    shapes[3] = new Unit(1.0)
    shapes[4] = null
    for i in 0..4 { describe(shapes[i]) }
    let p = new Plain()
    println(p.v, \" \", shapes[4] is Shape, \" \", shapes[4] as Circle == null, \" \", shapes[3] is Shape)
    let up = shapes[3] as Unit as Shape
    println(up == shapes[3])
    let c = shapes[bad] as Circle
    println(\"cast \", bad, \" ok: \", c.r: 1)
}
";
    let module = compile(src, "t.lark").unwrap_or_else(|e| panic!("{e}"));
    let head = "circle r=2.0 unit=false area=12.0\nsquare side=3.0 area=9.0\nblob is just a shape\ncircle r=1.0 unit=true area=3.0\n0 false true true\ntrue\n";
    let out = differential::check_module(&module, "main", &[Value::I(3)]);
    assert_eq!(out.output, format!("{head}cast 3 ok: 1.0\n"));
    let out = differential::check_module(&module, "main", &[Value::I(1)]);
    assert_eq!(out.trap().0, tierjit::TrapKind::WrongType);
    assert_eq!(out.output, head);
    let out = differential::check_module(&module, "main", &[Value::I(4)]);
    assert_eq!(out.trap().0, tierjit::TrapKind::NullReference);
}

#[test]
fn direct_and_virtual_method_calls_agree() {
    let src = "
class Counter {
    var n: int
    fn bump(by: int) -> int {
        self.n += by
        return self.n
    }
    fn twice() -> int { return self.bump(1) + self.bump(1) }
    fn name() -> string { return \"counter\" }
}
class Loud extends Counter {
    fn name() -> string { return \"loud\" }
}
fn main(use_null: int) {
    var total = 0
    let cs = new [Counter](2)
    cs[0] = new Counter()
    cs[1] = new Loud()
    for i in 0..1000 {
        let c = cs[i % 2]
        total += c.bump(i) % 7 + c.twice()
    }
    println(total, \" \", cs[0].name(), \" \", cs[1].name(), \" \", new Loud().bump(5))
    var none: Counter = null
    if use_null == 1 { none.twice() }
    if use_null == 2 { println(none.name()) }
}
";
    let module = compile(src, "t.lark").unwrap_or_else(|e| panic!("{e}"));
    let expect = {
        let (mut n, mut total) = ([0i64; 2], 0i64);
        for i in 0..1000i64 {
            let c = (i % 2) as usize;
            n[c] += i;
            total += n[c] % 7;
            n[c] += 1;
            let a = n[c];
            n[c] += 1;
            total += a + n[c];
        }
        format!("{total} counter loud 5\n")
    };
    assert_eq!(
        differential::check_module(&module, "main", &[Value::I(0)]).output,
        expect
    );
    for (arg, func) in [(1, "main"), (2, "main")] {
        let out = differential::check_module(&module, "main", &[Value::I(arg)]);
        assert_eq!(out.trap().0, tierjit::TrapKind::NullReference);
        assert_eq!(out.trap().1, func);
        assert_eq!(out.output, expect);
    }
}

#[test]
fn match_picks_its_arm_densely_or_sparsely() {
    let src = "
fn dense(n: int) -> int {
    match n {
        -2 => { return 100 }
        -1, 0 => { return 200 }
        1 => { return 300 }
        3 => { return 400 }
        _ => { return -1 }
    }
}
fn sparse(n: int) -> string {
    match n {
        7 => { return \"seven\" }
        1000000 => { return \"million\" }
        -9223372036854775808 => { return \"min\" }
        9223372036854775807 => { return \"max\" }
    }
    return \"other\"
}
fn main() {
    for i in -4..6 { print(dense(i), \" \") }
    println(dense(-9223372036854775808), \" \", dense(9223372036854775807))
    println(sparse(7), \" \", sparse(1000000), \" \", sparse(-9223372036854775808), \" \", sparse(9223372036854775807), \" \", sparse(8))
    var s = 0
    for i in 0..20 {
        match i % 6 {
            0 => { continue }
            1, 2 => { s += 1 }
            3 => {
                if i > 12 { break }
                s += 10
            }
            4 => { }
            5 => { s += 100 }
        }
        s += 1000
    }
    println(s)
}
";
    assert_eq!(
        run(src, &[]),
        "-1 -1 100 200 200 300 -1 400 -1 -1 -1 -1\nseven million min max other\n12226\n"
    );
}

#[test]
fn closures_capture_vars_by_reference() {
    let src = "
fn counter(start: int) -> fun() -> int {
    var n = start
    return fun() -> int {
        n += 1
        return n
    }
}
fn make_adder(k: int) -> fun(int) -> int {
    return fun(x: int) -> int { return x + k }
}
class Button {
    var on_click: fun(int) -> int
    var clicks: int
    fn press(x: int) -> int {
        self.clicks += 1
        return self.on_click(x)
    }
    fn on_click(x: int) -> int { return -x }
}
class Widget {
    var handler: fun(int) -> int
}
fn main() {
    let a = counter(10)
    let b = counter(100)
    println(a(), \" \", a(), \" \", b(), \" \", a())
    var total = 0
    var scale = 1.5
    var name = \"x\"
    let add = fun(v: int) {
        total += v
        scale = scale * 2.0
        name = \"y\"
    }
    add(3)
    add(4)
    total += 100
    add(0)
    println(total, \" \", scale: 1, \" \", name)
    let fs = new [fun() -> int](3)
    for i in 0..3 {
        var seen = i * 10
        fs[i] = fun() -> int {
            seen += 1
            return seen
        }
    }
    println(fs[0](), \" \", fs[1](), \" \", fs[0](), \" \", fs[2]())
    var depth = 0
    let outer = fun() -> fun() -> int {
        depth += 1
        return fun() -> int {
            depth += 10
            return depth
        }
    }
    let inner = outer()
    println(inner(), \" \", depth, \" \", outer()(), \" \", depth)
    println(make_adder(3)(4), \" \", counter(0)())
    let w = new Widget()
    w.handler = make_adder(1000)
    println(w.handler(5))
    let btn = new Button()
    btn.on_click = make_adder(1)
    println(btn.press(7), \" \", btn.on_click(7), \" \", btn.clicks)
    var late = 1
    let show = fun() -> int { return late }
    late = 42
    println(show())
}
";
    assert_eq!(
        run(src, &[]),
        "11 12 101 13\n107 12.0 y\n1 11 2 21\n11 11 22 22\n7 1\n1005\n-7 -7 1\n42\n"
    );
}

#[test]
fn strings_concatenate_compare_and_slice() {
    let src = r#"
fn main() {
    let a = "tier"
    var s = a + "jit"
    println(s, " ", len(s))
    s += "!"
    println(s)
    println(s == "tierjit!", " ", s != "tierjit!", " ", a == "tie", " ", "" == "")
    if slice(s, 4, 7) == "jit" {
        println("slice ", slice(s, 0, 4), " [", slice(s, 3, 3), "]")
    }
    println(chr(72) + chr(105), " ", chr(0x141)[0])
    let b = new bytes(5)
    for i in 0..len(b) {
        b[i] = 97 + i
    }
    b[4] = 0x17a                      // the low 8 bits
    b[0] += 2
    copy(b, 1, "XYZ", 1, 2)
    println(to_string(b, 5), " ", to_string(b, 2), " ", b[4], " ", len(b))
    copy(b, 0, b, 1, 4)               // overlapping, as memmove
    println(to_string(b, 5))
    println(hash("ab") == hash("a" + "b"), " ", hash(7) == hash(7), " ", hash(1) != hash(2))
}
"#;
    assert_eq!(
        run(src, &[]),
        "tierjit 7\ntierjit!\ntrue false false true\nslice tier []\nHi 65\ncYZdz cY 122 5\nYZdzz\ntrue true true\n"
    );
}

#[test]
fn string_and_byte_operations_trap_out_of_range() {
    let cases = [
        ("slice(\"abc\", 1, 4)", tierjit::TrapKind::IndexOutOfBounds),
        ("slice(\"abc\", -1, 2)", tierjit::TrapKind::IndexOutOfBounds),
        ("slice(\"abc\", 2, 1)", tierjit::TrapKind::NegativeLength),
        (
            "to_string(new bytes(2), 3)",
            tierjit::TrapKind::IndexOutOfBounds,
        ),
    ];
    for (expr, kind) in cases {
        let src = format!("fn main() {{\n    println({expr})\n}}\n");
        let module = compile(&src, "t.lark").expect("compiles");
        let out = differential::check_module(&module, "main", &[]);
        assert_eq!(out.trap().0, kind, "{expr}");
    }
    let src = "fn main(i: int) {\n    let b = new bytes(2)\n    b[i] = 1\n}\n";
    let module = compile(src, "t.lark").expect("compiles");
    let out = differential::check_module(&module, "main", &[Value::I(2)]);
    assert_eq!(out.trap().0, tierjit::TrapKind::IndexOutOfBounds);
    let src = "fn main(i: int) {\n    trap(i)\n}\n";
    let module = compile(src, "t.lark").expect("compiles");
    let out = differential::check_module(&module, "main", &[Value::I(42)]);
    assert_eq!(out.trap().0, tierjit::TrapKind::User);
}

#[test]
fn generic_classes_and_functions_are_instantiated_per_type() {
    let src = r#"class Box<T> {
    var value: T
    fn get() -> T {
        return self.value
    }
    fn put(v: T) {
        self.value = v
    }
}

class Pair<A, B> {
    var first: A
    var second: B
}

fn make_pair<A, B>(a: A, b: B) -> Pair<A, B> {
    let p = new Pair<A, B>()
    p.first = a
    p.second = b
    return p
}

fn apply<T, U>(x: T, f: fun(T) -> U) -> U {
    return f(x)
}

fn first_of<T>(a: [T]) -> T {
    return a[0]
}

fn main() {
    let b = new Box<int>()
    b.put(41)
    println(b.get() + 1)
    let s = new Box<string>()
    s.put("hi")
    println(s.get())
    let bb = new Box<Box<float>>()
    bb.put(new Box<float>())
    bb.get().put(2.5)
    println(bb.get().get())
    let p = make_pair(1, "one")
    println(p.first, " ", p.second)
    let q: Pair<int, string> = make_pair(2, "two")
    println(q.first, q.second)
    println(apply(3, fun(x: int) -> string { return chr(48 + x) }))
    println(apply(2.0, fun(x: float) -> float { return x * x }))
    let arr = new [string](2)
    arr[0] = "zero"
    println(first_of(arr))
    let nested = new Pair<int, Pair<int, int>>()
    println(nested.first)
}
"#;
    assert_eq!(
        run(src, &[]),
        "42\nhi\n2.500000\n1 one\n2two\n3\n4.000000\nzero\n0\n"
    );
    // One instance per type argument list, compiled once.
    let module = compile(src, "g.lark").expect("compiles");
    let names: Vec<&str> = module.functions.iter().map(|f| f.name.as_str()).collect();
    for name in [
        "Box$int.get",
        "Box$Box$float.put",
        "make_pair$int$string",
        "apply$float$float",
    ] {
        assert_eq!(
            names.iter().filter(|n| **n == name).count(),
            1,
            "{name} in {names:?}"
        );
    }
}

#[test]
fn the_library_works_on_every_engine() {
    let src = r#"fn main() {
    let v = new Vec<int>()
    for i in 0..20 {
        v.push(i * i)
    }
    println(v.len(), " ", v.get(3), " ", v.pop(), " ", v.len())
    v.set(0, 7)
    let sq = map(v, fun(x: int) -> float { return x as float / 2.0 })
    println(sq.get(0): 1, " ", sq.len())
    let ev = filter(v, fun(x: int) -> bool { return x % 2 == 0 })
    println(ev.len(), " ", fold(ev, 0, fun(a: int, x: int) -> int { return a + x }))
    let m = new Map<string, int>()
    m.put("one", 1)
    m.put("two", 2)
    for i in 0..100 {
        m.put("k" + fmt_int(i), i)
    }
    m.put("one", 11)
    println(m.get("one"), " ", m.get("k57"), " ", m.has("zz"), " ", m.get_or("zz", -1), " ", m.len())
    let mi = new Map<int, Vec<float>>()
    mi.put(5, new Vec<float>())
    mi.get(5).push(1.5)
    println(mi.get(5).get(0), " ", mi.keys().len())
    let sb = new StringBuilder()
    sb.add("x=")
    sb.add_int(-9223372036854775807 - 1)
    sb.add_char(32)
    sb.add_float(3.14159, 3)
    println(sb.to_string(), " ", sb.len())
    println(fmt_float(2.5, 0), " ", fmt_float(0.125, 2), " ", fmt_float(-0.0, 1), " ", fmt_float(1e300, 2))
    println(2.5: 0, " ", 0.125: 2, " ", -0.0: 1, " ", 1e300: 2)
    println(parse_int("x-123y", 1, 5), " ", parse_int("+9223372036854775807", 0, 20))
}
"#;
    let big = "1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160.00";
    assert_eq!(
        run(src, &[]),
        format!(
            "20 9 361 19\n3.5 19\n9 1140\n11 57 false -1 102\n1.500000 1\n\
             x=-9223372036854775808 3.142 28\n2 0.12 -0.0 {big}\n2 0.12 -0.0 {big}\n\
             -123 9223372036854775807\n"
        )
    );
}

#[test]
fn library_traps() {
    use tierjit::TrapKind::{IndexOutOfBounds, User};
    let cases = [
        (
            "let v = new Vec<int>()\n    v.pop()",
            IndexOutOfBounds,
            "Vec$int.pop",
        ),
        (
            "let v = new Vec<float>()\n    v.push(1.0)\n    println(v.get(1))",
            IndexOutOfBounds,
            "Vec$float.get",
        ),
        (
            "let v = new Vec<int>()\n    v.push(1)\n    println(v.get(-1))",
            IndexOutOfBounds,
            "Vec$int.get",
        ),
        (
            "let v = new Vec<string>()\n    v.set(0, \"a\")",
            IndexOutOfBounds,
            "Vec$string.set",
        ),
        (
            "let m = new Map<int, int>()\n    println(m.get(1))",
            User,
            "Map$int$int.get",
        ),
        (
            "let m = new Map<string, int>()\n    m.put(\"a\", 1)\n    println(m.get(\"b\"))",
            User,
            "Map$string$int.get",
        ),
        ("println(parse_int(\"12x\", 0, 3))", User, "parse_int"),
        ("println(parse_int(\"-\", 0, 1))", User, "parse_int"),
        (
            "println(parse_int(\"9223372036854775808\", 0, 19))",
            User,
            "parse_int",
        ),
        (
            "println(parse_int(\"12\", 0, 3))",
            IndexOutOfBounds,
            "parse_int",
        ),
    ];
    for (body, kind, func) in cases {
        let src = format!("fn main() {{\n    {body}\n}}\n");
        let module = compile(&src, "t.lark").unwrap_or_else(|e| panic!("{e}"));
        let out = differential::check_module(&module, "main", &[]);
        assert_eq!((out.trap().0, out.trap().1), (kind, func), "{body}");
    }
    let src = "fn main() {\n    println(parse_int(\"-9223372036854775808\", 0, 20))\n}\n";
    assert_eq!(run(src, &[]), "-9223372036854775808\n");
}

/// `fmt_float(x, d)` prints what `println(x: d)` prints, over many values
/// and digit counts, ties and huge values included (within the range
/// where it is exact: see docs/language.md).
#[test]
fn fmt_float_matches_println() {
    let digits = [0, 1, 2, 3, 5, 6, 9, 12, 17];
    let mut body = String::new();
    for d in digits {
        body.push_str(&format!(
            "        println(fmt_float(x, {d}))\n        println(x: {d})\n"
        ));
    }
    let src = format!(
        "fn main() {{
    let special = new [float](20)
    special[0] = 0.5
    special[1] = 1.5
    special[2] = 2.5
    special[3] = 0.125
    special[4] = 0.375
    special[5] = 2.675
    special[6] = 1e15
    special[7] = 123456789.987654321
    special[8] = 9.5
    special[9] = 99.95
    special[10] = 0.0
    special[11] = -0.0
    special[12] = 1e18
    special[13] = 9.2e18
    special[14] = 1.0e19
    special[15] = 3e40
    special[16] = -7.25
    special[17] = 0.0078125
    special[18] = 1.0e-3
    special[19] = 5e-7
    var seed = 12345
    for k in 0..400 {{
        seed = seed * 6364136223846793005 + 1442695040888963407
        var x = ((seed >>> 11) as float) / 9007199254740992.0
        let scale = (seed >>> 3) % 8
        if scale == 1 {{ x = x * 1000.0 }}
        if scale == 2 {{ x = x * 1e9 }}
        if scale == 3 {{ x = (((seed >>> 40) % 100000) as float) / 1000.0 }}
        if scale == 4 {{ x = (((seed >>> 40) % 1000) as float) / 8.0 }}
        if scale == 5 {{ x = x * 1e17 }}
        if seed % 2 == 0 {{ x = -x }}
        if k < len(special) {{ x = special[k] }}
{body}    }}
}}
"
    );
    let module = compile(&src, "f.lark").unwrap_or_else(|e| panic!("{e}"));
    let out = differential::check_module(&module, "main", &[]).output;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 400 * digits.len() * 2);
    for pair in lines.chunks(2) {
        assert_eq!(pair[0], pair[1]);
    }
}

/// Only the library functions and instances a program uses are compiled
/// into it.
#[test]
fn only_what_is_used_of_the_library_is_compiled() {
    let names = |src: &str| -> Vec<String> {
        let module = compile(src, "t.lark").unwrap_or_else(|e| panic!("{e}"));
        module.functions.iter().map(|f| f.name.clone()).collect()
    };
    assert_eq!(names("fn main() {\n    println(1)\n}\n"), ["main"]);
    let used = names(
        "fn main() {\n    let v = new Vec<int>()\n    v.push(1)\n    println(\"a\" == \"b\")\n}\n",
    );
    assert!(used.iter().any(|n| n == "Vec$int.push"), "{used:?}");
    assert!(used.iter().any(|n| n == "str_eq"), "{used:?}");
    for absent in ["hash_string", "fmt_int", "StringBuilder.add", "map", "Map"] {
        assert!(
            !used.iter().any(|n| n.starts_with(absent)),
            "{absent} in {used:?}"
        );
    }
}

/// A program may declare names the library also has: its own win.
#[test]
fn the_program_s_names_win_over_the_library_s() {
    let src = "fn map(x: int) -> int {\n    return x + 1\n}\nclass Vec {\n    var n: int\n}\nfn main() {\n    let v = new Vec()\n    println(map(v.n), fmt_int(7))\n}\n";
    assert_eq!(run(src, &[]), "17\n");
}

/// The containers grow, collide, clear and list their keys on every
/// engine; a `Map` agrees with a plain array over many keys.
#[test]
fn vectors_and_maps_grow_and_agree_with_arrays() {
    let src = r#"
class Point {
    var x: int
}

fn main(n: int) {
    let m = new Map<int, int>()
    let seen = new [int](n)
    var seed = 7
    for i in 0..n * 3 {
        seed = seed * 6364136223846793005 + 1442695040888963407
        let k = (seed >>> 20) % n - n / 2          // negative keys too
        m.put(k, i)
        seen[k + n / 2] = i + 1
    }
    var agree = true
    var count = 0
    for j in 0..n {
        let k = j - n / 2
        if seen[j] > 0 {
            count += 1
            agree = agree && m.has(k) && m.get(k) == seen[j] - 1
        } else {
            agree = agree && !m.has(k) && m.get_or(k, -5) == -5
        }
    }
    let keys = m.keys()
    var sum = 0
    for i in 0..keys.len() {
        sum += seen[keys.get(i) + n / 2]
    }
    var want = 0
    for j in 0..n {
        want += seen[j]
    }
    println(agree, " ", count == m.len(), " ", keys.len() == m.len(), " ", sum == want)

    let v = new Vec<Point>()
    for i in 0..100 {
        let p = new Point()
        p.x = i
        v.push(p)
    }
    println(v.len(), " ", v.get(99).x, " ", v.pop().x, " ", v.len())
    v.clear()
    println(v.len())
    let p = new Point()
    p.x = 5
    v.push(p)
    println(v.len(), " ", v.get(0).x)

    let names = new Map<string, Vec<string>>()
    names.put("a", new Vec<string>())
    names.get("a").push("apple")
    names.get("a").push("avocado")
    names.put("b" + "", new Vec<string>())
    names.get("b").push("banana")
    println(names.get("a").len(), " ", names.get("a").get(1), " ", names.get("b").get(0), " ", names.len())
    let sb = new StringBuilder()
    println("[", sb.to_string(), "] ", sb.len())
    for i in 0..40 {
        sb.add_char(97 + i % 26)
    }
    println(sb.to_string(), " ", sb.len())
}
"#;
    assert_eq!(
        run(src, &[500]),
        "true true true true\n100 99 99 99\n0\n1 5\n2 avocado banana 2\n[] 0\n\
         abcdefghijklmnopqrstuvwxyzabcdefghijklmn 40\n"
    );
}

/// `==` of strings compares contents; a null string equals only null.
#[test]
fn null_strings_compare_equal_only_to_null() {
    let src = r#"
fn main() {
    var a: string = null
    var b: string = null
    let c = "x"
    println(a == b, " ", a == c, " ", c == a, " ", a != c, " ", c == "x", " ", a == null)
}
"#;
    assert_eq!(run(src, &[]), "true false false true true true\n");
}

#[test]
fn copy_moves_elements_between_arrays_of_one_type() {
    let src = "
fn main() {
    let a = new [float](5)
    for i in 0..5 {
        a[i] = i as float + 0.5
    }
    let b = new [float](3)
    copy(b, 1, a, 3, 2)
    copy(a, 1, a, 0, 4)               // overlapping, as memmove
    println(b[0], \" \", b[1], \" \", b[2], \" \", a[0], \" \", a[1], \" \", a[4])
    let s = new [string](2)
    s[1] = \"x\"
    copy(s, 0, s, 1, 1)
    println(s[0] + s[1])
}
";
    assert_eq!(
        run(src, &[]),
        "0.000000 3.500000 4.500000 0.500000 0.500000 3.500000\nxx\n"
    );
}

/// words.lark uses the library throughout; the counts were worked out
/// independently (the same generator in Python).
#[test]
fn words_counts_with_the_library() {
    assert_eq!(
        run(&program("words.lark"), &[1000]),
        "tier=147 jit=134 lark=143 byte=141 code=131 map=149 vec=155 \n\
         1000 words, 7 distinct, 3562 letters, 562 long; mean length 3.562\n"
    );
    assert_eq!(
        run(&program("words.lark"), &[7]),
        "tier=2 jit=1 lark=0 byte=0 code=0 map=3 vec=1 \n\
         7 words, 4 distinct, 23 letters, 2 long; mean length 3.286\n"
    );
}

/// The guide's tour (docs/language.md, "Ten minutes with Lark") prints
/// what it says, on every engine.
#[test]
fn the_tour_runs() {
    assert_eq!(
        run(&program("tour.lark"), &[10]),
        "jit=8 tier=2 \ntotal area 11.392, 2 big\na circle of radius 1.0\n"
    );
}

/// Adding an empty string to a new builder adds nothing (its buffer is
/// still null then).
#[test]
fn string_builder_takes_empty_strings() {
    let src = "
fn main() {
    let sb = new StringBuilder()
    sb.add(\"\")
    println(sb.len(), \" [\", sb.to_string(), \"]\")
    sb.add(\"x\")
    sb.add(\"\")
    println(sb.len(), \" [\", sb.to_string(), \"]\")
}
";
    assert_eq!(run(src, &[]), "0 []\n1 [x]\n");
}

/// Compile errors name generic instances as the program writes them
/// (`Map<string, int>`), not by the mangled names of their code
/// (`Map$string$int`).
#[test]
fn compile_errors_name_generic_instances_as_written() {
    let error = |body: &str| -> String {
        let src = format!("fn main() {{\n    {body}\n}}\n");
        match compile(&src, "e.lark") {
            Ok(_) => panic!("compiled, but should not have:\n{src}"),
            Err(e) => e.to_string(),
        }
    };
    for (body, want) in [
        (
            "let m = new Map<string, int>()\n    m.put(1, 2)",
            "`Map<string, int>.put`",
        ),
        (
            "let v = new Vec<Map<string, [int]>>()\n    v.push(1)",
            "`Vec<Map<string, [int]>>.push` must be Map<string, [int]>",
        ),
        (
            "let v = new Vec<Vec<int>>()\n    let x: int = v",
            "Vec<Vec<int>>",
        ),
    ] {
        let got = error(body);
        assert!(got.contains(want), "{body}: {got}");
        assert!(!got.contains('$'), "{body}: {got}");
    }
}

/// The library's code means the library's items, whatever the program
/// declares: a program's own `StringBuilder` and `str_eq` hide the
/// library's from the program only, so `fmt_int`, `fmt_float` and string
/// `==` (which use them) still work; and a program class with a library
/// class's name is itself as a type argument of a library generic.
#[test]
fn the_library_s_names_mean_the_library_s_items_in_its_code() {
    let src = r#"
class StringBuilder {
    var n: int
    fn add(x: int) {
        self.n = self.n + x
    }
}

fn str_eq(a: int, b: int) -> int {
    return a * b
}

fn main() {
    let sb = new StringBuilder()
    sb.add(2)
    let v = new Vec<StringBuilder>()
    v.push(sb)
    v.get(0).add(3)
    println(sb.n, " ", fmt_int(-42), " ", fmt_float(1.5, 2), " ", str_eq(6, 7))
    println("ab" == "ab", " ", "ab" == "ba")
}
"#;
    assert_eq!(run(src, &[]), "5 -42 1.50 42\ntrue false\n");
    let module = compile(src, "t.lark").unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = module.functions.iter().map(|f| f.name.as_str()).collect();
    for name in [
        "StringBuilder.add",
        "std.StringBuilder.add",
        "str_eq",
        "std.str_eq",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
}

/// Generics too: a program's own generic `Vec<T>` and `fold` hide the
/// library's from the program only. `Map.keys` still makes the library's
/// `Vec` (named `std.Vec<string>` in the module), whose methods the
/// program calls on it, and errors name that class `std.Vec<...>`.
#[test]
fn a_program_s_own_generics_leave_the_library_s_code_alone() {
    let src = r#"
class Vec<T> {
    var a: T
    var b: T
    fn both(f: fun(T, T) -> T) -> T {
        return f(self.a, self.b)
    }
}

fn fold<T>(x: T, n: int) -> int {
    return n * 2
}

fn main() {
    let m = new Map<string, int>()
    m.put("x", 1)
    m.put("y", 2)
    let ks = m.keys()
    ks.push("z")
    println(ks.len(), " ", ks.get(2))
    let p = new Vec<int>()
    p.a = 3
    p.b = 4
    println(p.both(fun(x: int, y: int) -> int { return x * y }))
    println(fold("s", 7))
}
"#;
    assert_eq!(run(src, &[]), "3 z\n12\n14\n");
    let module = compile(src, "t.lark").unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = module.functions.iter().map(|f| f.name.as_str()).collect();
    for name in ["Vec$int.both", "std.Vec$string.push", "fold$string"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    // The library's instance is not the program's class.
    let bad = src.replace(
        "let p = new Vec<int>()",
        "let p: Vec<string> = m.keys()\n    let q = new Vec<int>()",
    );
    let got = match compile(&bad, "t.lark") {
        Ok(_) => panic!("compiled, but should not have:\n{bad}"),
        Err(e) => e.to_string(),
    };
    assert!(got.contains("std.Vec<string>"), "{got}");
}
