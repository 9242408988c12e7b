//! i64 ops: register and immediate forms, division and multiplication by
//! constants, unary ops and constants, fused compare-and-branch.

use crate::EDGE_INTS;
use crate::differential::{self, check};
use tierjit::{TrapKind, Value};

/// The contract's i64 semantics, written independently of any engine.
fn int_model(op: &str, x: i64, y: i64) -> Result<i64, TrapKind> {
    Ok(match op {
        "add" => x.wrapping_add(y),
        "sub" => x.wrapping_sub(y),
        "mul" => x.wrapping_mul(y),
        "div" if y == 0 => return Err(TrapKind::DivisionByZero),
        "div" if x == i64::MIN && y == -1 => return Err(TrapKind::IntegerOverflow),
        "div" => x / y,
        "rem" if y == 0 => return Err(TrapKind::DivisionByZero),
        "rem" if y == -1 => 0,
        "rem" => x % y,
        "and" => x & y,
        "or" => x | y,
        "xor" => x ^ y,
        "shl" => x << (y & 63),
        "shr" => x >> (y & 63),
        "ushr" => ((x as u64) >> (y & 63)) as i64,
        "eq" => (x == y) as i64,
        "ne" => (x != y) as i64,
        "lt" => (x < y) as i64,
        "le" => (x <= y) as i64,
        "gt" => (x > y) as i64,
        "ge" => (x >= y) as i64,
        _ => unreachable!("{op}"),
    })
}

const INT_BINOPS: &[&str] = &[
    "add", "sub", "mul", "div", "rem", "and", "or", "xor", "shl", "shr", "ushr", "eq", "ne", "lt",
    "le", "gt", "ge",
];

fn expect_int(out: &differential::Outcome, want: Result<i64, TrapKind>, what: &str) {
    match want {
        Ok(v) => assert_eq!(out.int(), v, "{what}"),
        Err(k) => assert_eq!(out.trap(), (k, "t", 0), "{what}"),
    }
}

#[test]
fn int_register_register_ops() {
    for op in INT_BINOPS {
        let src = format!("func t(i, i) -> i\n {op} i0, i0, i1\n reti i0\nend\n");
        let module = tierjit::bytecode::text::parse(&src).unwrap();
        for &x in EDGE_INTS {
            for &y in EDGE_INTS {
                let out = differential::check_module(&module, "t", &[Value::I(x), Value::I(y)]);
                expect_int(&out, int_model(op, x, y), &format!("{op} {x} {y}"));
            }
        }
    }
}

#[test]
fn int_register_immediate_ops() {
    let imms: &[i64] = &[0, 1, -1, 2, 63, 64, 65, 100, -32768, 32767];
    for op in INT_BINOPS {
        for &imm in imms {
            let src = format!("func t(i) -> i\n {op}i i0, i0, {imm}\n reti i0\nend\n");
            let module = tierjit::bytecode::text::parse(&src).unwrap();
            for &x in EDGE_INTS {
                let out = differential::check_module(&module, "t", &[Value::I(x)]);
                expect_int(&out, int_model(op, x, imm), &format!("{op}i {x} {imm}"));
            }
        }
    }
}

