//! f64 arithmetic, compares, branches and conversions.

use super::{
    EDGE, Frame, Jit, SENTINELS, branch_kernels, fi, gi, kernel, kernel_with, run, taken,
    variant_masm, with_foperands, with_operands,
};
use crate::bytecode::{Bank, Cmp};
use crate::runtime::float;
use crate::template::isa::test_plan::{
    CMPS, FP_OPS, FP_UNARY, FPRS, GPRS, TestIsa, pairs, triples,
};
use crate::template::masm::{Fpr, Gpr, MacroAssembler};

/// f64 edge values: signed zeros, subnormals, the extremes, infinities, and
/// NaNs of both signs, quiet and signalling.
pub fn fedge() -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        1.5,
        -1.5,
        2.5,
        -2.5,
        0.1,
        3.0,
        1e300,
        1e308,
        -1e-300,
        -1e-310,
        5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    v.extend(
        [
            0x7ff8_0000_0000_0000,
            0xfff8_0000_0000_0000,
            0x7ff4_0000_0000_0001,
            0xfff8_0000_0000_0123,
        ]
        .map(f64::from_bits),
    );
    v
}

pub fn fp_op_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let vals = fedge();
    for op in FP_OPS {
        for (d, a, b) in triples(&FPRS) {
            let jit = kernel::<I>(|m| m.fp_op(op, d, a, b));
            for (x, y) in pairs(&vals) {
                let regs = with_foperands(fi(a), x, fi(b), y);
                let (x, y) = (f64::from_bits(regs.f[fi(a)]), f64::from_bits(regs.f[fi(b)]));
                let got = run(&jit, &mut fr, regs);
                let want = I::fp_op_model(op, x, y);
                assert!(
                    want.accepts(got.f[fi(d)]),
                    "fp_op({op:?}, {d:?}, {a:?}, {b:?}) {x} {y}: {:#x} vs {want:x?}",
                    got.f[fi(d)]
                );
                let mut others = got;
                others.f[fi(d)] = regs.f[fi(d)];
                assert_eq!(others, regs, "fp_op({op:?}, {d:?}, {a:?}, {b:?}) others");
            }
        }
    }
}

pub fn fp_unary_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let mut vals = fedge();
    vals.extend([
        -0.5,
        0.5,
        4.0,
        2.0,
        1e17 + 1.0,
        0.9999999999999999,
        -0.9999999999999999,
        4503599627370495.5,
        -4503599627370495.5,
        4503599627370497.0,
    ]);
    for op in FP_UNARY {
        for (variant, _) in I::feature_variants() {
            for (d, s) in pairs(&FPRS) {
                let jit = kernel_with::<I>(variant_masm::<I>(variant), |m| m.fp_unary(op, d, s));
                for &x in &vals {
                    let regs = with_foperands(fi(s), x, fi(s), x);
                    let got = run(&jit, &mut fr, regs);
                    let want = I::fp_unary_model(op, x, variant);
                    assert!(
                        want.accepts(got.f[fi(d)]),
                        "fp_unary({op:?}, {d:?}, {s:?}) {variant} {x}: {:#x} vs {want:x?}",
                        got.f[fi(d)]
                    );
                    let mut others = got;
                    others.f[fi(d)] = regs.f[fi(d)];
                    assert_eq!(others, regs, "fp_unary({op:?}, {d:?}, {s:?}) others");
                }
            }
        }
    }
}

pub fn fp_set_cond_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let vals = fedge();
    for c in CMPS {
        for d in GPRS {
            for (a, b) in pairs(&FPRS) {
                let jit = kernel::<I>(|m| m.fp_set_cond(c, d, a, b));
                for (x, y) in pairs(&vals) {
                    let regs = with_foperands(fi(a), x, fi(b), y);
                    let (x, y) = (f64::from_bits(regs.f[fi(a)]), f64::from_bits(regs.f[fi(b)]));
                    let mut want = regs;
                    want.t[gi(d)] = c.float(x, y) as i64;
                    assert_eq!(
                        run(&jit, &mut fr, regs),
                        want,
                        "fp_set_cond({c:?}, {d:?}, {a:?}, {b:?}) {x} {y}"
                    );
                }
            }
        }
    }
}

