//! Per-op edge cases, run through every engine by the differential harness
//! and checked against the semantics of the design contract.

mod differential;

use differential::{check, check_module, check_with};
use tierjit::{TrapKind, Value};

const EDGE_INTS: &[i64] = &[
    0,
    1,
    -1,
    2,
    -2,
    7,
    -7,
    63,
    64,
    65,
    127,
    -128,
    32767,
    -32768,
    i32::MAX as i64,
    i32::MIN as i64,
    i64::MAX,
    i64::MIN,
    i64::MAX - 1,
    i64::MIN + 1,
    0x5555_5555_5555_5555,
    -0x1234_5678_9abc,
];

const EDGE_FLOATS: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    -1.5,
    2.5,
    1e300,
    -1e300,
    1e-310,
    f64::MIN_POSITIVE,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    9.223372036854775e18,
    -9.223372036854775e18,
    9.3e18,
    -9.3e18,
    4503599627370497.0,
    0.49999999999999994,
];

type FloatBin = fn(f64, f64) -> f64;
type FloatUn = fn(f64) -> f64;
type FloatCmp = fn(f64, f64) -> bool;

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

#[test]
fn float_arithmetic_is_ieee() {
    let ops: &[(&str, FloatBin)] = &[
        ("fadd", |x, y| x + y),
        ("fsub", |x, y| x - y),
        ("fmul", |x, y| x * y),
        ("fdiv", |x, y| x / y),
    ];
    for (op, model) in ops {
        let src = format!("func t(f, f) -> f\n {op} f0, f0, f1\n retf f0\nend");
        let module = tierjit::bytecode::text::parse(&src).unwrap();
        for &x in EDGE_FLOATS {
            for &y in EDGE_FLOATS {
                let got =
                    differential::check_module(&module, "t", &[Value::F(x), Value::F(y)]).float();
                let want = model(x, y);
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{op} {x} {y}: {got} vs {want}"
                );
            }
        }
    }
    let unops: &[(&str, FloatUn)] = &[
        ("fneg", |x| -x),
        ("fabs", f64::abs),
        ("fsqrt", f64::sqrt),
        ("ffloor", f64::floor),
    ];
    for (op, model) in unops {
        let src = format!("func t(f) -> f\n {op} f0, f0\n retf f0\nend");
        for &x in EDGE_FLOATS {
            let got = check(&src, "t", &[Value::F(x)]).float();
            let want = model(x);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{op} {x}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn float_compares_and_branches_with_nan() {
    let cmps: &[(&str, FloatCmp)] = &[
        ("eq", |x, y| x == y),
        ("ne", |x, y| x != y),
        ("lt", |x, y| x < y),
        ("le", |x, y| x <= y),
        ("gt", |x, y| x > y),
        ("ge", |x, y| x >= y),
    ];
    for (c, model) in cmps {
        let set = format!("func t(f, f) -> i\n f{c} i0, f0, f1\n reti i0\nend");
        let br = format!(
            "func t(f, f) -> i\n fj{c} f0, f1, yes\n iconst i0, 0\n reti i0\nyes:\n iconst i0, 1\n reti i0\nend"
        );
        for &x in EDGE_FLOATS {
            for &y in EDGE_FLOATS {
                let want = model(x, y) as i64;
                assert_eq!(
                    check(&set, "t", &[Value::F(x), Value::F(y)]).int(),
                    want,
                    "f{c} {x} {y}"
                );
                assert_eq!(
                    check(&br, "t", &[Value::F(x), Value::F(y)]).int(),
                    want,
                    "fj{c} {x} {y}"
                );
            }
        }
    }
    // The contract in words: ordered compares with NaN are false, ne is true.
    let ne = check(
        "func t(f) -> i\n fne i0, f0, f0\n reti i0\nend",
        "t",
        &[Value::F(f64::NAN)],
    );
    assert_eq!(ne.int(), 1);
}

#[test]
fn conversions_saturate_and_map_nan_to_zero() {
    for &x in EDGE_FLOATS {
        let got = check(
            "func t(f) -> i\n f2i i0, f0\n reti i0\nend",
            "t",
            &[Value::F(x)],
        )
        .int();
        assert_eq!(got, x as i64, "f2i {x}");
    }
    assert_eq!(
        check(
            "func t(f) -> i\n f2i i0, f0\n reti i0\nend",
            "t",
            &[Value::F(f64::NAN)]
        )
        .int(),
        0
    );
    assert_eq!(
        check(
            "func t(f) -> i\n f2i i0, f0\n reti i0\nend",
            "t",
            &[Value::F(1e300)]
        )
        .int(),
        i64::MAX
    );
    assert_eq!(
        check(
            "func t(f) -> i\n f2i i0, f0\n reti i0\nend",
            "t",
            &[Value::F(-1e300)]
        )
        .int(),
        i64::MIN
    );
    for &x in EDGE_INTS {
        let got = check(
            "func t(i) -> f\n i2f f0, i0\n retf f0\nend",
            "t",
            &[Value::I(x)],
        )
        .float();
        assert_eq!(got.to_bits(), (x as f64).to_bits(), "i2f {x}");
    }
}

const ARRAYS: &str = "
func geti(i, i) -> i          ; new i64 array of length i0, read element i1
    newi r0, i0
    geti i0, r0, i1
    reti i0
end
func setget(i, i) -> i        ; store 7 at index i1 of a length-i0 array
    newi r0, i0
    iconst i2, 7
    seti r0, i1, i2
    geti i0, r0, i1
    reti i0
end
func null() -> i
    len i0, r0
    reti i0
end
func kind() -> f
    iconst i0, 3
    newi r0, i0
    getf f0, r0, i1
    retf f0
end
func refs(i) -> i             ; an array of arrays
    newr r0, i0
    newf r1, i0
    fconst f0, 2.5
    subi i1, i0, 1
    setf r1, i1, f0
    setr r0, i1, r1
    getr r2, r0, i1
    len i2, r2
    getf f1, r2, i1
    f2i i3, f1
    add i0, i2, i3
    reti i0
end
";

#[test]
fn arrays_check_bounds_null_kind_and_length() {
    assert_eq!(check(ARRAYS, "geti", &[Value::I(3), Value::I(2)]).int(), 0);
    assert_eq!(
        check(ARRAYS, "setget", &[Value::I(3), Value::I(2)]).int(),
        7
    );
    for idx in [3, 4, -1, i64::MIN, i64::MAX] {
        assert_eq!(
            check(ARRAYS, "geti", &[Value::I(3), Value::I(idx)]).trap(),
            (TrapKind::IndexOutOfBounds, "geti", 1)
        );
        assert_eq!(
            check(ARRAYS, "setget", &[Value::I(3), Value::I(idx)]).trap(),
            (TrapKind::IndexOutOfBounds, "setget", 2)
        );
    }
    assert_eq!(
        check(ARRAYS, "geti", &[Value::I(0), Value::I(0)]).trap(),
        (TrapKind::IndexOutOfBounds, "geti", 1)
    );
    assert_eq!(
        check(ARRAYS, "geti", &[Value::I(-1), Value::I(0)]).trap(),
        (TrapKind::NegativeLength, "geti", 0)
    );
    assert_eq!(
        check(ARRAYS, "null", &[]).trap(),
        (TrapKind::NullReference, "null", 0)
    );
    assert_eq!(
        check(ARRAYS, "kind", &[]).trap(),
        (TrapKind::ElementKind, "kind", 2)
    );
    assert_eq!(check(ARRAYS, "refs", &[Value::I(4)]).int(), 6);
    let huge = check(ARRAYS, "geti", &[Value::I(i64::MAX), Value::I(0)]);
    assert_eq!(huge.trap(), (TrapKind::OutOfMemory, "geti", 0));
}

/// Every element access traps in the interpreter's order, null, then the
/// element kind (whatever the index), then bounds, on every engine: the
/// Cranelift tier checks all three with one compare and sorts them out on
/// the cold path.
#[test]
fn element_accesses_trap_null_then_kind_then_bounds() {
    // (access op, the op making an array of its kind, one of another kind)
    let accesses = [
        ("geti i2, r0, i1", "newi", "newf"),
        ("seti r0, i1, i2", "newi", "newr"),
        ("getf f0, r0, i1", "newf", "newi"),
        ("setf r0, i1, f0", "newf", "newr"),
        ("getr r1, r0, i1", "newr", "newf"),
        ("setr r0, i1, r1", "newr", "newi"),
    ];
    for (access, right, wrong) in accesses {
        // access(case, index): case 0 = null, 1 = wrong kind, else the
        // right kind; arrays of length 3.
        let src = format!(
            "func access(i, i) -> i\n    iconst i3, 3\n    jz i0, go\n    \
             jeqi i0, 1, other\n    {right} r0, i3\n    jmp go\n\
             other:\n    {wrong} r0, i3\n\
             go:\n    {access}\n    reti i0\nend\n"
        );
        let at = 6; // the access op
        for idx in [0, 2, 3, -1, i64::MIN, i64::MAX] {
            let run = |case| check(&src, "access", &[Value::I(case), Value::I(idx)]);
            assert_eq!(
                run(0).trap(),
                (TrapKind::NullReference, "access", at),
                "{access} null [{idx}]"
            );
            assert_eq!(
                run(1).trap(),
                (TrapKind::ElementKind, "access", at),
                "{access} {wrong} [{idx}]"
            );
            if (0..3).contains(&idx) {
                assert_eq!(run(2).int(), 2, "{access} [{idx}]");
            } else {
                assert_eq!(
                    run(2).trap(),
                    (TrapKind::IndexOutOfBounds, "access", at),
                    "{access} [{idx}]"
                );
            }
        }
    }
}

/// i64 arrays start byte-packed and widen at the first store of a value
/// outside 0..=255 (see `runtime::heap`): in every engine, in mid-loop,
/// across tiers (the functions of `staged` alternate Cranelift and template
/// in the mixed run), and at one `geti` that reads both forms in turn.
const PACKED: &str = "
func store_one(i, i, i) -> i    ; n, at, v: a[k] = k % 256, a[at] = v, sum a[k] * (k + 1)
    newi r0, i0
    iconst i3, 0
    jlei i0, 0, stored
fill:
    andi i4, i3, 255
    seti r0, i3, i4
    addi i3, i3, 1
    jlt  i3, i0, fill
stored:
    seti r0, i1, i2
    iconst i3, 0
    iconst i5, 0
sum:
    geti i4, r0, i3
    addi i6, i3, 1
    mul  i4, i4, i6
    add  i5, i5, i4
    addi i3, i3, 1
    jlt  i3, i0, sum
    reti i5
end
func ramp(i, i) -> i            ; n, m: a[k] = k * m in one loop, then sum a[k] * (k + 1)
    newi r0, i0
    iconst i2, 0
fill:
    mul  i3, i2, i1
    seti r0, i2, i3
    addi i2, i2, 1
    jlt  i2, i0, fill
    iconst i2, 0
    iconst i4, 0
sum:
    geti i3, r0, i2
    addi i5, i2, 1
    mul  i3, i3, i5
    add  i4, i4, i3
    addi i2, i2, 1
    jlt  i2, i0, sum
    reti i4
end
func both(i) -> i               ; r0 stays packed, r1 widens; one geti reads both
    newi r0, i0
    newi r1, i0
    iconst i1, 0
    iconst i5, 1000
fill:
    andi i2, i1, 255
    seti r0, i1, i2
    add  i3, i1, i5
    seti r1, i1, i3
    addi i1, i1, 1
    jlt  i1, i0, fill
    iconst i1, 0
    iconst i4, 0
read:
    andi i2, i1, 1
    rmov r2, r0
    jz   i2, pick
    rmov r2, r1
pick:
    geti i3, r2, i1
    muli i4, i4, 31
    add  i4, i4, i3
    addi i1, i1, 1
    jlt  i1, i0, read
    reti i4
end
func staged(i, i) -> i          ; n, v: store_one split over four functions
    newi r0, i0
    rmov r2, r0
    mov  i2, i0
    call -, fill, 2
    rmov r2, r0
    iconst i2, 7
    mov  i3, i1
    call -, put, 2
    rmov r2, r0
    mov  i2, i0
    call i0, total, 2
    reti i0
end
func fill(r, i) -> none
    iconst i1, 0
again:
    andi i2, i1, 255
    seti r0, i1, i2
    addi i1, i1, 1
    jlt  i1, i0, again
    ret
end
func put(r, i, i) -> none
    seti r0, i0, i1
    ret
end
func total(r, i) -> i
    iconst i1, 0
    iconst i2, 0
again:
    geti i3, r0, i1
    addi i4, i1, 1
    mul  i3, i3, i4
    add  i2, i2, i3
    addi i1, i1, 1
    jlt  i1, i0, again
    reti i2
end
func bounds_first(i) -> i       ; a store that would widen, out of bounds
    iconst i1, 3
    newi r0, i1
    iconst i2, 1000
    seti r0, i0, i2
    reti i2
end
func wrong_kind() -> i
    iconst i0, 3
    newf r0, i0
    geti i0, r0, i0
    reti i0
end
";

/// The sum of `a[k] * (k + 1)`, wrapping: what the array programs return.
fn weighted(a: &[i64]) -> i64 {
    a.iter().enumerate().fold(0i64, |s, (k, &x)| {
        s.wrapping_add(x.wrapping_mul(k as i64 + 1))
    })
}

#[test]
fn byte_packed_i64_arrays_widen_alike_on_every_engine() {
    let n = 600i64;
    for at in [0, 1, 299, n - 1] {
        for v in [
            0,
            1,
            7,
            127,
            128,
            255,
            256,
            -1,
            -256,
            1 << 40,
            i64::MIN,
            i64::MAX,
        ] {
            let mut a: Vec<i64> = (0..n).map(|k| k & 255).collect();
            a[at as usize] = v;
            let args = [Value::I(n), Value::I(at), Value::I(v)];
            assert_eq!(
                check(PACKED, "store_one", &args).int(),
                weighted(&a),
                "at {at} v {v}"
            );
        }
    }
    for v in [0, 255, 256, -1, i64::MIN] {
        let mut a: Vec<i64> = (0..n).map(|k| k & 255).collect();
        a[7] = v;
        let args = [Value::I(n), Value::I(v)];
        assert_eq!(
            check(PACKED, "staged", &args).int(),
            weighted(&a),
            "staged v {v}"
        );
    }
    // m = 3 widens at k = 86; m = 0 and m = 1 (n <= 256) never do; m = -1
    // widens at k = 1.
    for (len, m) in [(200i64, 3i64), (200, 0), (256, 1), (300, 1), (200, -1)] {
        let a: Vec<i64> = (0..len).map(|k| k * m).collect();
        let args = [Value::I(len), Value::I(m)];
        assert_eq!(
            check(PACKED, "ramp", &args).int(),
            weighted(&a),
            "ramp {len} {m}"
        );
    }
    let want = (0..n).fold(0i64, |s, k| {
        let x = if k % 2 == 0 { k & 255 } else { k + 1000 };
        s.wrapping_mul(31).wrapping_add(x)
    });
    assert_eq!(check(PACKED, "both", &[Value::I(n)]).int(), want);
    for idx in [3, -1, i64::MIN] {
        assert_eq!(
            check(PACKED, "bounds_first", &[Value::I(idx)]).trap(),
            (TrapKind::IndexOutOfBounds, "bounds_first", 3)
        );
    }
    assert_eq!(check(PACKED, "bounds_first", &[Value::I(2)]).int(), 1000);
    assert_eq!(
        check(PACKED, "wrong_kind", &[]).trap(),
        (TrapKind::ElementKind, "wrong_kind", 2)
    );
}

/// Loops that get a copy for byte-packed arrays in the Cranelift tier (see
/// `cranelift_tier::packed_loop`), a fill among them, and branches over
/// one op (a select there).
const PACKED_LOOPS: &str = "
; fill(n, from, to, v): a = new [n] of k % 7, then for (i = from; ; i++)
; { a[i] = v; if (i + 1 > to) break }: the weighted sum of a, plus the
; final i times 1000003
func fill(i, i, i, i) -> i
    newi r0, i0
    iconst i4, 0
    jlei i0, 0, init_done
init:
    remi i5, i4, 7
    seti r0, i4, i5
    addi i4, i4, 1
    jlt  i4, i0, init
init_done:
    mov  i4, i1
store:
    seti r0, i4, i3
    addi i4, i4, 1
    jle  i4, i2, store
    muli i6, i4, 1000
    muli i6, i6, 1000
    add  i6, i6, i4
    add  i6, i6, i4
    add  i6, i6, i4
    iconst i5, 0
    jlei i0, 0, done
sum:
    geti i7, r0, i5
    addi i8, i5, 1
    mul  i7, i7, i8
    add  i6, i6, i7
    addi i5, i5, 1
    jlt  i5, i0, sum
done:
    reti i6
end
; fill_below(n, from, v): a[i] = v for i = from up to 99 (jlti), then the
; sum of a[k] * (k + 1), plus the final i times 1000
func fill_below(i, i, i) -> i
    newi r0, i0
    mov  i3, i1
store:
    seti r0, i3, i2
    addi i3, i3, 1
    jlti i3, 100, store
    muli i6, i3, 1000
    iconst i5, 0
sum:
    geti i7, r0, i5
    addi i8, i5, 1
    mul  i7, i7, i8
    add  i6, i6, i7
    addi i5, i5, 1
    jlt  i5, i0, sum
    reti i6
end
; stride(n, step, v, alias): through r1 (r0's array, or with alias 0 a
; fresh one), a[j] = v for j = 0, step, ... < n, and each time read back
; a[j / 2] through r0 into a sum; v outside 0..=255 widens mid-loop
func stride(i, i, i, i) -> i
    newi r0, i0
    rmov r1, r0
    jnz  i3, same
    newi r1, i0
same:
    iconst i4, 0
    iconst i6, 0
loop:
    seti r1, i4, i2
    divi i5, i4, 2
    geti i5, r0, i5
    add  i6, i6, i5
    muli i6, i6, 3
    add  i4, i4, i1
    jlt  i4, i0, loop
    reti i6
end
; count_zeros(n, m, limit): a[k] = k % m for k < n, then count the zeros
; of a[0..limit] (a trap past n) and add a[k] + 7 where a[k] > 2: branches
; over one op, one of them a loop exit
func count_zeros(i, i, i) -> i
    newi r0, i0
    iconst i3, 0
init:
    rem  i4, i3, i1
    seti r0, i3, i4
    addi i3, i3, 1
    jlt  i3, i0, init
    iconst i3, 0
    iconst i5, 0
    iconst i6, 0
count:
    geti i4, r0, i3
    jnz  i4, nonzero
    addi i5, i5, 1
nonzero:
    jlei i4, 2, small
    add  i6, i6, i4
small:
    jgti i4, 2, big
    addi i6, i6, 7
big:
    addi i3, i3, 1
    jlt  i3, i2, count
    muli i5, i5, 1000
    muli i5, i5, 1000
    add  i5, i5, i6
    reti i5
end
; null_loop(n): a loop over a null array
func null_loop(i) -> i
    iconst i1, 0
loop:
    geti i2, r0, i1
    addi i1, i1, 1
    jlt  i1, i0, loop
    reti i1
end
";

#[test]
fn packed_loop_copies_fills_and_selects_agree_on_every_engine() {
    let n = 300i64;
    for (from, to) in [
        (0, n - 1),
        (5, 200),
        (7, 7),
        (9, 3),
        (n - 1, 0),
        (-1, 5),
        (250, n),
        (0, i64::MAX),
    ] {
        for v in [0, 1, 255, 256, -1, i64::MIN] {
            let args = [Value::I(n), Value::I(from), Value::I(to), Value::I(v)];
            let got = check(PACKED_LOOPS, "fill", &args);
            let last = to.max(from);
            if from < 0 || last >= n {
                assert_eq!(
                    got.trap(),
                    (TrapKind::IndexOutOfBounds, "fill", 8),
                    "{from} {to} {v}"
                );
                continue;
            }
            let mut a: Vec<i64> = (0..n).map(|k| k % 7).collect();
            for k in from..=last {
                a[k as usize] = v;
            }
            let want = weighted(&a).wrapping_add((last + 1) * 1_000_003);
            assert_eq!(got.int(), want, "fill {from} {to} {v}");
        }
    }
    for from in [0, 50, 99, 100, 150, -3] {
        for v in [3, 256] {
            let args = [Value::I(n), Value::I(from), Value::I(v)];
            let got = check(PACKED_LOOPS, "fill_below", &args);
            if from < 0 {
                assert_eq!(got.trap(), (TrapKind::IndexOutOfBounds, "fill_below", 2));
                continue;
            }
            let mut a = vec![0i64; n as usize];
            let last = from.max(99);
            for k in from..=last {
                a[k as usize] = v;
            }
            assert_eq!(
                got.int(),
                weighted(&a) + (last + 1) * 1000,
                "fill_below {from} {v}"
            );
        }
    }
    for step in [1, 3, 64] {
        for v in [0, 9, 255, 256, -7] {
            for alias in [0, 1] {
                let args = [Value::I(n), Value::I(step), Value::I(v), Value::I(alias)];
                let mut a = vec![0i64; n as usize];
                let mut sum = 0i64;
                let mut j = 0;
                while j < n {
                    if alias == 1 {
                        a[j as usize] = v;
                    }
                    sum = sum.wrapping_add(a[(j / 2) as usize]).wrapping_mul(3);
                    j += step;
                }
                let got = check(PACKED_LOOPS, "stride", &args).int();
                assert_eq!(got, sum, "stride {step} {v} {alias}");
            }
        }
    }
    for m in [1, 2, 5, 300, 1000] {
        let a: Vec<i64> = (0..n).map(|k| k % m).collect();
        let zeros = a.iter().filter(|&&x| x == 0).count() as i64;
        let rest: i64 = a.iter().map(|&x| if x > 2 { x } else { 7 }).sum();
        let args = [Value::I(n), Value::I(m), Value::I(n)];
        let got = check(PACKED_LOOPS, "count_zeros", &args).int();
        assert_eq!(got, zeros * 1_000_000 + rest, "count_zeros {m}");
        let args = [Value::I(n), Value::I(m), Value::I(n + 1)];
        assert_eq!(
            check(PACKED_LOOPS, "count_zeros", &args).trap(),
            (TrapKind::IndexOutOfBounds, "count_zeros", 9)
        );
    }
    assert_eq!(
        check(PACKED_LOOPS, "null_loop", &[Value::I(5)]).trap(),
        (TrapKind::NullReference, "null_loop", 1)
    );
}

/// An array widens through one reference while a loop reads it through
/// another: in line, in a real call (the callee allocates, so it is not
/// inlined), or in an inlined callee. Iteration k reads a[k / 2] through
/// r0, then stores k * m at a[k] through r8 (the same array, or with `split`
/// another one), so the store of the first k * m outside 0..=255 widens
/// whichever array r8 holds, and the reads after it must see the 8-byte
/// form.
const WIDEN_ELSEWHERE: &str = "
func put(r, i, i) -> none       ; a[k] = v, then a fresh array (a real call)
    seti r0, i0, i1
    iconst i2, 1
    newi r1, i2
    ret
end
func put_inline(r, i, i) -> none ; a[k] = v (inlined)
    seti r0, i0, i1
    ret
end
; main(n, m, how, split): how 0 = in line, 1 = real call, 2 = inlined call;
; the sum of a[k / 2] * (k + 1) as read before each store, plus the sum of
; the array read through r0 at the end
func main(i, i, i, i) -> i
    newi r0, i0
    rmov r8, r0
    jz   i3, same
    newi r8, i0
same:
    iconst i4, 0                ; k
    iconst i5, 0                ; the sum
loop:
    divi i10, i4, 2
    geti i6, r0, i10
    addi i7, i4, 1
    mul  i6, i6, i7
    add  i5, i5, i6
    mov  i8, i4                 ; the window of put: r8, i8 = k, i9 = k * m
    mul  i9, i4, i1
    jeqi i2, 1, real
    jeqi i2, 2, inlined
    seti r8, i8, i9
    jmp  next
real:
    call -, put, 8
    jmp  next
inlined:
    call -, put_inline, 8
next:
    addi i4, i4, 1
    jlt  i4, i0, loop
    iconst i4, 0
again:
    geti i6, r0, i4
    add  i5, i5, i6
    addi i4, i4, 1
    jlt  i4, i0, again
    reti i5
end
";

#[test]
fn widening_through_another_reference_is_seen_on_every_engine() {
    let module = tierjit::bytecode::text::parse(WIDEN_ELSEWHERE).unwrap();
    let n = 300i64;
    for m in [0i64, 1, 3, 300, -1] {
        for split in [0, 1] {
            // r0's a[j] holds j * m once iteration j has run, if r8 is
            // r0's array; iteration k reads j = k / 2, which has run unless
            // k = 0 (where j * m = 0 anyway).
            let stored = |j: i64| if split == 0 { j * m } else { 0 };
            let before: i64 = (0..n).map(|k| stored(k / 2) * (k + 1)).sum();
            let after: i64 = (0..n).map(stored).sum();
            for how in 0..3 {
                let args = [Value::I(n), Value::I(m), Value::I(how), Value::I(split)];
                let got = differential::check_module(&module, "main", &args).int();
                assert_eq!(got, before + after, "m {m} how {how} split {split}");
            }
        }
    }
}

#[test]
fn heap_limit_traps_and_garbage_is_collected() {
    // 1000 arrays of 100 KB each under a 16 MB limit: only garbage
    // collection lets this finish.
    let src = "
func churn(i) -> i
    iconst i1, 12800
loop:
    newf r0, i1
    subi i0, i0, 1
    jgti i0, 0, loop
    len i0, r0
    reti i0
end";
    let out = check_with(
        &tierjit::bytecode::text::parse(src).unwrap(),
        "churn",
        &[Value::I(1000)],
        |c| {
            c.heap_limit(16 << 20);
        },
    );
    assert_eq!(out.int(), 12800);
    let out = check_with(
        &tierjit::bytecode::text::parse(src).unwrap(),
        "churn",
        &[Value::I(1)],
        |c| {
            c.heap_limit(50_000);
        },
    );
    assert_eq!(out.trap(), (TrapKind::OutOfMemory, "churn", 1));
}

const RECURSE: &str = "
func down(i) -> i
    jeqi i0, 0, done
    subi i1, i0, 1
    call i1, down, 1
    addi i0, i1, 1
    reti i0
done:
    reti i0
end";

#[test]
fn deep_recursion_is_a_trap_not_a_crash() {
    let module = tierjit::bytecode::text::parse(RECURSE).unwrap();
    // The default depth limit (200,000) with stacks big enough to reach it.
    let big_stacks = |c: &mut tierjit::Config| {
        c.stack_slots(1 << 20, 1 << 10, 1 << 10);
    };
    let out = check_with(&module, "down", &[Value::I(1_000_000)], big_stacks);
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "down", 2));
    // Within the limit it works.
    assert_eq!(
        check_with(&module, "down", &[Value::I(100_000)], big_stacks).int(),
        100_000
    );
    // A small register stack overflows before the depth limit.
    let out = check_with(&module, "down", &[Value::I(1000)], |c| {
        c.stack_slots(100, 100, 100);
    });
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "down", 2));
    let out = check_with(&module, "down", &[Value::I(1000)], |c| {
        c.max_call_depth(50);
    });
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "down", 2));
}