/// Division and multiplication by a register that holds a constant (the
/// Cranelift tier multiplies by reciprocals and shifts then), and by one
/// that holds it only from some point on, or not always.
#[test]
fn int_ops_by_constant_registers() {
    let at_op_1 = |out: &differential::Outcome, want: Result<i64, TrapKind>, what: &str| match want
    {
        Ok(v) => assert_eq!(out.int(), v, "{what}"),
        Err(k) => assert_eq!(out.trap(), (k, "t", 1), "{what}"),
    };
    let divisors =
        EDGE_INTS
            .iter()
            .copied()
            .chain([3, 5, 9, -3, 1_000_003, 1_000_000_007, 1 << 40]);
    for op in ["div", "rem", "mul"] {
        for d in divisors.clone() {
            let src = format!("func t(i) -> i\n iconst i1, {d}\n {op} i0, i0, i1\n reti i0\nend\n");
            let module = tierjit::bytecode::text::parse(&src).unwrap();
            for &x in EDGE_INTS {
                let out = differential::check_module(&module, "t", &[Value::I(x)]);
                at_op_1(
                    &out,
                    int_model(op, x, d),
                    &format!("{op} {x} by constant {d}"),
                );
            }
        }
    }
    for imm in [3, 5, 7, 9, -3, -7] {
        for op in ["div", "rem", "mul"] {
            let src = format!("func t(i) -> i\n {op}i i0, i0, {imm}\n reti i0\nend\n");
            let module = tierjit::bytecode::text::parse(&src).unwrap();
            for &x in EDGE_INTS {
                let out = differential::check_module(&module, "t", &[Value::I(x)]);
                expect_int(&out, int_model(op, x, imm), &format!("{op}i {x} {imm}"));
            }
        }
    }
    // A parameter read before a constant overwrites it: x / d + x / 5.
    let overwritten = "
func t(i, i) -> i
    div  i2, i0, i1
    iconst i1, 5
    div  i3, i0, i1
    add  i2, i2, i3
    reti i2
end";
    assert_eq!(
        check(overwritten, "t", &[Value::I(100), Value::I(4)]).int(),
        45
    );
    // Written twice: 7, or 3 when x is odd.
    let twice = "
func t(i) -> i
    iconst i1, 7
    andi i2, i0, 1
    jz   i2, even
    iconst i1, 3
even:
    rem  i0, i0, i1
    reti i0
end";
    for x in [10, 11, -10, -11] {
        let d = if x % 2 == 0 { 7 } else { 3 };
        assert_eq!(check(twice, "t", &[Value::I(x)]).int(), x % d, "{x}");
    }
    // Written once, in a loop, after a read: x / d + x / 5.
    let looped = "
func t(i, i) -> i
    iconst i2, 2
again:
    div  i3, i0, i1
    add  i4, i4, i3
    iconst i1, 5
    subi i2, i2, 1
    jgti i2, 0, again
    reti i4
end";
    assert_eq!(check(looped, "t", &[Value::I(100), Value::I(2)]).int(), 70);
    // Written once, after a jump over it that later reads come back from:
    // x / d, then x / 5.
    let jumped = "
func t(i, i) -> i
    iconst i2, 2
    jmp  mid
top:
    iconst i1, 5
mid:
    div  i3, i0, i1
    add  i4, i4, i3
    subi i2, i2, 1
    jgti i2, 0, top
    reti i4
end";
    assert_eq!(check(jumped, "t", &[Value::I(100), Value::I(4)]).int(), 45);
    // Written once, after a branch that may skip it: 100 / d or 100 / 5.
    let skipped = "
func t(i, i) -> i
    jz   i0, skip
    iconst i1, 5
skip:
    iconst i3, 100
    div  i3, i3, i1
    reti i3
end";
    for (flag, want) in [(0, 25), (1, 20)] {
        let out = check(skipped, "t", &[Value::I(flag), Value::I(4)]);
        assert_eq!(out.int(), want, "flag {flag}");
    }
}

#[test]
fn int_unary_and_constants() {
    for &x in EDGE_INTS {
        let neg = check(
            "func t(i) -> i\n neg i0, i0\n reti i0\nend",
            "t",
            &[Value::I(x)],
        );
        assert_eq!(neg.int(), x.wrapping_neg());
        let not = check(
            "func t(i) -> i\n not i0, i0\n reti i0\nend",
            "t",
            &[Value::I(x)],
        );
        assert_eq!(not.int(), !x);
        let src = format!("func t() -> i\n iconst i0, {x}\n reti i0\nend");
        assert_eq!(check(&src, "t", &[]).int(), x);
    }
}

#[test]
fn fused_int_branches() {
    let cmps = ["eq", "ne", "lt", "le", "gt", "ge"];
    for c in cmps {
        let rr = format!(
            "func t(i, i) -> i\n j{c} i0, i1, yes\n iconst i0, 0\n reti i0\nyes:\n iconst i0, 1\n reti i0\nend"
        );
        let ri = format!(
            "func t(i) -> i\n j{c}i i0, -3, yes\n iconst i0, 0\n reti i0\nyes:\n iconst i0, 1\n reti i0\nend"
        );
        for &x in EDGE_INTS {
            for &y in EDGE_INTS {
                let out = check(&rr, "t", &[Value::I(x), Value::I(y)]);
                assert_eq!(out.int(), int_model(c, x, y).unwrap(), "j{c} {x} {y}");
            }
            let out = check(&ri, "t", &[Value::I(x)]);
            assert_eq!(out.int(), int_model(c, x, -3).unwrap(), "j{c}i {x}");
        }
    }
    for &x in EDGE_INTS {
        let jz = check(
            "func t(i) -> i\n jz i0, z\n iconst i0, 5\n reti i0\nz:\n iconst i0, 9\n reti i0\nend",
            "t",
            &[Value::I(x)],
        );
        assert_eq!(jz.int(), if x == 0 { 9 } else { 5 });
        let jnz = check(
            "func t(i) -> i\n jnz i0, z\n iconst i0, 5\n reti i0\nz:\n iconst i0, 9\n reti i0\nend",
            "t",
            &[Value::I(x)],
        );
        assert_eq!(jnz.int(), if x != 0 { 9 } else { 5 });
    }
}