pub fn fp_branch_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let vals = fedge();
    for c in CMPS {
        for (a, b) in pairs(&FPRS) {
            for jit in branch_kernels::<I>(|m, l| m.fp_branch(c, a, b, l)) {
                for (x, y) in pairs(&vals) {
                    let regs = with_foperands(fi(a), x, fi(b), y);
                    let (x, y) = (f64::from_bits(regs.f[fi(a)]), f64::from_bits(regs.f[fi(b)]));
                    assert_eq!(
                        taken(&jit, &mut fr, regs),
                        c.float(x, y),
                        "fp_branch({c:?}, {a:?}, {b:?}) {x} {y}"
                    );
                }
            }
        }
    }
}

pub fn i2f_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let vals: Vec<i64> = EDGE
        .into_iter()
        .chain([(1 << 53) + 1, -(1 << 53) - 1, i64::MAX - 511, 3 << 60])
        .collect();
    for (f, g) in FPRS.iter().flat_map(|&f| GPRS.map(|g| (f, g))) {
        let jit = kernel::<I>(|m| m.i2f(f, g));
        for &x in &vals {
            let regs = with_operands(gi(g), x, gi(g), x);
            let mut want = regs;
            want.f[fi(f)] = (x as f64).to_bits();
            assert_eq!(run(&jit, &mut fr, regs), want, "i2f({f:?}, {g:?}) {x}");
        }
    }
}

/// 2^63.
const TWO63: f64 = 9_223_372_036_854_775_808.0;

pub fn f2i_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let mut vals = fedge();
    vals.extend([
        1e19,
        -1e19,
        9.2e18,
        -9.2e18,
        9.3e18,
        -9.3e18,
        // -2^63 (exactly i64::MIN), 2^63, and the doubles next to them.
        -TWO63,
        TWO63,
        f64::from_bits(TWO63.to_bits() - 1),
        -f64::from_bits(TWO63.to_bits() - 1),
        f64::from_bits(TWO63.to_bits() + 1),
        -f64::from_bits(TWO63.to_bits() + 1),
        -0.99,
        0.99,
        -1.5e-300,
        2.999,
        -2.999,
        123456789.9,
        -123456789.9,
    ]);
    for (g, f) in GPRS.iter().flat_map(|&g| FPRS.map(|f| (g, f))) {
        let jit = kernel::<I>(|m| m.f2i(g, f));
        for &x in &vals {
            let regs = with_foperands(fi(f), x, fi(f), x);
            let mut want = regs;
            want.t[gi(g)] = x as i64;
            assert_eq!(run(&jit, &mut fr, regs), want, "f2i({g:?}, {f:?}) {x}");
        }
    }
}

pub fn repeated_internal_labels_resolve_to_their_own_method<I: TestIsa>() {
    // f2i, fp_branch(Eq) and the zero_slots loop use local labels inside
    // the method: several in one function must not mix up.
    let jit = Jit::build::<I>(|m| {
        let skip = m.new_label();
        for k in 0..3u32 {
            m.load_fslot(Fpr::F1, k);
            m.f2i(Gpr::T1, Fpr::F1);
            m.store_slot(Bank::I, k, Gpr::T1);
            m.zero_slots(Bank::R, 10 * k, 10);
            m.fp_branch(Cmp::Eq, Fpr::F1, Fpr::F1, skip);
            m.store_slot(Bank::I, 10 + k, Gpr::T1);
        }
        m.bind(skip);
        m.load_imm(Gpr::T0, 0);
    });
    let mut fr = Frame::new();
    fr.f[0] = f64::NAN;
    fr.f[1] = 1e30;
    fr.f[2] = -7.5;
    fr.r.fill(1);
    fr.i.fill(-1);
    jit.call(&mut fr);
    assert_eq!(fr.i[..3], [0, i64::MAX, -1]);
    assert_eq!(fr.i[10..13], [0, -1, -1], "NaN != NaN falls through once");
    assert!(fr.r[..20].iter().all(|&x| x == 0));
    assert_eq!(fr.r[20], 1);
}

