//! The helper ALU (issue 18 item 4): unsigned division and compares, bit
//! counts, rotates, min/max, selects of every bank, extensions; `fma`,
//! `fmin`/`fmax`, rounding, `fcopysign`, `fbits`/`bitsf`. Every case runs on
//! every engine (which must agree bit for bit) and is checked against a
//! model written here, independently of the engines.

use crate::EDGE_INTS;
use crate::differential::{self, check};
use tierjit::{TrapKind, Value};

/// Quiet and signalling NaNs of both signs, with payloads.
const NANS: [u64; 5] = [
    0x7ff8_0000_0000_0000,
    0xfff8_0000_0000_0000,
    0x7ff4_0000_0000_0001,
    0xfff0_0000_dead_beef,
    0x7ff8_0000_0000_0123,
];

/// The quiet bit of an f64 NaN.
const QUIET: u64 = 1 << 51;

fn ints() -> Vec<i64> {
    EDGE_INTS
        .iter()
        .copied()
        .chain([
            0x80,
            0xff,
            0x100,
            0x7fff,
            0x8000,
            0xffff,
            0x8000_0000,
            0xffff_ffff,
        ])
        .chain([
            -0x81,
            -0x8001,
            -0x8000_0001,
            1 << 63 >> 1,
            u64::MAX as i64 - 5,
        ])
        .collect()
}

fn floats() -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        1.0,
        -1.0,
        0.1,
        10.0,
        1e300,
        -1e300,
        4503599627370497.0,
        -4503599627370495.5,
        0.49999999999999994,
        5e-324,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    v.extend(NANS.map(f64::from_bits));
    v
}

/// The unsigned i64 ops' model.
fn unsigned_model(op: &str, x: i64, y: i64) -> Result<i64, TrapKind> {
    let (ux, uy) = (x as u64, y as u64);
    Ok(match op {
        "udiv" | "urem" if uy == 0 => return Err(TrapKind::DivisionByZero),
        "udiv" => (ux / uy) as i64,
        "urem" => (ux % uy) as i64,
        "ult" => (ux < uy) as i64,
        "ule" => (ux <= uy) as i64,
        "ugt" => (ux > uy) as i64,
        "uge" => (ux >= uy) as i64,
        "rotl" => ux.rotate_left((uy % 64) as u32) as i64,
        "rotr" => ux.rotate_right((uy % 64) as u32) as i64,
        "min" => x.min(y),
        "max" => x.max(y),
        _ => unreachable!("{op}"),
    })
}

#[test]
fn unsigned_division_compares_rotates_min_max() {
    let vals = ints();
    for op in [
        "udiv", "urem", "ult", "ule", "ugt", "uge", "rotl", "rotr", "min", "max",
    ] {
        let src = format!("func t(i, i) -> i\n {op} i0, i0, i1\n reti i0\nend\n");
        let module = tierjit::bytecode::text::parse(&src).unwrap();
        for &x in &vals {
            for &y in &vals {
                let out = differential::check_module(&module, "t", &[Value::I(x), Value::I(y)]);
                match unsigned_model(op, x, y) {
                    Ok(v) => assert_eq!(out.int(), v, "{op} {x} {y}"),
                    Err(k) => assert_eq!(out.trap(), (k, "t", 0), "{op} {x} {y}"),
                }
            }
        }
    }
}

#[test]
fn unsigned_division_by_zero_traps_at_its_op() {
    for op in ["udiv", "urem"] {
        let src = format!("func t(i, i) -> i\n addi i0, i0, 1\n {op} i0, i0, i1\n reti i0\nend\n");
        for x in [0, -1, i64::MIN, 7] {
            let out = check(&src, "t", &[Value::I(x), Value::I(0)]);
            assert_eq!(out.trap(), (TrapKind::DivisionByZero, "t", 1), "{op} {x}");
        }
        // Divisors above i64::MAX as unsigned.
        let big = check(&src, "t", &[Value::I(-2), Value::I(i64::MIN)]);
        let want = if op == "udiv" { 1 } else { i64::MAX };
        assert_eq!(big.int(), want, "{op} 2^64-1 by 2^63");
    }
}