/// The Cranelift tier checks an f64 or reference access once per straight
/// run of ops, until its array or index register is written: an inlined
/// callee's registers are its own, and writes between the accesses make
/// them check again.
const RECHECKS: &str = "
func peek(r, i) -> f
    getf f0, r0, i0
    retf f0
end
; recheck(k, n, m, p): a = f64[n], b = f64[m], c = f64[p]; a[k] = 1.5;
; a[k] + b[k] (b's read by an inlined callee, in its r0 and i0) stored back
; to a[k]; plus c[k] (read through r0), plus a[k] again, plus a[k + 1]
func recheck(i, i, i, i) -> f
    newf r0, i1
    newf r1, i2
    newf r3, i3
    fconst f3, 1.5
    setf r0, i0, f3
    getf f0, r0, i0
    rmov r5, r1
    mov  i5, i0
    call f1, peek, 5
    fadd f0, f0, f1
    setf r0, i0, f0
    rmov r2, r0
    rmov r0, r3
    getf f1, r0, i0
    fadd f0, f0, f1
    rmov r0, r2
    getf f1, r0, i0
    fadd f0, f0, f1
    addi i0, i0, 1
    getf f2, r0, i0
    fadd f0, f0, f2
    retf f0
end
; merge(k, n, flag): a = f64[n]; a[k] read only when flag is set, then
; at a jump target (where it must be checked again) in any case
func merge(i, i, i) -> f
    newf r0, i1
    jz   i2, skip
    getf f0, r0, i0
skip:
    getf f1, r0, i0
    retf f1
end
";

#[test]
fn repeated_accesses_check_again_after_any_change() {
    let module = tierjit::bytecode::text::parse(RECHECKS).unwrap();
    let run = |k: i64, n: i64, m: i64, p: i64| {
        let args = [Value::I(k), Value::I(n), Value::I(m), Value::I(p)];
        check_module(&module, "recheck", &args)
    };
    assert_eq!(run(0, 4, 1, 1).float(), 3.0);
    assert_eq!(
        run(2, 4, 1, 4).trap(),
        (TrapKind::IndexOutOfBounds, "peek", 0)
    );
    assert_eq!(
        run(2, 4, 3, 1).trap(),
        (TrapKind::IndexOutOfBounds, "recheck", 13)
    );
    assert_eq!(
        run(0, 1, 1, 1).trap(),
        (TrapKind::IndexOutOfBounds, "recheck", 19)
    );
    assert_eq!(run(2, 4, 3, 3).float(), 3.0);
    let merge = |k: i64, flag: i64| {
        check_module(
            &module,
            "merge",
            &[Value::I(k), Value::I(3), Value::I(flag)],
        )
    };
    assert_eq!(merge(5, 0).trap(), (TrapKind::IndexOutOfBounds, "merge", 3));
    assert_eq!(merge(5, 1).trap(), (TrapKind::IndexOutOfBounds, "merge", 2));
    assert_eq!(merge(2, 0).float(), 0.0);
}

/// Functions that return at once when a test of their arguments holds:
/// the Cranelift tier runs that test at a call it does not inline and
/// calls only when the function would not return at once.
const EARLY_EXITS: &str = "
; halves(n, x): 0.0 for n <= 0 (an uninitialised register), else
; x + halves(n - 1, x / 2)
func halves(i, f) -> f
    jgti i0, 0, work
    retf f1
work:
    subi i0, i0, 1
    fconst f2, 0.5
    fmul f3, f0, f2
    fmov f1, f0
    fmov f0, f3
    call f4, halves, 0
    fadd f1, f1, f4
    retf f1
end
; steps(a, b): 0 when a >= b, else 1 + steps(a + 1, b)
func steps(i, i) -> i
    jge  i0, i1, same
    addi i0, i0, 1
    call i0, steps, 0
    addi i0, i0, 1
    reti i0
same:
    reti i2
end
; zeros(n): n for n == 0, else zeros(n - 1), computed twice
func zeros(i) -> i
    jz   i0, done
    subi i1, i0, 1
    call i2, zeros, 1
    subi i1, i0, 1
    call i1, zeros, 1
    reti i1
done:
    reti i0
end
func main(i) -> i
    mov  i1, i0
    i2f  f1, i0
    call f1, halves, 1
    f2i  i2, f1
    iconst i3, 0
    mov  i4, i0
    call i3, steps, 3
    mov  i4, i0
    call i4, zeros, 4
    muli i2, i2, 1000
    add  i2, i2, i3
    add  i2, i2, i4
    reti i2
end
";

#[test]
fn early_exits_check_the_frame_like_real_calls() {
    let module = tierjit::bytecode::text::parse(EARLY_EXITS).unwrap();
    for n in [0i64, 1, 2, 9] {
        let halves: f64 = (0..n).map(|k| n as f64 / f64::powi(2.0, k as i32)).sum();
        let want = (halves as i64) * 1000 + n;
        assert_eq!(
            check_module(&module, "main", &[Value::I(n)]).int(),
            want,
            "main({n})"
        );
    }
    // At every depth limit and register-stack size around what recursion
    // to 0 needs, the call that returns at once traps like a real one.
    for n in [3i64, 7] {
        for depth in 1..(n as u32 + 4) {
            check_with(&module, "main", &[Value::I(n)], |c| {
                c.max_call_depth(depth);
            });
            let recurse = tierjit::bytecode::text::parse(RECURSE).unwrap();
            check_with(&recurse, "down", &[Value::I(n)], |c| {
                c.max_call_depth(depth);
            });
        }
        for slots in 2..(3 * n as usize + 8) {
            check_with(&module, "main", &[Value::I(n)], |c| {
                c.stack_slots(slots, 64, 64);
            });
            check_with(&module, "main", &[Value::I(n)], |c| {
                c.stack_slots(64, slots, 64);
            });
        }
    }
}

/// Small leaves the Cranelift tier inlines: traps inside them name the
/// callee and its op; the call-site checks still trap at the call.
const LEAVES: &str = "
func quot(i, i) -> i
    div  i0, i0, i1
    reti i0
end

func sum_down(i) -> i
    iconst i1, 0
top:
    jlei i0, 0, done
    add  i1, i1, i0
    subi i0, i0, 1
    jmp  top
done:
    reti i1
end

func elem(r, i) -> f
    getf f0, r0, i0
    retf f0
end

; main(a, b, k): a / b + (a + ... + 1) + (f64 array of 3 with [1] = 2.5)[k]
func main(i, i, i) -> i
    mov  i4, i0
    mov  i5, i1
    call i4, quot, 4
    mov  i5, i0
    call i5, sum_down, 5
    add  i4, i4, i5
    iconst i6, 3
    newf r6, i6
    iconst i7, 1
    fconst f0, 2.5
    setf r6, i7, f0
    mov  i6, i2
    call f6, elem, 6
    f2i  i7, f6
    add  i4, i4, i7
    reti i4
end
";

#[test]
fn inlined_leaves_trap_like_real_calls() {
    let module = tierjit::bytecode::text::parse(LEAVES).unwrap();
    let args = |a: i64, b: i64, k: i64| [Value::I(a), Value::I(b), Value::I(k)];
    let run = |a, b, k| differential::check_module(&module, "main", &args(a, b, k));
    assert_eq!(run(7, 2, 1).int(), 3 + 28 + 2);
    assert_eq!(run(-7, 2, 0).int(), -3);
    assert_eq!(run(7, 0, 1).trap(), (TrapKind::DivisionByZero, "quot", 0));
    assert_eq!(
        run(i64::MIN, -1, 1).trap(),
        (TrapKind::IntegerOverflow, "quot", 0)
    );
    assert_eq!(run(7, 2, 3).trap(), (TrapKind::IndexOutOfBounds, "elem", 0));
    assert_eq!(
        run(7, 2, -1).trap(),
        (TrapKind::IndexOutOfBounds, "elem", 0)
    );
    // The engine's entry is depth 1: no call fits under a limit of 1.
    let out = check_with(&module, "main", &args(7, 2, 1), |c| {
        c.max_call_depth(1);
    });
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "main", 2));
    // main's 8 i64 registers fit, quot's 2 more do not.
    let out = check_with(&module, "main", &args(7, 2, 1), |c| {
        c.stack_slots(9, 16, 16);
    });
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "main", 2));
}

