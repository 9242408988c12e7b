//! Compile errors, each at its line and column, and the promise that no
//! input makes the compiler panic.

use super::compile;
use proptest::prelude::*;

/// The error `src` fails with, as `line:col: message`.
fn error(src: &str) -> String {
    match compile(src, "e.lark") {
        Ok(_) => panic!("compiled, but should not have:\n{src}"),
        Err(e) => {
            let text = e.to_string();
            text.strip_prefix("e.lark:").unwrap_or(&text).to_owned()
        }
    }
}

/// `src` wrapped in a `main` whose body starts on line 2, column 5.
fn in_main(body: &str) -> String {
    format!("fn main() {{\n    {body}\n}}\n")
}

#[test]
fn a_valid_program_compiles_and_verifies() {
    let m = compile("fn main() -> int {\n  return 1 + 2 * 3\n}", "ok.lark").expect("compiles");
    assert_eq!(m.functions.len(), 1);
}

/// Inputs just within the nesting limit compile, on a test thread's stack,
/// through every pass.
#[test]
fn nesting_up_to_the_limit_compiles() {
    let parens = format!("{}1{}", "(".repeat(190), ")".repeat(190));
    let sum = vec!["1"; 190].join(" + ");
    let mut blocks = String::new();
    for _ in 0..190 {
        blocks.push_str("if true { ");
    }
    blocks.push_str("println(1)");
    blocks.push_str(&" }".repeat(190));
    for body in [
        format!("let x = {parens}"),
        format!("let x = {sum}"),
        blocks,
    ] {
        compile(&in_main(&body), "deep.lark").unwrap_or_else(|e| panic!("{e}"));
    }
}

/// An `else if` chain is one statement: its length is not nesting.
#[test]
fn a_long_else_if_chain_is_not_nesting() {
    let mut chain = String::from("fn pick(n: int) -> int {\n");
    for k in 0..1000 {
        let word = if k == 0 { "if" } else { "} else if" };
        chain.push_str(&format!(
            "    {word} n == {k} {{\n        return {}\n",
            k * 3
        ));
    }
    chain.push_str(
        "    } else {\n        return -1\n    }\n}\nfn main() {\n    println(pick(999))\n}\n",
    );
    compile(&chain, "chain.lark").unwrap_or_else(|e| panic!("{e}"));
    // Without the final `else` the function may end without returning.
    let open = chain.replace("    } else {\n        return -1\n    }\n}", "    }\n}");
    assert_eq!(
        compile(&open, "chain.lark")
            .map(|_| ())
            .unwrap_err()
            .to_string(),
        "chain.lark:1:4: `pick` may end without returning its int"
    );
}

#[test]
fn lexical_errors() {
    assert_eq!(
        error(&in_main("let x = 3 @ 4")),
        "2:15: unexpected character `@`"
    );
    assert_eq!(
        error(&in_main("print(\"abc")),
        "2:11: unterminated string literal"
    );
    assert_eq!(
        error(&in_main("print(\"a\\qb\")")),
        "2:13: unknown escape \\ followed by `q`"
    );
    // The message stays one line whatever character follows.
    assert_eq!(
        error(&in_main("print(\"a\\\nb\")")),
        "2:13: unknown escape \\ followed by `\\n`"
    );
    assert_eq!(
        error(&in_main("let x = 18446744073709551616")),
        "2:13: integer literal `18446744073709551616` does not fit 64 bits"
    );
    assert_eq!(
        error(&in_main("let x = 0xfg")),
        "2:13: bad hex literal `0xfg`"
    );
    assert_eq!(
        error(&in_main("let x = 12ab")),
        "2:15: a letter right after a number"
    );
    // Columns count characters, not bytes.
    assert_eq!(
        error(&in_main("print(\"é\") ¤")),
        "2:16: unexpected character `¤`"
    );
}

