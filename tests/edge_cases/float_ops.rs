//! f64 ops: IEEE arithmetic, compares and branches with NaN, conversions
//! to and from i64.

use crate::EDGE_INTS;
use crate::differential::{self, check};
use tierjit::Value;

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