/// Recursion through every bank, unrolled by the Cranelift tier's nested
/// inlining: whichever limit binds (call depth, or one of the three
/// register stacks), every engine traps at the same call, whether that call
/// is a real one or one inlined a few levels down. The recursion cycles
/// through five functions, so the trap's function tells the depth.
const DOWN: &str = "
func d0(i, f, r) -> i          ; recurse i0 deep through d0, d1, ...
    jlei i0, 0, done
    subi i1, i0, 1
    fmov f1, f0
    rmov r1, r0
    call i1, d1, 1
    reti i1
done:
    reti i0
end

func d1(i, f, r) -> i          ; recurse i0 deep through d1, d2, ...
    jlei i0, 0, done
    subi i1, i0, 1
    fmov f1, f0
    rmov r1, r0
    call i1, d2, 1
    reti i1
done:
    reti i0
end

func d2(i, f, r) -> i          ; recurse i0 deep through d2, d3, ...
    jlei i0, 0, done
    subi i1, i0, 1
    fmov f1, f0
    rmov r1, r0
    call i1, d3, 1
    reti i1
done:
    reti i0
end

func d3(i, f, r) -> i          ; recurse i0 deep through d3, d4, ...
    jlei i0, 0, done
    subi i1, i0, 1
    fmov f1, f0
    rmov r1, r0
    call i1, d4, 1
    reti i1