#[test]
fn syntax_errors() {
    assert_eq!(
        error("fn main( {\n}"),
        "1:10: expected a parameter name, found `{`"
    );
    assert_eq!(
        error("main()"),
        "1:1: expected `fn`, `class`, `import`, `var` or `let` at the top level, found `main`"
    );
    assert_eq!(
        error(&in_main("let x = 1 let y = 2")),
        "2:15: expected the end of the statement (a line break or `;`), found `let`"
    );
    assert_eq!(
        error(&in_main("let b = 1 < 2 < 3")),
        "2:19: comparisons do not chain: parenthesise before `<`"
    );
    assert_eq!(
        error(&in_main("1 + 2 = 3")),
        "2:11: only a variable, an element or a field can be assigned"
    );
    assert_eq!(
        error(&in_main("let x = 9223372036854775808")),
        "2:13: integer literal `9223372036854775808` does not fit 64 bits"
    );
    assert_eq!(
        error(&in_main("let x = -9223372036854775809")),
        "2:13: integer literal `-9223372036854775809` does not fit 64 bits"
    );
    assert_eq!(
        error(&in_main("print(1.5: 41)")),
        "2:16: expected a digit count from 0 to 40"
    );
    assert_eq!(
        error(&in_main("let a = new int(3)")),
        "2:17: expected an array type `[T]` after `new`, found `int`"
    );
    assert_eq!(
        error("fn main(n: int = 2 + 3) {\n}"),
        "1:20: a default value must be an int literal"
    );
    assert_eq!(
        error(&in_main("let x = (1")),
        "3:1: expected `)`, found `}`"
    );
    assert_eq!(
        error("fn main() {\n"),
        "2:1: expected `}`, found the end of the file"
    );
    let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    assert_eq!(
        error(&in_main(&format!("let x = {deep}"))),
        "2:212: nesting deeper than 200 levels"
    );
    let long = vec!["1"; 5000].join(" + ");
    assert_eq!(
        error(&in_main(&format!("let x = {long}"))),
        "2:807: nesting deeper than 200 levels"
    );
    let index = "[0]".repeat(5000);
    assert_eq!(
        error(&in_main(&format!("let x = a{index}"))),
        "2:606: nesting deeper than 200 levels"
    );
}

#[test]
fn declaration_errors() {
    assert_eq!(
        error("fn f() {\n}"),
        "1:1: the program has no `main` function"
    );
    assert_eq!(
        error("fn len() {\n}\nfn main() {\n}"),
        "1:4: `len` is a builtin function"
    );
    assert_eq!(
        error("fn main() {\n}\nvar main = 1"),
        "3:5: `main` is declared twice"
    );
    assert_eq!(
        error("fn main(x: float) {\n}"),
        "1:9: `main` takes only `int` parameters"
    );
    assert_eq!(
        error("fn f(x: int = 1) {\n}\nfn main() {\n}"),
        "1:6: only `main`'s parameters may have default values"
    );
    assert_eq!(
        error("fn main(p: Point) {\n}"),
        "1:12: unknown type `Point`"
    );
    assert_eq!(
        error("var g = \"s\"\nfn main() {\n}"),
        "1:9: a global's initial value must be an int, float or bool literal"
    );
    assert_eq!(
        error("var g: float = 1\nfn main() {\n}"),
        "1:16: `g` is declared float but initialised with int"
    );
    assert_eq!(
        error("var g\nfn main() {\n}"),
        "1:5: `g` needs a type or an initial value"
    );
    assert_eq!(
        error("fn f(b: bool) -> int {\n    if b { return 1 }\n}\nfn main() {\n}"),
        "1:4: `f` may end without returning its int"
    );
    assert_eq!(
        error(&in_main("let x = 1; var x = 2")),
        "2:20: `x` is already declared in this scope"
    );
    assert_eq!(error(&in_main("let x: int")), "2:9: `let x` needs a value");
    assert_eq!(
        error(&in_main("var x")),
        "2:9: `x` needs a type or an initial value"
    );
}