#[test]
fn rotates_by_every_kind_of_count() {
    let counts = [0, 1, 63, 64, 65, -1, -64, i64::MIN, 127];
    for &x in &ints() {
        for &n in &counts {
            for op in ["rotl", "rotr"] {
                let src = format!("func t(i, i) -> i\n {op} i0, i0, i1\n reti i0\nend\n");
                let out = check(&src, "t", &[Value::I(x), Value::I(n)]);
                assert_eq!(out.int(), unsigned_model(op, x, n).unwrap(), "{op} {x} {n}");
            }
        }
        for imm in [0, 1, 13, 63, 64, 65, -1, -63, 32767, -32768] {
            let src = format!("func t(i) -> i\n rotli i0, i0, {imm}\n reti i0\nend\n");
            let want = x.rotate_left((imm as i64).rem_euclid(64) as u32);
            assert_eq!(
                check(&src, "t", &[Value::I(x)]).int(),
                want,
                "rotli {x} {imm}"
            );
        }
    }
}

#[test]
fn fused_unsigned_branches() {
    let vals = ints();
    for c in ["lt", "le", "gt", "ge"] {
        let src = format!(
            "func t(i, i) -> i\n ju{c} i0, i1, yes\n iconst i0, 0\n reti i0\nyes:\n iconst i0, 1\n reti i0\nend"
        );
        let module = tierjit::bytecode::text::parse(&src).unwrap();
        for &x in &vals {
            for &y in &vals {
                let out = differential::check_module(&module, "t", &[Value::I(x), Value::I(y)]);
                let want = unsigned_model(&format!("u{c}"), x, y).unwrap();
                assert_eq!(out.int(), want, "ju{c} {x} {y}");
            }
        }
    }
    // In a loop: count down an unsigned index past zero (it wraps above
    // every bound and leaves).
    let down = "
func t(i) -> i
    iconst i1, 0
    iconst i2, 1000
again:
    addi i1, i1, 1
    subi i0, i0, 1
    jult i0, i2, again
    reti i1
end";
    assert_eq!(check(down, "t", &[Value::I(5)]).int(), 6);
}

#[test]
fn bit_counts_of_edge_values() {
    for &x in &ints() {
        for (op, want) in [
            ("popcnt", x.count_ones()),
            ("clz", x.leading_zeros()),
            ("ctz", x.trailing_zeros()),
        ] {
            let src = format!("func t(i) -> i\n {op} i0, i0\n reti i0\nend\n");
            assert_eq!(
                check(&src, "t", &[Value::I(x)]).int(),
                i64::from(want),
                "{op} {x}"
            );
        }
    }
    let at = |op: &str, x: i64| {
        check(
            &format!("func t(i) -> i\n {op} i1, i0\n reti i1\nend\n"),
            "t",
            &[Value::I(x)],
        )
        .int()
    };
    assert_eq!([at("clz", 0), at("ctz", 0), at("popcnt", 0)], [64, 64, 0]);
    assert_eq!([at("clz", -1), at("ctz", -1), at("popcnt", -1)], [0, 0, 64]);
    assert_eq!(
        [
            at("clz", i64::MIN),
            at("ctz", i64::MIN),
            at("popcnt", i64::MIN)
        ],
        [0, 63, 1]
    );
}

#[test]
fn extensions_of_boundary_values() {
    for &x in &ints() {
        for (op, want) in [
            ("sext8", x as i8 as i64),
            ("sext16", x as i16 as i64),
            ("sext32", x as i32 as i64),
            ("zext8", x as u8 as i64),
            ("zext16", x as u16 as i64),
            ("zext32", x as u32 as i64),
        ] {
            let src = format!("func t(i) -> i\n {op} i0, i0\n reti i0\nend\n");
            assert_eq!(check(&src, "t", &[Value::I(x)]).int(), want, "{op} {x}");
        }
    }
}