done:
    reti i0
end

func d4(i, f, r) -> i          ; recurse i0 deep through d4, d0, ...
    jlei i0, 0, done
    subi i1, i0, 1
    fmov f1, f0
    rmov r1, r0
    call i1, d0, 1
    reti i1
done:
    reti i0
end

func main(i) -> i
    fconst f0, 1.5
    call i0, d0, 0
    reti i0
end
";

#[test]
fn nested_inlined_calls_trap_at_every_limit_like_real_calls() {
    let module = tierjit::bytecode::text::parse(DOWN).unwrap();
    let n = 40;
    let name = |k: usize| format!("d{}", k % 5);
    // main is depth 1; the call past depth `limit` is made at depth
    // `limit`, by d(limit - 2).
    for limit in 2..14usize {
        let out = check_with(&module, "main", &[Value::I(n)], |c| {
            c.max_call_depth(limit as u32);
        });
        let (kind, func, pc) = out.trap();
        assert_eq!(
            (kind, func, pc),
            (TrapKind::StackOverflow, &*name(limit - 2), 4),
            "depth {limit}"
        );
    }
    // main has 1 slot per bank (its call reads i0, f0 and r0); the frame
    // of the k-th call down (k = 0 for d0) ends 2 (k + 1) slots above, so
    // the first that does not fit is k = (slots - 1) / 2, called by
    // d(k - 1).
    for slots in 3..20usize {
        for bank in 0..3 {
            let mut stacks = [1024usize; 3];
            stacks[bank] = slots;
            let out = check_with(&module, "main", &[Value::I(n)], |c| {
                c.stack_slots(stacks[0], stacks[1], stacks[2]);
            });
            let (kind, func, pc) = out.trap();
            assert_eq!(
                (kind, func, pc),
                (TrapKind::StackOverflow, &*name((slots - 1) / 2 + 4), 4),
                "bank {bank}, {slots} slots"
            );
        }
    }
    let out = check_with(&module, "main", &[Value::I(n)], |c| {
        c.max_call_depth(n as u32 + 2);
    });
    assert_eq!(out.int(), 0);
}