#[test]
fn statement_errors() {
    assert_eq!(
        error(&in_main("if 1 { }")),
        "2:8: a condition must be bool, found int"
    );
    assert_eq!(
        error(&in_main("while 1.5 { }")),
        "2:11: a condition must be bool, found float"
    );
    assert_eq!(
        error(&in_main("for i in 0..1.5 { }")),
        "2:17: a range's end must be int, found float"
    );
    assert_eq!(error(&in_main("break")), "2:5: `break` outside a loop");
    assert_eq!(
        error(&in_main("continue")),
        "2:5: `continue` outside a loop"
    );
    assert_eq!(
        error("fn f() -> int {\n    return\n}\nfn main() {\n}"),
        "2:5: `return` without a value in a function returning int"
    );
    assert_eq!(
        error(&in_main("return 1")),
        "2:12: a function without a result type returns no value"
    );
    assert_eq!(
        error("fn f() -> int {\n    return 1.0\n}\nfn main() {\n}"),
        "2:12: the returned value must be int, found float"
    );
    assert_eq!(
        error(&in_main("1 + 2")),
        "2:7: this expression does nothing: only calls can be statements"
    );
    assert_eq!(
        error(&in_main("let x = 1; x = 2")),
        "2:16: `x` is not a `var`: it cannot be assigned"
    );
    assert_eq!(
        error(&in_main("for i in 0..3 { i = 1 }")),
        "2:21: `i` is not a `var`: it cannot be assigned"
    );
    assert_eq!(
        error(&in_main("let s = \"ab\"; s[0] = 1")),
        "2:19: strings are immutable: their bytes cannot be assigned"
    );
    assert_eq!(
        error(&in_main("var x = 1; x += 1.5")),
        "2:16: `+` of int and float: both sides must have one type (convert with `as`)"
    );
    assert_eq!(
        error(&in_main("var x = 1; x = 2.0")),
        "2:20: the assigned value must be int, found float"
    );
    assert_eq!(error(&in_main("y = 2")), "2:5: unknown variable `y`");
}

#[test]
fn expression_errors() {
    assert_eq!(
        error(&in_main("let x = 1 + 2.0")),
        "2:15: `+` of int and float: both sides must have one type (convert with `as`)"
    );
    assert_eq!(
        error(&in_main("let x = 1.5 % 2.0")),
        "2:17: `%` does not apply to float"
    );
    assert_eq!(
        error(&in_main("let x = true < false")),
        "2:18: `<` does not apply to bool"
    );
    assert_eq!(
        error(&in_main("let x = -true")),
        "2:13: `-` does not apply to bool"
    );
    assert_eq!(
        error(&in_main("let x = !1")),
        "2:13: `!` does not apply to int"
    );
    assert_eq!(
        error("import fn h()\nfn main() {\n    let x = h\n}"),
        "3:13: `h` is a function, not a value"
    );
    assert_eq!(
        error(&in_main("let x = main()")),
        "2:13: this expression has no value"
    );
    assert_eq!(
        error(&in_main("print(new [int](2))")),
        "2:11: cannot print [int]: print its elements"
    );
    assert_eq!(
        error(&in_main("print(3: 2)")),
        "2:11: a digit count applies to a float, not int"
    );
    assert_eq!(error(&in_main("let x = 5[0]")), "2:13: cannot index int");
    assert_eq!(
        error(&in_main("let a = new [int](2); let x = a[1.0]")),
        "2:37: an index must be int, found float"
    );
    assert_eq!(
        error(&in_main("let a = new [int](true)")),
        "2:23: an array length must be int, found bool"
    );
    assert_eq!(
        error(&in_main("let x = 1 as bool")),
        "2:15: cannot convert int to bool"
    );
    assert_eq!(
        error(&in_main("let x = len(1, 2)")),
        "2:13: `len` takes 1 argument, not 2"
    );
    assert_eq!(
        error(&in_main("let x = sqrt(2)")),
        "2:18: `sqrt` does not take int"
    );
    assert_eq!(
        error(&in_main("let f = 1; f()")),
        "2:16: `f` is a variable, not a function"
    );
    assert_eq!(error(&in_main("g()")), "2:5: unknown function `g`");
    assert_eq!(
        error("fn f(a: int, b: float) {\n}\nfn main() {\n    f(1)\n}"),
        "4:5: `f` takes 2 arguments, not 1"
    );
    assert_eq!(
        error("fn f(a: int, b: float) {\n}\nfn main() {\n    f(1, 2)\n}"),
        "4:10: argument 2 of `f` must be float, found int"
    );
    assert_eq!(error(&in_main("let x = y")), "2:13: unknown variable `y`");
}