#[test]
fn selects_of_every_bank() {
    let conds = [0, 1, -1, i64::MIN, 1 << 32];
    for &c in &conds {
        let taken = c != 0;
        let int = check(
            "func t(i, i, i) -> i\n sel i0, i1, i2\n reti i0\nend",
            "t",
            &[Value::I(10), Value::I(20), Value::I(c)],
        );
        assert_eq!(int.int(), if taken { 20 } else { 10 }, "sel {c}");
        // Bits unchanged, a signalling NaN included.
        for bits in NANS.into_iter().chain([(-0.0f64).to_bits(), 1]) {
            let out = check(
                "func t(f, f, i) -> f\n fsel f0, f1, i0\n retf f0\nend",
                "t",
                &[Value::F(2.5), Value::F(f64::from_bits(bits)), Value::I(c)],
            );
            let want = if taken { bits } else { 2.5f64.to_bits() };
            assert_eq!(out.float().to_bits(), want, "fsel {c} {bits:#x}");
        }
        // Arrays of lengths 3 and 5 told apart by their length; a null.
        let refs = check(
            "func t(i) -> i
    iconst i1, 3
    newi r0, i1
    iconst i1, 5
    newi r1, i1
    rsel r0, r1, i0
    len i2, r0
    rnull r2
    rsel r1, r2, i0
    rnull r3
    rsel r3, r0, i0
    len i3, r3
    add i2, i2, i3
    reti i2
end",
            "t",
            &[Value::I(c)],
        );
        // Taken: r0 = the 5-array (5), r3 = it (5); else r0 stays (3) and
        // r3 stays null: `len` of null traps.
        if taken {
            assert_eq!(refs.int(), 10, "rsel {c}");
        } else {
            assert_eq!(refs.trap(), (TrapKind::NullReference, "t", 10), "rsel {c}");
        }
    }
    // In a loop whose f64 registers stay across the header: the running
    // maximum of 0.5 * k mod 7 by compare and select, and a sum beside it.
    let src = "
func t(i) -> f
    fconst f2, 0.5
    iconst i3, 7
again:
    rem i4, i1, i3
    i2f f1, i4
    fmul f1, f1, f2
    fadd f3, f3, f1
    fgt i2, f1, f0
    fsel f0, f1, i2
    addi i1, i1, 1
    jlt i1, i0, again
    fadd f0, f0, f3
    retf f0
end";
    let (mut best, mut sum) = (0.0f64, 0.0f64);
    for k in 0..100i64 {
        let v = (k % 7) as f64 * 0.5;
        sum += v;
        if v > best {
            best = v;
        }
    }
    let got = check(src, "t", &[Value::I(100)]).float();
    assert_eq!(got.to_bits(), (best + sum).to_bits());
    // A select skipped by a branch, and one that is its own source.
    let src = "
func t(i, i) -> i
    iconst i2, 7
    jz i1, skip
    sel i0, i2, i1
skip:
    sel i0, i0, i1
    reti i0
end";
    for (x, c, want) in [(1, 0, 1), (1, 1, 7), (1, -1, 7)] {
        assert_eq!(check(src, "t", &[Value::I(x), Value::I(c)]).int(), want);
    }
}

/// IEEE 754-2019 `minimum` (`max` false) or `maximum`, NaN as "some NaN".
fn min_max_model(max: bool, x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == y {
        // Equal but for the sign of zeros: -0.0 is the smaller.
        let x_first = if max {
            x.is_sign_positive()
        } else {
            x.is_sign_negative()
        };
        if x_first { x } else { y }
    } else if (x < y) ^ max {
        x
    } else {
        y
    }
}

fn same_or_both_nan(got: f64, want: f64) -> bool {
    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
}