/// `wrap` is small enough for the Cranelift tier to inline, and calls
/// `fresh`, which allocates: its calls stay real calls, made from a frame
/// that exists only in memory. Main's `r1` (in no frame slot until the
/// inlined body starts) and the array `wrap` holds across its second call
/// must survive the collections those calls trigger.
const INLINED_CALLERS: &str = "
func fresh(i) -> r
    newi r0, i0
    retr r0
end

func wrap(r, i) -> i            ; r0 = main's array, i0 = a length
    call r1, fresh, 0
    iconst i4, 42
    seti r1, i5, i4             ; r1[0] = 42 (i5 is 0)
    call r2, fresh, 0
    geti i1, r1, i5
    len i2, r2
    geti i3, r0, i5
    add i0, i1, i2
    add i0, i0, i3
    reti i0
end

func main(i, i) -> i            ; i0 = rounds, i1 = length
    call r1, fresh, 1
    call r2, fresh, 1
    rmov r3, r1                 ; swap r1 and r2: no slot holds r1's new
    rmov r1, r2                 ; array in the Cranelift tier (the calls
    rmov r2, r3                 ; wrote the slots before the swap)
    rnull r3
    iconst i4, 7
    seti r1, i3, i4             ; r1[0] = 7 (i3 is 0)
    seti r2, i3, i4             ; r2[0] = 7
    mov i2, i1