#[test]
fn import_errors() {
    assert_eq!(
        error("import fn f(x: int) -> int {\n}\nfn main() {\n}"),
        "1:28: expected the end of the statement (a line break or `;`), found `{`"
    );
    assert_eq!(
        error("import fn f(x: int)\nfn f() {\n}\nfn main() {\n}"),
        "2:4: `f` is declared twice"
    );
    assert_eq!(
        error("import fn f(x: int)\nfn main() {\n    f(1.0)\n}"),
        "3:7: argument 1 of `f` must be int, found float"
    );
}

#[test]
fn closure_errors() {
    assert_eq!(
        error(&in_main("let a = new [int](2); a[0](1)")),
        "2:31: cannot call int: it is not a function"
    );
    assert_eq!(
        error(&in_main(
            "let fs = new [fun(int) -> int](2); let y = fs[0](1, 2)"
        )),
        "2:53: `fun(int) -> int` takes 1 arguments, not 2"
    );
    assert_eq!(
        error(&in_main(
            "let g = fun() -> fun(int) { return fun(x: int) {} }; g()(1.5)"
        )),
        "2:62: argument 1 of `fun(int)` must be int, found float"
    );
    assert_eq!(
        error(&in_main("var n = 1; let f = fun() { n = 2.5 }")),
        "2:36: the assigned value must be int, found float"
    );
    assert_eq!(
        error(&in_main("let n = 1; let f = fun() { n += 1 }")),
        "2:32: `n` is not a `var`: it cannot be assigned"
    );
    assert_eq!(
        error(&in_main(
            "let f = fun(x: int) -> int { if x > 0 { return 1 } }"
        )),
        "2:13: the closure may end without returning its int"
    );
    assert_eq!(
        error(&in_main("let f = fun(x: int) {}; let y: int = f(1)")),
        "2:42: the value of `y` must be int, found nothing"
    );
    assert_eq!(
        error(&in_main(
            "let f: fun(int) -> int = fun(x: float) -> int { return 1 }"
        )),
        "2:30: the value of `f` must be fun(int) -> int, found fun(float) -> int"
    );
    assert_eq!(
        error(&in_main("let f = fun(x: int) {}; print(f)")),
        "2:35: cannot print fun(int): print its elements"
    );
    assert_eq!(
        error(&in_main("let f = fun(x: int) {}; f(1, 2)")),
        "2:29: `f` takes 1 arguments, not 2"
    );
    assert_eq!(
        error(&in_main("for i in 0..3 { let f = fun() { break } }")),
        "2:37: `break` outside a loop"
    );
}

#[test]
fn fun_field_errors() {
    let base = "class K {\n    var f: fun(int) -> int\n    var n: int\n}\n";
    let body = |b: &str| format!("{base}fn main() {{\n    {b}\n}}\n");
    assert_eq!(
        error(&body("let k = new K(); let y = k.f(true)")),
        "6:34: argument 1 of `K.f` must be int, found bool"
    );
    assert_eq!(
        error(&body("let k = new K(); let y = k.n(1)")),
        "6:32: `K` has no method `n`"
    );
}

