//! Integer arithmetic, compares and branches.

use super::{
    EDGE, Frame, IMMS, Jit, branch_kernels, gi, kernel, kernel_with, run, taken, variant_masm,
    with_operands,
};
use crate::bytecode::Bank;
use crate::template::isa::test_plan::{ALU_OPS, CONDS, GPRS, TestIsa, pairs, triples};
use crate::template::masm::{AluOp, BitCount, Cond, Extension, Gpr, MacroAssembler};

pub fn alu_model(op: AluOp, x: i64, y: i64) -> i64 {
    match op {
        AluOp::Add => x.wrapping_add(y),
        AluOp::Sub => x.wrapping_sub(y),
        AluOp::Mul => x.wrapping_mul(y),
        AluOp::And => x & y,
        AluOp::Or => x | y,
        AluOp::Xor => x ^ y,
        AluOp::Shl => x.wrapping_shl(y as u32),
        AluOp::Sar => x.wrapping_shr(y as u32),
        AluOp::Shr => (x as u64).wrapping_shr(y as u32) as i64,
        AluOp::Rotl => x.rotate_left((y & 63) as u32),
        AluOp::Rotr => x.rotate_right((y & 63) as u32),
    }
}

pub fn cond_model(c: Cond, x: i64, y: i64) -> bool {
    let (ux, uy) = (x as u64, y as u64);
    match c {
        Cond::Eq => x == y,
        Cond::Ne => x != y,
        Cond::Lt => x < y,
        Cond::Le => x <= y,
        Cond::Gt => x > y,
        Cond::Ge => x >= y,
        Cond::Ult => ux < uy,
        Cond::Ule => ux <= uy,
        Cond::Ugt => ux > uy,
        Cond::Uge => ux >= uy,
    }
}

/// The edge values and every immediate with its neighbours: the values an
/// immediate form is compared against.
fn imm_operands() -> Vec<i64> {
    let mut vals: Vec<i64> = EDGE.to_vec();
    for imm in IMMS {
        let v = i64::from(imm);
        vals.extend([v, v.wrapping_sub(1), v.wrapping_add(1)]);
    }
    vals
}

pub fn alu_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    for op in ALU_OPS {
        for (d, a, b) in triples(&GPRS) {
            let jit = kernel::<I>(|m| m.alu(op, d, a, b));
            for (x, y) in pairs(&EDGE) {
                let regs = with_operands(gi(a), x, gi(b), y);
                let mut want = regs;
                want.t[gi(d)] = alu_model(op, regs.t[gi(a)], regs.t[gi(b)]);
                assert_eq!(
                    run(&jit, &mut fr, regs),
                    want,
                    "alu({op:?}, {d:?}, {a:?}, {b:?}) {x} {y}"
                );
            }
        }
    }
}

pub fn alu_imm_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    for op in ALU_OPS {
        for (d, a) in pairs(&GPRS) {
            for imm in IMMS {
                let jit = kernel::<I>(|m| m.alu_imm(op, d, a, imm));
                for x in EDGE {
                    let regs = with_operands(gi(a), x, gi(a), x);
                    let mut want = regs;
                    want.t[gi(d)] = alu_model(op, x, i64::from(imm));
                    assert_eq!(
                        run(&jit, &mut fr, regs),
                        want,
                        "alu_imm({op:?}, {d:?}, {a:?}, {imm}) {x}"
                    );
                }
            }
        }
    }
}

pub fn neg_not_mov_match_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    for (d, s) in pairs(&GPRS) {
        let neg = kernel::<I>(|m| m.neg(d, s));
        let not = kernel::<I>(|m| m.not(d, s));
        // `d` holds something else first.
        let mov = kernel::<I>(|m| {
            if d != s {
                m.load_imm(d, 77);
            }
            m.mov(d, s)
        });
        for x in EDGE {
            let regs = with_operands(gi(s), x, gi(s), x);
            for (jit, v) in [(&neg, x.wrapping_neg()), (&not, !x), (&mov, x)] {
                let mut want = regs;
                want.t[gi(d)] = v;
                assert_eq!(run(jit, &mut fr, regs), want, "{d:?} {s:?} {x}");
            }
        }
    }
}