#[test]
fn fmin_fmax_order_zeros_and_spread_nans() {
    let vals = floats();
    for (op, max) in [("fmin", false), ("fmax", true)] {
        let src = format!("func t(f, f) -> f\n {op} f0, f0, f1\n retf f0\nend");
        let module = tierjit::bytecode::text::parse(&src).unwrap();
        for &x in &vals {
            for &y in &vals {
                let got =
                    differential::check_module(&module, "t", &[Value::F(x), Value::F(y)]).float();
                let want = min_max_model(max, x, y);
                assert!(same_or_both_nan(got, want), "{op} {x:?} {y:?}: {got:?}");
            }
        }
    }
    let zero = |op: &str, x: f64, y: f64| {
        let src = format!("func t(f, f) -> f\n {op} f0, f0, f1\n retf f0\nend");
        check(&src, "t", &[Value::F(x), Value::F(y)])
            .float()
            .to_bits()
    };
    let (p, n) = (0.0f64.to_bits(), (-0.0f64).to_bits());
    assert_eq!([zero("fmin", 0.0, -0.0), zero("fmin", -0.0, 0.0)], [n, n]);
    assert_eq!([zero("fmax", 0.0, -0.0), zero("fmax", -0.0, 0.0)], [p, p]);
    // A NaN operand gives exactly the NaN `fadd` gives on the same ISA.
    let same_nan = "
func t(f, f) -> i
    fmin f2, f0, f1
    fmax f3, f0, f1
    fadd f4, f0, f1
    fbits i0, f2
    fbits i1, f3
    fbits i2, f4
    eq i0, i0, i2
    eq i1, i1, i2
    and i0, i0, i1
    reti i0
end";
    for a in NANS.map(f64::from_bits) {
        for b in [1.0, -0.0, f64::INFINITY]
            .into_iter()
            .chain(NANS.map(f64::from_bits))
        {
            for (x, y) in [(a, b), (b, a)] {
                let out = check(same_nan, "t", &[Value::F(x), Value::F(y)]);
                assert_eq!(out.int(), 1, "{:#x} {:#x}", x.to_bits(), y.to_bits());
            }
        }
    }
}

#[test]
fn fma_rounds_once() {
    let fma = |a: f64, b: f64, c: f64| {
        check(
            "func t(f, f, f) -> f\n fma f0, f1, f2\n retf f0\nend",
            "t",
            &[Value::F(a), Value::F(b), Value::F(c)],
        )
        .float()
    };
    // 0.1 * 10 is 1 + 2^-54 exactly: fused, -1 leaves 2^-54; mul + add, 0.
    assert_eq!(fma(-1.0, 0.1, 10.0), 2f64.powi(-54));
    // (1 + 2^-30)(1 - 2^-30) = 1 - 2^-60.
    let e = 2f64.powi(-30);
    assert_eq!(fma(-1.0, 1.0 + e, 1.0 - e), -2f64.powi(-60));
    assert_eq!(fma(0.0, 1.0 + e, 1.0 - e), 1.0);
    // A product beyond the range is not rounded to infinity first.
    assert_eq!(fma(-f64::MAX, f64::MAX, 2.0), f64::MAX);
    // Signed zeros: -0 * 0 + -0 is -0; + +0 is +0.
    assert_eq!(fma(-0.0, -0.0, 0.0).to_bits(), (-0.0f64).to_bits());
    assert_eq!(fma(0.0, -0.0, 0.0).to_bits(), 0);
    // Invalid: inf * 0, inf - inf.
    assert!(fma(1.0, f64::INFINITY, 0.0).is_nan());
    assert!(fma(f64::NEG_INFINITY, f64::INFINITY, 1.0).is_nan());
    assert_eq!(fma(f64::INFINITY, 2.0, 3.0), f64::INFINITY);
}