#[test]
fn class_errors() {
    let base = "class A {\n    var x: int\n    fn f(a: int) -> int { return a }\n}\n";
    let with = |rest: &str| format!("{base}{rest}\nfn main() {{\n}}\n");
    assert_eq!(error(&with("class A {\n}")), "5:7: `A` is declared twice");
    assert_eq!(
        error(&with("class B extends C {\n}")),
        "5:17: unknown class `C` (a parent is declared before its children)"
    );
    assert_eq!(
        error(&with("class B extends A {\n    var x: float\n}")),
        "6:9: `B` already has a field `x`"
    );
    assert_eq!(
        error(&with(
            "class B extends A {\n    fn f(a: float) -> int { return 1 }\n}"
        )),
        "6:8: `B.f` overrides `A.f` with another signature"
    );
    assert_eq!(
        error(&with("class B {\n    fn g() {}\n    fn g() {}\n}")),
        "7:8: `B` already has a method `g`"
    );
    let body = |b: &str| format!("{base}fn main() {{\n    {b}\n}}\n");
    assert_eq!(error(&body("let a = new B()")), "6:13: unknown class `B`");
    assert_eq!(
        error(&body("let a = new A(); let y = a.y")),
        "6:32: `A` has no field `y`"
    );
    assert_eq!(
        error(&body("let a = new A(); a.g()")),
        "6:24: `A` has no method `g`"
    );
    assert_eq!(
        error(&body("let n = 1; let y = n.x")),
        "6:26: int has no fields"
    );
    assert_eq!(
        error(&body("let n = 1; n.f(1)")),
        "6:18: int has no methods"
    );
    assert_eq!(
        error(&body("let a = new A(); let y = a.f(true)")),
        "6:34: argument 1 of `A.f` must be int, found bool"
    );
    assert_eq!(
        error(&body("let a = new A(); print(a)")),
        "6:28: cannot print A: print its elements"
    );
    assert_eq!(
        error("class A {\n    x: int\n}\nfn main() {\n}"),
        "2:5: expected `var`, `fn` or `}` in a class, found `x`"
    );
    // A parent may not be assigned where a child is expected.
    assert_eq!(
        error(&format!(
            "{base}class B extends A {{\n}}\nfn main() {{\n    let b: B = new A()\n}}\n"
        )),
        "8:16: the value of `b` must be B, found A"
    );
}

#[test]
fn null_and_identity_errors() {
    let base = "class A {\n    var x: int\n}\nclass B extends A {\n}\nclass C {\n}\n";
    let body = |b: &str| format!("{base}fn main() {{\n    {b}\n}}\n");
    assert_eq!(
        error(&body("let n = null")),
        "9:13: `null` has no type of its own: declare `n`'s type"
    );
    assert_eq!(
        error(&body("var n: int = null")),
        "9:18: the value of `n` must be int, found null"
    );
    assert_eq!(
        error(&body("let t = new A() == new C()")),
        "9:21: `==` of A and C: they can never be the same object"
    );
    assert_eq!(
        error(&body("let t = new [int](1) != new [float](1)")),
        "9:26: `!=` of [int] and [float]: they can never be the same object"
    );
    assert_eq!(
        error(&body("let t = 1 == null")),
        "9:15: `==` of int and null: they can never be the same object"
    );
    assert_eq!(
        error(&body("let t = new A() < new A()")),
        "9:21: `<` does not apply to A"
    );
    assert_eq!(
        error(&body("print(null)")),
        "9:11: cannot print null: print its elements"
    );
    assert_eq!(error(&body("let x = null.x")), "9:18: null has no fields");
}