/// What the overflow path of a tested `sdiv` leaves in its result.
const OVERFLOWED: i64 = 0x0BAD;

pub fn sdiv_srem_match_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    for (d, a, b) in triples(&GPRS) {
        // An overflow leaves OVERFLOWED in `d`.
        let div = kernel::<I>(|m| {
            let (overflow, done) = (m.new_label(), m.new_label());
            m.sdiv(d, a, b, overflow);
            m.jump(done);
            m.bind(overflow);
            m.load_imm(d, OVERFLOWED);
            m.bind(done);
        });
        let rem = kernel::<I>(|m| m.srem(d, a, b));
        for (x, y) in pairs(&EDGE) {
            let regs = with_operands(gi(a), x, gi(b), y);
            let (x, y) = (regs.t[gi(a)], regs.t[gi(b)]);
            if y == 0 {
                continue; // the template rules this out
            }
            let quotient = x.checked_div(y).unwrap_or(OVERFLOWED);
            for (jit, v) in [(&div, quotient), (&rem, x.wrapping_rem(y))] {
                let mut want = regs;
                want.t[gi(d)] = v;
                assert_eq!(run(jit, &mut fr, regs), want, "{d:?} {a:?} {b:?} {x} {y}");
            }
        }
    }
}

pub fn mul_high_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    for (d, a, b) in triples(&GPRS) {
        let jit = kernel::<I>(|m| m.mul_high(d, a, b));
        for (x, y) in pairs(&EDGE) {
            let regs = with_operands(gi(a), x, gi(b), y);
            let (x, y) = (regs.t[gi(a)], regs.t[gi(b)]);
            let mut want = regs;
            want.t[gi(d)] = ((i128::from(x) * i128::from(y)) >> 64) as i64;
            assert_eq!(run(&jit, &mut fr, regs), want, "{d:?} {a:?} {b:?} {x} {y}");
        }
    }
}

pub fn set_cond_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    for c in CONDS {
        for (d, a, b) in triples(&GPRS) {
            let jit = kernel::<I>(|m| m.set_cond(c, d, a, b));
            for (x, y) in pairs(&EDGE) {
                let regs = with_operands(gi(a), x, gi(b), y);
                let mut want = regs;
                want.t[gi(d)] = cond_model(c, regs.t[gi(a)], regs.t[gi(b)]) as i64;
                assert_eq!(
                    run(&jit, &mut fr, regs),
                    want,
                    "set_cond({c:?}, {d:?}, {a:?}, {b:?}) {x} {y}"
                );
            }
        }
    }
}

pub fn set_cond_imm_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let vals = imm_operands();
    for c in CONDS {
        for (d, a) in pairs(&GPRS) {
            for imm in IMMS {
                let jit = kernel::<I>(|m| m.set_cond_imm(c, d, a, imm));
                for &x in &vals {
                    let regs = with_operands(gi(a), x, gi(a), x);
                    let mut want = regs;
                    want.t[gi(d)] = cond_model(c, x, i64::from(imm)) as i64;
                    assert_eq!(
                        run(&jit, &mut fr, regs),
                        want,
                        "set_cond_imm({c:?}, {d:?}, {a:?}, {imm}) {x}"
                    );
                }
            }
        }
    }
}

pub fn branch_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    for c in CONDS {
        for (a, b) in pairs(&GPRS) {
            for jit in branch_kernels::<I>(|m, l| m.branch(c, a, b, l)) {
                for (x, y) in pairs(&EDGE) {
                    let regs = with_operands(gi(a), x, gi(b), y);
                    let want = cond_model(c, regs.t[gi(a)], regs.t[gi(b)]);
                    assert_eq!(
                        taken(&jit, &mut fr, regs),
                        want,
                        "branch({c:?}, {a:?}, {b:?}) {x} {y}"
                    );
                }
            }
        }
    }
}

pub fn branch_imm_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let vals = imm_operands();
    for c in CONDS {
        for a in GPRS {
            for imm in IMMS {
                for jit in branch_kernels::<I>(|m, l| m.branch_imm(c, a, imm, l)) {
                    for &x in &vals {
                        let regs = with_operands(gi(a), x, gi(a), x);
                        let want = cond_model(c, x, i64::from(imm));
                        assert_eq!(
                            taken(&jit, &mut fr, regs),
                            want,
                            "branch_imm({c:?}, {a:?}, {imm}) {x}"
                        );
                    }
                }
            }
        }
    }
}