/// f64 values for the three-operand tests: fewer than [`fedge`], with the
/// zeros, infinities, NaNs (quiet, signalling, both signs) and values whose
/// fused and unfused products differ.
fn fsome() -> Vec<f64> {
    let e = 2f64.powi(-30);
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        10.0,
        1.0 + e,
        1.0 - e,
        f64::MAX,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    v.extend(
        [
            0x7ff8_0000_0000_0000,
            0xfff8_0000_0000_0123,
            0x7ff4_0000_0000_0001,
        ]
        .map(f64::from_bits),
    );
    v
}

pub fn fp_fma_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let vals = fsome();
    // dst = acc (as the template uses it) over every register triple, and
    // a distinct dst.
    let mut regs4: Vec<(Fpr, Fpr, Fpr, Fpr)> = triples(&FPRS)
        .into_iter()
        .map(|(a, l, r)| (a, a, l, r))
        .collect();
    regs4.push((Fpr::F7, Fpr::F0, Fpr::F1, Fpr::F2));
    for (variant, _) in I::feature_variants() {
        for &(d, a, l, r) in &regs4 {
            let jit = kernel_with::<I>(variant_masm::<I>(variant), |m| m.fp_fma(d, a, l, r));
            for (x, y, z) in triples(&vals) {
                let mut regs = SENTINELS;
                regs.f[fi(a)] = x.to_bits();
                regs.f[fi(l)] = y.to_bits();
                regs.f[fi(r)] = z.to_bits();
                let [x, y, z] = [a, l, r].map(|k| f64::from_bits(regs.f[fi(k)]));
                let got = run(&jit, &mut fr, regs);
                let want = float::fma(x, y, z).to_bits();
                assert_eq!(
                    got.f[fi(d)],
                    want,
                    "fp_fma({d:?}, {a:?}, {l:?}, {r:?}) {variant} {x} {y} {z}: {:#x} vs {want:#x}",
                    got.f[fi(d)]
                );
                let mut others = got;
                others.f[fi(d)] = regs.f[fi(d)];
                assert_eq!(others, regs, "fp_fma({d:?}, {a:?}, {l:?}, {r:?}) others");
            }
        }
    }
}

pub fn fp_min_max_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let vals = fedge();
    for max in [false, true] {
        for (d, a, b) in triples(&FPRS) {
            let jit = kernel::<I>(|m| m.fp_min_max(max, d, a, b));
            for (x, y) in pairs(&vals) {
                let regs = with_foperands(fi(a), x, fi(b), y);
                let (x, y) = (f64::from_bits(regs.f[fi(a)]), f64::from_bits(regs.f[fi(b)]));
                let got = run(&jit, &mut fr, regs);
                let want = if max {
                    float::maximum(x, y)
                } else {
                    float::minimum(x, y)
                };
                assert_eq!(
                    got.f[fi(d)],
                    want.to_bits(),
                    "fp_min_max({max}, {d:?}, {a:?}, {b:?}) {x} {y}"
                );
                let mut others = got;
                others.f[fi(d)] = regs.f[fi(d)];
                assert_eq!(
                    others, regs,
                    "fp_min_max({max}, {d:?}, {a:?}, {b:?}) others"
                );
            }
        }
    }
}

pub fn fp_copysign_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let vals = fedge();
    for (d, a, b) in triples(&FPRS) {
        let jit = kernel::<I>(|m| m.fp_copysign(d, a, b));
        for (x, y) in pairs(&vals) {
            let regs = with_foperands(fi(a), x, fi(b), y);
            let (x, y) = (f64::from_bits(regs.f[fi(a)]), f64::from_bits(regs.f[fi(b)]));
            let mut want = regs;
            want.f[fi(d)] = float::copysign(x, y).to_bits();
            assert_eq!(
                run(&jit, &mut fr, regs),
                want,
                "fp_copysign({d:?}, {a:?}, {b:?}) {x} {y}"
            );
        }
    }
}