#[test]
fn cast_and_constructor_errors() {
    let base = "class A {\n    var x: int\n}\nclass B extends A {\n    fn init(x: int) { self.x = x }\n}\nclass C {\n}\n";
    let body = |b: &str| format!("{base}fn main() {{\n    {b}\n}}\n");
    assert_eq!(
        error(&body("let a = new A(1)")),
        "10:13: `A` has no `init` method: `new A()` takes no arguments"
    );
    assert_eq!(
        error(&body("let b = new B()")),
        "10:13: `B.init` takes 1 arguments, not 0"
    );
    assert_eq!(
        error(&body("let b = new B(1.5)")),
        "10:19: argument 1 of `B.init` must be int, found float"
    );
    assert_eq!(
        error(&body("let b = new B(1); b.init(2)")),
        "10:25: `B` has no method `init`"
    );
    assert_eq!(
        error(&body("let t = new A() is C")),
        "10:21: A is never C: unrelated classes"
    );
    assert_eq!(
        error(&body("let t = 1 is A")),
        "10:15: `is` tests an object against a class, not int against A"
    );
    assert_eq!(
        error(&body("let t = new A() is int")),
        "10:21: `is` tests an object against a class, not A against int"
    );
    assert_eq!(
        error(&body("let t = new A() is D")),
        "10:24: unknown type `D`"
    );
    assert_eq!(
        error(&body("let c = new A() as C")),
        "10:21: cannot convert A to C"
    );
    assert_eq!(
        error(&body("let b: B = new A()")),
        "10:16: the value of `b` must be B, found A"
    );
    assert_eq!(
        error("class K {\n    fn init() -> int { return 1 }\n}\nfn main() {\n}\n"),
        "2:8: `K.init` is a constructor: it returns nothing"
    );
}

/// How many ops of `opcode` function `name` of the compiled `src` has.
fn count_ops(src: &str, name: &str, opcode: crate::bytecode::op::Opcode) -> usize {
    let m = compile(src, "ops.lark").unwrap_or_else(|e| panic!("{e}"));
    let f = m
        .functions
        .iter()
        .find(|f| f.name == name)
        .expect("function");
    f.code.iter().filter(|op| op.opcode == opcode).count()
}

/// Methods no class overrides below the receiver's static class are
/// called directly; the others through the vtable.
#[test]
fn class_hierarchy_analysis_makes_calls_direct() {
    use crate::bytecode::op::Opcode;
    let src = "class A {\n    fn f() -> int { return 1 }\n    fn g() -> int { return self.f() }\n}\nclass B extends A {\n    fn f() -> int { return 2 }\n}\nclass C extends B {\n}\nfn viaA(a: A) -> int { return a.f() + a.g() }\nfn viaB(b: B) -> int { return b.f() + b.g() }\nfn main() {\n    println(viaA(new C()) + viaB(new B()))\n}\n";
    // `f` is overridden below A (by B): virtual on an A, direct on a B.
    assert_eq!(count_ops(src, "viaA", Opcode::CallI), 1);
    assert_eq!(count_ops(src, "viaA", Opcode::Call), 1);
    assert_eq!(count_ops(src, "viaB", Opcode::CallI), 0);
    assert_eq!(count_ops(src, "viaB", Opcode::Call), 2);
    // `self` is never null: no check before the (virtual) call in `g`.
    assert_eq!(count_ops(src, "A.g", Opcode::JNNull), 0);
    assert_eq!(count_ops(src, "viaB", Opcode::JNNull), 2);
}

#[test]
fn match_errors() {
    assert_eq!(
        error(&in_main("match 1.5 {\n        _ => { }\n    }")),
        "2:11: a matched value must be int, found float"
    );
    assert_eq!(
        error(&in_main(
            "match 3 {\n        1, 2 => { }\n        -4, 2 => { }\n    }"
        )),
        "4:13: `2` is matched by an earlier arm"
    );
    assert_eq!(
        error(&in_main(
            "match 3 {\n        _ => { }\n        1 => { }\n    }"
        )),
        "4:9: the `_` arm must be the last"
    );
    assert_eq!(
        error(&in_main("match 3 {\n        x => { }\n    }")),
        "3:9: expected an int literal or `_` in a match arm, found `x`"
    );
    assert_eq!(
        error(&in_main("match 3 {\n        1 { }\n    }")),
        "3:11: expected `=>`, found `{`"
    );
    assert_eq!(
        error(&in_main("match 3 {\n        1 => println(1)\n    }")),
        "3:14: expected `{`, found `println`"
    );
    // Without `_`, a match may fall through: the function may not return.
    assert_eq!(
        error(
            "fn f(n: int) -> int {\n    match n {\n        0 => { return 1 }\n    }\n}\nfn main() {\n}\n"
        ),
        "1:4: `f` may end without returning its int"
    );
    assert_eq!(
        error(&in_main("match 1 {\n        _ => { break }\n    }")),
        "3:16: `break` outside a loop"
    );
}