/// `jump_table` over cases before and after it, a label named twice, and
/// the default: each path returns its own status and keeps the index
/// register as it was.
pub fn jump_table_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    // Case k of a table of `n`: which status it returns (1: default).
    let cases: [&[i64]; 5] = [&[], &[10], &[10, 11, 10, 12], &[11; 70], &[12; 4097]];
    for statuses in cases {
        for g in GPRS {
            let jit = Jit::build::<I>(|m| {
                let (start, back, end, default) =
                    (m.new_label(), m.new_label(), m.new_label(), m.new_label());
                let (case0, case2) = (m.new_label(), m.new_label());
                let path = |m: &mut I::Masm, label, status| {
                    m.bind(label);
                    m.store_slot(Bank::I, 6, g);
                    m.load_imm(Gpr::T0, status);
                    m.jump(end);
                };
                m.jump(start);
                path(m, back, 11);
                m.bind(start);
                m.load_slot(g, Bank::I, 0);
                let targets: Vec<_> = statuses
                    .iter()
                    .map(|s| match s {
                        10 => case0,
                        11 => back,
                        _ => case2,
                    })
                    .collect();
                m.jump_table(g, &targets, default);
                path(m, case0, 10);
                path(m, default, 1);
                path(m, case2, 12);
                m.bind(end);
            });
            let mut values: Vec<i64> = (-2..75).chain(4094..4100).collect();
            values.extend(EDGE);
            for v in values {
                fr.i[0] = v;
                let want = usize::try_from(v)
                    .ok()
                    .and_then(|k| statuses.get(k))
                    .copied()
                    .unwrap_or(1);
                assert_eq!(
                    i64::from(jit.call(&mut fr)),
                    want,
                    "jump_table({g:?}, {} cases) {v}",
                    statuses.len()
                );
                assert_eq!(fr.i[6], v, "jump_table changed its index register");
            }
        }
    }
}

pub fn backward_branches_loop<I: TestIsa>() {
    // T0 = 0; T1 = 10; loop: T0 += T1; T1 -= 1; if T1 != 0 goto loop.
    for g in [Gpr::T1, Gpr::T2] {
        let jit = Jit::build::<I>(|m| {
            m.load_imm(Gpr::T0, 0);
            m.load_imm(g, 10);
            let top = m.new_label();
            m.bind(top);
            m.alu(AluOp::Add, Gpr::T0, Gpr::T0, g);
            m.alu_imm(AluOp::Sub, g, g, 1);
            m.branch_imm(Cond::Ne, g, 0, top);
        });
        assert_eq!(jit.call(&mut Frame::new()), 55);
    }
}

/// Conditional branches over more than 1 MiB (beyond aarch64's `b.cond`).
pub fn far_branches_execute<I: TestIsa>() {
    const PAD: usize = 300_000;
    let mut fr = Frame::new();
    let forward = Jit::build::<I>(|m| {
        let taken = m.new_label();
        let end = m.new_label();
        m.load_slot(Gpr::T1, Bank::I, 0);
        m.branch_imm(Cond::Lt, Gpr::T1, 10, taken);
        m.load_imm(Gpr::T0, 0);
        m.jump(end);
        for _ in 0..PAD {
            m.load_imm(Gpr::T2, 0);
        }
        m.bind(taken);
        m.load_imm(Gpr::T0, 1);
        m.bind(end);
    });
    let backward = Jit::build::<I>(|m| {
        let test = m.new_label();
        let taken = m.new_label();
        let end = m.new_label();
        m.load_slot(Gpr::T1, Bank::I, 0);
        m.jump(test);
        m.bind(taken);
        m.load_imm(Gpr::T0, 1);
        m.jump(end);
        for _ in 0..PAD {
            m.load_imm(Gpr::T2, 0);
        }
        m.bind(test);
        m.branch_imm(Cond::Lt, Gpr::T1, 10, taken);
        m.load_imm(Gpr::T0, 0);
        m.bind(end);
    });
    for jit in [&forward, &backward] {
        for (a, want) in [(9, 1), (10, 0), (-5, 1), (i64::MAX, 0)] {
            fr.i[0] = a;
            assert_eq!(jit.call(&mut fr), want, "{a}");
        }
    }
}