#[test]
fn fma_over_edge_values() {
    let module =
        tierjit::bytecode::text::parse("func t(f, f, f) -> f\n fma f0, f1, f2\n retf f0\nend")
            .unwrap();
    let vals: Vec<f64> = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        10.0,
        1e300,
        5e-324,
        f64::INFINITY,
    ]
    .into_iter()
    .chain([f64::NEG_INFINITY, 1.0 + 2f64.powi(-30)])
    .chain([NANS[0], NANS[2], NANS[3]].map(f64::from_bits))
    .collect();
    for &a in &vals {
        for &b in &vals {
            for &c in &vals {
                let args = [Value::F(a), Value::F(b), Value::F(c)];
                let got = differential::check_module(&module, "t", &args).float();
                let want = b.mul_add(c, a);
                assert!(
                    same_or_both_nan(got, want),
                    "fma {a:?} {b:?} {c:?}: {got:?}"
                );
            }
        }
    }
}

#[test]
fn fma_accumulates_in_a_loop() {
    // sum of k * 0.1 for k in 0..n, fused, as Rust's mul_add does.
    let src = "
func t(i) -> f
    fconst f1, 0.1
again:
    i2f f2, i1
    fma f0, f2, f1
    addi i1, i1, 1
    jlt i1, i0, again
    retf f0
end";
    let mut want = 0.0f64;
    for k in 0..1000 {
        want = (k as f64).mul_add(0.1, want);
    }
    assert_eq!(
        check(src, "t", &[Value::I(1000)]).float().to_bits(),
        want.to_bits()
    );
}

#[test]
fn rounding_ops_round_halves_and_quiet_nans() {
    let vals = floats();
    for (op, model) in [
        ("fceil", f64::ceil as fn(f64) -> f64),
        ("ftrunc", f64::trunc),
        ("fround", f64::round_ties_even),
    ] {
        let src = format!("func t(f) -> f\n {op} f0, f0\n retf f0\nend");
        for &x in &vals {
            let got = check(&src, "t", &[Value::F(x)]).float().to_bits();
            // A NaN comes back quieted, its sign and payload kept.
            let want = if x.is_nan() {
                x.to_bits() | QUIET
            } else {
                model(x).to_bits()
            };
            assert_eq!(got, want, "{op} {x:?}");
        }
    }
    let round = |x: f64| {
        check(
            "func t(f) -> f\n fround f0, f0\n retf f0\nend",
            "t",
            &[Value::F(x)],
        )
        .float()
        .to_bits()
    };
    let halves = [0.5, -0.5, 1.5, -1.5, 2.5, -2.5].map(round);
    let want = [0.0, -0.0, 2.0, -2.0, 2.0, -2.0].map(f64::to_bits);
    assert_eq!(halves, want);
}

#[test]
fn copysign_and_bits_keep_nan_payloads() {
    let vals = floats();
    for &x in &vals {
        for &y in &vals {
            let got = check(
                "func t(f, f) -> f\n fcopysign f0, f0, f1\n retf f0\nend",
                "t",
                &[Value::F(x), Value::F(y)],
            )
            .float()
            .to_bits();
            let want = (x.to_bits() & !(1 << 63)) | (y.to_bits() & (1 << 63));
            assert_eq!(got, want, "fcopysign {x:?} {y:?}");
        }
    }
    // fbits, bitsf, and both ways round.
    for bits in NANS
        .into_iter()
        .chain([0, 1 << 63, 1, u64::MAX, 0x7ff0 << 48])
    {
        let x = f64::from_bits(bits);
        let fbits = check(
            "func t(f) -> i\n fbits i0, f0\n reti i0\nend",
            "t",
            &[Value::F(x)],
        );
        assert_eq!(fbits.int() as u64, bits, "fbits {bits:#x}");
        let bitsf = check(
            "func t(i) -> f\n bitsf f0, i0\n retf f0\nend",
            "t",
            &[Value::I(bits as i64)],
        );
        assert_eq!(bitsf.float().to_bits(), bits, "bitsf {bits:#x}");
        let round = check(
            "func t(i) -> i\n bitsf f0, i0\n fmov f1, f0\n fbits i1, f1\n reti i1\nend",
            "t",
            &[Value::I(bits as i64)],
        );
        assert_eq!(round.int() as u64, bits, "bitsf then fbits {bits:#x}");
    }
}