/// Dense values take a jump table; sparse ones compares.
#[test]
fn dense_matches_use_switch() {
    use crate::bytecode::op::Opcode;
    let arms = |values: &[i64]| {
        let mut src = String::from("fn f(n: int) -> int {\n    match n {\n");
        for v in values {
            src.push_str(&format!("        {v} => {{ return {v} }}\n"));
        }
        src.push_str("        _ => { return 0 }\n    }\n}\nfn main() {\n}\n");
        src
    };
    assert_eq!(count_ops(&arms(&[1, 2, 3, 5, 6]), "f", Opcode::Switch), 1);
    assert_eq!(count_ops(&arms(&[-3, -2, -1, 0]), "f", Opcode::Switch), 1);
    assert_eq!(count_ops(&arms(&[1, 2, 3]), "f", Opcode::Switch), 0);
    assert_eq!(
        count_ops(&arms(&[1, 10, 100, 1000]), "f", Opcode::Switch),
        0
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary text: an error or a module, never a panic.
    #[test]
    fn random_text_never_panics(src in "\\PC{0,200}") {
        let _ = compile(&src, "fuzz.lark");
    }

    /// Token soup from the language's own vocabulary reaches the parser
    /// and the checker far more often than random characters do.
    #[test]
    fn random_tokens_never_panic(words in proptest::collection::vec(
        proptest::sample::select(vec![
            "fn", "main", "(", ")", "{", "}", "[", "]", "let", "var", "x", "y", "=", "+", "-",
            "*", "/", "%", "<", "==", "&&", "||", "!", "if", "else", "while", "for", "in", "..",
            "return", "break", "continue", "1", "2.5", "\"s\"", "true", "int", "float", "bool",
            "string", ":", ",", ";", "\n", "->", "new", "len", "print", "println", "as", "+=",
            "class", "extends", "self", ".", "A", "B", "fun", "import", "f", "f(1)",
            "9223372036854775808", "-", "0xff", "sqrt", ">>>", "~", "null", "!=", "is", "init", "new A(1)", "match", "=>", "_", "f(1)(2)", "a[0](1)",
        ]),
        0..80,
    )) {
        let src = words.join(" ");
        let _ = compile(&src, "fuzz.lark");
        let with_main = format!("fn main() {{\n{src}\n}}");
        let _ = compile(&with_main, "fuzz.lark");
    }
}

#[test]
fn string_and_bytes_errors() {
    assert_eq!(
        error(&in_main("let s = \"a\" + 1")),
        "2:17: `+` of string and int: both sides must have one type (convert with `as`)"
    );
    assert_eq!(
        error(&in_main("let b = \"a\" < \"b\"")),
        "2:17: `<` does not apply to string"
    );
    assert_eq!(
        error(&in_main("let s = slice(\"abc\", 1)")),
        "2:13: `slice` takes 3 arguments, not 2"
    );
    assert_eq!(
        error(&in_main("let s = chr(1.0)")),
        "2:17: argument 1 of `chr` must be int, found float"
    );
    assert_eq!(
        error(&in_main("copy(new bytes(1), 0, new [int](1), 0, 1)")),
        "2:27: argument 3 of `copy` must be string or bytes, found [int]"
    );
    assert_eq!(
        error(&in_main("copy(new [int](1), 0, new [float](1), 0, 1)")),
        "2:27: argument 3 of `copy` must be [int], found [float]"
    );
    assert_eq!(
        error(&in_main("copy(\"ab\", 0, \"cd\", 0, 1)")),
        "2:10: argument 1 of `copy` must be bytes or an array, found string"
    );
    assert_eq!(
        error(&in_main("let s = to_string(\"ab\", 1)")),
        "2:23: argument 1 of `to_string` must be bytes, found string"
    );
    assert_eq!(
        error(&in_main("let b = new bytes(1.5)")),
        "2:23: a length must be int, found float"
    );
    assert_eq!(
        error(&in_main("let h = hash(1.5)")),
        "2:18: `hash` takes an int or a string, not float"
    );
    assert_eq!(
        error("fn copy() {\n}\nfn main() {\n}\n"),
        "1:4: `copy` is a builtin function"
    );
}

#[test]
fn generic_errors() {
    let boxed = "class Box<T> {\n    var v: T\n}\n";
    assert_eq!(
        error(&format!(
            "{boxed}fn main() {{\n    let b = new Box<int, int>()\n}}\n"
        )),
        "5:17: `Box` takes 1 type argument, not 2"
    );
    assert_eq!(
        error(&format!("{boxed}fn main() {{\n    var b: Box\n}}\n")),
        "5:12: `Box` is generic: give its type arguments (`Box<...>`)"
    );
    assert_eq!(
        error(&format!(
            "{boxed}fn make<T>() -> Box<T> {{\n    return new Box<T>()\n}}\nfn main() {{\n    let b = make()\n}}\n"
        )),
        "8:13: the type parameter `T` of `make` is not determined by the arguments"
    );
    // An operation the type argument does not support: reported in the
    // generic code, naming the instance and where it was made.
    assert_eq!(
        error(
            "fn add<T>(a: T, b: T) -> T {\n    return a + b\n}\nfn main() {\n    println(add(1, 2))\n    let x = add(true, false)\n}\n"
        ),
        "2:14: `+` does not apply to bool (in the instance `add<bool>` made at e.lark:6:13)"
    );
    assert_eq!(
        error(
            "class Pair<A, B> {\n    var a: A\n    fn neg() -> A {\n        return -self.a\n    }\n}\nfn main() {\n    let p = new Pair<string, int>()\n}\n"
        ),
        "4:16: `-` does not apply to string (in the instance `Pair<string, int>` made at e.lark:8:17)"
    );
    assert_eq!(
        error("fn id<T>(x: T) -> T {\n    return x\n}\nfn main() {\n    let f = id\n}\n"),
        "5:13: `id` is generic: call it (the arguments give its type arguments)"
    );
    assert_eq!(
        error("fn two<T>(x: T, y: T) {\n}\nfn main() {\n    two(1, \"a\")\n}\n"),
        "4:12: argument 2 of `two` must be int, found string"
    );
    assert_eq!(
        error("class Box<T, T> {\n}\nfn main() {\n}\n"),
        "1:14: type parameter `T` is declared twice"
    );
    assert_eq!(
        error("fn f<T>(x: T) {\n}\nfn f(x: int) {\n}\nfn main() {\n}\n"),
        "3:4: `f` is declared twice"
    );
    // The library's generics report the same way, in the library's file
    // (at the first `hash` of a key checked: the one in `grow`).
    let map_source = super::library::FILES
        .iter()
        .find(|(name, _)| *name == "std/map.lark")
        .map(|(_, source)| *source)
        .expect("map.lark");
    let (line, text) = map_source
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("hash(ks[j])"))
        .expect("grow hashes its keys");
    let col = text.find("[j]").expect("argument: its position is its `[`") + 1;
    assert_eq!(
        compile(
            "fn main() {\n    let m = new Map<float, int>()\n}\n",
            "e.lark"
        )
        .map(|_| ())
        .unwrap_err()
        .to_string(),
        format!(
            "std/map.lark:{}:{col}: `hash` takes an int or a string, not float \
             (in the instance `Map<float, int>` made at e.lark:2:17)",
            line + 1
        )
    );
    // Ever larger instances end in an error, not a stack overflow.
    let grows =
        error("class X<T> {\n    var y: X<[T]>\n}\nfn main() {\n    let x = new X<int>()\n}\n");
    assert!(
        grows.contains("nests its type arguments too deeply"),
        "{grows}"
    );
    let grows = error("fn f<T>(x: T) {\n    f(new [T](1))\n}\nfn main() {\n    f(1)\n}\n");
    assert!(
        grows.contains("nests its type arguments too deeply"),
        "{grows}"
    );
}
