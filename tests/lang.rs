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
    assert_eq!(
        run(&program("shapes.lark"), &[30]),
        "area 1704.513 sides 80\n"
    );
    assert_eq!(
        run(&program("shapes.lark"), &[1000]),
        "area 56926.439 sides 2664\n"
    );
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