loop:
    call i4, wrap, 2            ; wrap(r2, i2): r1 must survive its calls
    add i5, i5, i4
    geti i6, r1, i3
    add i5, i5, i6
    subi i0, i0, 1
    jgti i0, 0, loop
    reti i5
end
";

#[test]
fn inlined_callees_call_collect_and_recurse_like_real_calls() {
    let module = tierjit::bytecode::text::parse(INLINED_CALLERS).unwrap();
    let out = check_with(&module, "main", &[Value::I(2000), Value::I(100)], |c| {
        c.heap_limit(64 << 10);
    });
    assert_eq!(out.int(), 2000 * (42 + 100 + 7 + 7));
    // Recursion unrolled once by inlining meets the depth limit at the same
    // call as real recursion, whatever the limit.
    let module = tierjit::bytecode::text::parse(RECURSE).unwrap();
    for limit in 1..=7 {
        let out = check_with(&module, "down", &[Value::I(5)], |c| {
            c.max_call_depth(limit);
        });
        if limit > 5 {
            assert_eq!(out.int(), 5);
        } else {
            assert_eq!(out.trap(), (TrapKind::StackOverflow, "down", 2));
        }
    }
}

#[test]
fn instance_is_usable_after_a_trap() {
    let engine = tierjit::Engine::new(tierjit::Config::new()).unwrap();
    let module = tierjit::Module::new(&engine, RECURSE).unwrap();
    let mut inst = tierjit::Instance::new(&module).unwrap();
    for _ in 0..3 {
        assert!(matches!(
            inst.call("down", &[Value::I(1 << 40)]),
            Err(tierjit::Error::Trap(_))
        ));
        assert_eq!(
            inst.call("down", &[Value::I(100)]).unwrap(),
            Some(Value::I(100))
        );
    }
}

#[test]
fn uninitialised_registers_start_at_zero() {
    let src = "func t() -> f\n i2f f1, i5\n fadd f0, f1, f3\n retf f0\nend\n\
               func u() -> i\n iconst i9, 99\n call f0, t, 0\n f2i i0, f0\n reti i9\nend";
    assert_eq!(check(src, "t", &[]).float().to_bits(), 0.0f64.to_bits());
    assert_eq!(check(src, "u", &[]).int(), 99);
}

#[test]
fn printing_matches_c() {
    let src = r#"
func main() -> none
    iconst i0, -9223372036854775808
    printi i0
    prints " \"q\"\n"
    fconst f0, -0.169075164
    printf f0, 9
    prints "|"
    fconst f1, 0.125
    printf f1, 2
    prints "|"
    fconst f2, nan
    printf f2, 3
    prints "|"
    fneg f2, f2
    printf f2, 3
    prints "|"
    fconst f3, -inf
    printf f3, 0
    prints "|"
    fconst f4, 2.5
    printf f4, 0
    prints "\n"
    ret
end"#;
    let out = check(src, "main", &[]);
    assert_eq!(
        out.output,
        "-9223372036854775808 \"q\"\n-0.169075164|0.12|nan|-nan|-inf|2\n"
    );
}