pub fn udiv_urem_match_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    for (d, a, b) in triples(&GPRS) {
        let div = kernel::<I>(|m| m.udiv(d, a, b));
        let rem = kernel::<I>(|m| m.urem(d, a, b));
        for (x, y) in pairs(&EDGE) {
            let regs = with_operands(gi(a), x, gi(b), y);
            let (x, y) = (regs.t[gi(a)] as u64, regs.t[gi(b)] as u64);
            if y == 0 {
                continue;
            }
            for (jit, v) in [(&div, x / y), (&rem, x % y)] {
                let mut want = regs;
                want.t[gi(d)] = v as i64;
                assert_eq!(run(jit, &mut fr, regs), want, "{d:?} {a:?} {b:?} {x} {y}");
            }
        }
    }
}

pub fn bit_count_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let vals: Vec<i64> = EDGE
        .into_iter()
        .chain((0..64).map(|k| 1i64 << k))
        .chain((0..64).map(|k| -1i64 << k))
        .collect();
    for (variant, _) in I::feature_variants() {
        for op in BitCount::ALL {
            for (d, s) in pairs(&GPRS) {
                let jit = kernel_with::<I>(variant_masm::<I>(variant), |m| m.bit_count(op, d, s));
                for &x in &vals {
                    let regs = with_operands(gi(s), x, gi(s), x);
                    let mut want = regs;
                    want.t[gi(d)] = op.apply(x);
                    assert_eq!(
                        run(&jit, &mut fr, regs),
                        want,
                        "bit_count({op:?}, {d:?}, {s:?}) {variant} {x:#x}"
                    );
                }
            }
        }
    }
}

pub fn extend_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    let vals: Vec<i64> = EDGE
        .into_iter()
        .chain([
            0x80,
            0xff,
            0x7f,
            0x8000,
            0xffff,
            0x7fff,
            0x8000_0000,
            0xffff_ffff,
        ])
        .chain([0x7fff_ffff, -0x81, -0x8001, -0x8000_0001])
        .collect();
    for ext in Extension::ALL {
        for (d, s) in pairs(&GPRS) {
            let jit = kernel::<I>(|m| m.extend(ext, d, s));
            for &x in &vals {
                let regs = with_operands(gi(s), x, gi(s), x);
                let mut want = regs;
                want.t[gi(d)] = ext.apply(x);
                assert_eq!(
                    run(&jit, &mut fr, regs),
                    want,
                    "extend({ext:?}, {d:?}, {s:?}) {x}"
                );
            }
        }
    }
}

pub fn select_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    for c in CONDS {
        for (d, a, b) in triples(&GPRS) {
            let jit = kernel::<I>(|m| m.select(c, d, a, b));
            for (x, y) in pairs(&EDGE) {
                let regs = with_operands(gi(a), x, gi(b), y);
                let (x, y) = (regs.t[gi(a)], regs.t[gi(b)]);
                let mut want = regs;
                want.t[gi(d)] = if cond_model(c, x, y) { x } else { y };
                assert_eq!(
                    run(&jit, &mut fr, regs),
                    want,
                    "select({c:?}, {d:?}, {a:?}, {b:?}) {x} {y}"
                );
            }
        }
    }
}

pub fn move_if_nonzero_matches_rust<I: TestIsa>() {
    let mut fr = Frame::new();
    for (d, s, t) in triples(&GPRS) {
        let jit = kernel::<I>(|m| m.move_if_nonzero(d, s, t));
        for x in EDGE {
            for test in [0, 1, -1, i64::MIN, 1 << 32] {
                let regs = with_operands(gi(s), x, gi(t), test);
                let mut want = regs;
                if regs.t[gi(t)] != 0 {
                    want.t[gi(d)] = regs.t[gi(s)];
                }
                assert_eq!(
                    run(&jit, &mut fr, regs),
                    want,
                    "move_if_nonzero({d:?}, {s:?}, {t:?}) {x} {test}"
                );
            }
        }
    }
}
