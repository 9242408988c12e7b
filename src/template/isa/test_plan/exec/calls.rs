//! Helper calls, native calls, the prologue and the epilogue.

use super::memory::BIG;
use super::{Frame, Jit, SENTINELS, gi, with_epilogue};
use crate::bytecode::Bank;
use crate::runtime::context::offsets::CALL_DEPTH;
use crate::template::isa::test_plan::{GPRS, TestIsa};
use crate::template::masm::{AluOp, FpOp, Fpr, Gpr, HelperArg, MAX_HELPER_ARGS, MacroAssembler};

fn mix(acc: u64, x: u64) -> u64 {
    (acc ^ x)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(23)
}

extern "C" fn h0() -> u64 {
    mix(0, 0)
}

extern "C" fn h1(a: u64) -> u64 {
    mix(1, a)
}

extern "C" fn h2(a: u64, b: u64) -> u64 {
    mix(h1(a), b)
}

extern "C" fn h3(a: u64, b: u64, c: u64) -> u64 {
    mix(h2(a, b), c)
}

extern "C" fn h4(a: u64, b: u64, c: u64, d: u64) -> u64 {
    mix(h3(a, b, c), d)
}

extern "C" fn h5(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    mix(h4(a, b, c, d), e)
}

extern "C" fn h6(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    mix(h5(a, b, c, d, e), f)
}

fn helper(n: usize) -> usize {
    match n {
        0 => h0 as extern "C" fn() -> u64 as usize,
        1 => h1 as extern "C" fn(u64) -> u64 as usize,
        2 => h2 as extern "C" fn(u64, u64) -> u64 as usize,
        3 => h3 as extern "C" fn(u64, u64, u64) -> u64 as usize,
        4 => h4 as extern "C" fn(u64, u64, u64, u64) -> u64 as usize,
        5 => h5 as extern "C" fn(u64, u64, u64, u64, u64) -> u64 as usize,
        _ => h6 as extern "C" fn(u64, u64, u64, u64, u64, u64) -> u64 as usize,
    }
}

fn expected_hash(args: &[HelperArg], fr: &mut Frame) -> u64 {
    let vals: Vec<u64> = args
        .iter()
        .map(|a| match *a {
            HelperArg::Ctx => fr.ctx_addr(),
            HelperArg::Reg(g) => SENTINELS.t[gi(g)] as u64,
            HelperArg::Imm(v) => v as u64,
            HelperArg::SlotAddr(bank, slot) => fr.base(bank).wrapping_add(8 * u64::from(slot)),
        })
        .collect();
    let mut acc = match vals.len() {
        0 => return h0(),
        _ => 1,
    };
    for v in vals {
        acc = mix(acc, v);
    }
    acc
}

/// Runs each argument list as one helper call (the scratch registers
/// reloaded with the sentinels before each), 64 calls per function.
fn check_helper_calls<I: TestIsa>(lists: &[Vec<HelperArg>]) {
    for chunk in lists.chunks(64) {
        let jit = Jit::build::<I>(|m| {
            for (k, args) in chunk.iter().enumerate() {
                for (j, g) in GPRS.into_iter().enumerate() {
                    m.load_slot(g, Bank::I, j as u32);
                }
                m.call_helper(helper(args.len()), args);
                m.store_slot(Bank::I, 10 + k as u32, Gpr::T0);
            }
        });
        let mut fr = Frame::new();
        fr.i[..3].copy_from_slice(&SENTINELS.t);
        jit.call(&mut fr);
        for (k, args) in chunk.iter().enumerate() {
            assert_eq!(
                fr.i[10 + k] as u64,
                expected_hash(args, &mut fr),
                "call_helper({args:?})"
            );
        }
    }
}

pub fn call_helper_every_register_permutation<I: TestIsa>() {
    let mut lists = Vec::new();
    for n in 0..=MAX_HELPER_ARGS {
        for code in 0..3usize.pow(n as u32) {
            let mut c = code;
            lists.push(
                (0..n)
                    .map(|_| {
                        let g = GPRS[c % 3];
                        c /= 3;
                        HelperArg::Reg(g)
                    })
                    .collect(),
            );
        }
    }
    assert_eq!(lists.len(), 1093);
    check_helper_calls::<I>(&lists);
}

pub fn call_helper_mixed_arguments<I: TestIsa>() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let imms = [
        0,
        1,
        -1,
        i64::MIN,
        i64::MAX,
        u32::MAX as i64,
        i32::MIN as i64,
        0x1234_5678_9abc,
    ];
    let slots = [0, 1, 17, 4096, 65535, 1 << 28, u32::MAX];
    let mut lists = Vec::new();
    for _ in 0..2000 {
        let n = (next() % 7) as usize;
        lists.push(
            (0..n)
                .map(|_| match next() % 6 {
                    0 => HelperArg::Ctx,
                    1 => HelperArg::Imm(imms[(next() % imms.len() as u64) as usize]),
                    2 => HelperArg::SlotAddr(
                        Bank::ALL[(next() % 3) as usize],
                        slots[(next() % slots.len() as u64) as usize],
                    ),
                    k => HelperArg::Reg(GPRS[(k - 3) as usize]),
                })
                .collect(),
        );
    }
    check_helper_calls::<I>(&lists);
}

pub fn calls_see_an_aligned_stack<I: TestIsa>() {
    let probe = Jit::from_code::<I>(I::stack_probe());
    let jit = Jit::build::<I>(|m| {
        m.call_helper(probe.addr(), &[]);
        m.store_slot(Bank::I, 0, Gpr::T0);
        m.load_imm(Gpr::T2, probe.addr() as i64);
        m.call_native(Gpr::T2, [0, 0, 0]);
        m.store_slot(Bank::I, 1, Gpr::T0);
    });
    let mut fr = Frame::new();
    jit.call(&mut fr);
    assert_eq!(fr.i[0] % 16, 0, "rsp at call_helper: {:#x}", fr.i[0]);
    assert_eq!(fr.i[1] % 16, 0, "rsp at call_native: {:#x}", fr.i[1]);
}

pub fn call_native_calls_generated_code<I: TestIsa>() {
    call_native_far_frames::<I>();
    // The callee: i[1] = i[0] + 1; f[1] = f[0] * 2; r[1] = r[0] ^ 0xff;
    // ctx[1] = ctx[0]; returns 7 + i[0] (as u32).
    let callee = Jit::build::<I>(|m| {
        m.load_slot(Gpr::T0, Bank::I, 0);
        m.alu_imm(AluOp::Add, Gpr::T1, Gpr::T0, 1);
        m.store_slot(Bank::I, 1, Gpr::T1);
        m.load_fslot(Fpr::F0, 0);
        m.fp_op(FpOp::Add, Fpr::F0, Fpr::F0, Fpr::F0);
        m.store_fslot(1, Fpr::F0);
        m.load_slot(Gpr::T2, Bank::R, 0);
        m.alu_imm(AluOp::Xor, Gpr::T2, Gpr::T2, 0xff);
        m.store_slot(Bank::R, 1, Gpr::T2);
        m.load_ctx(Gpr::T1, 0);
        m.store_ctx(8, Gpr::T1);
        m.alu_imm(AluOp::Add, Gpr::T0, Gpr::T0, 7);
    });
    for g in GPRS {
        for frame in [[10u32, 20, 30], [0, 0, 0], [100, 1, 200]] {
            let jit = Jit::build::<I>(|m| {
                m.load_imm(g, callee.addr() as i64);
                m.call_native(g, frame);
                // The pinned registers survived: this store uses i_base.
                m.store_slot(Bank::I, 250, Gpr::T0);
            });
            let [fi_, ff, fr_] = frame.map(|x| x as usize);
            let mut fr = Frame::new();
            fr.ctx[0] = 0xc0ffee;
            fr.i[fi_] = 0xffff_fff0;
            fr.f[ff] = 1.25;
            fr.r[fr_] = 0x1234;
            let status = jit.call(&mut fr);
            assert_eq!(fr.i[fi_ + 1], 0xffff_fff1, "call_native({g:?}, {frame:?})");
            assert_eq!(fr.f[ff + 1], 2.5);
            assert_eq!(fr.r[fr_ + 1], 0x12cb);
            assert_eq!(fr.ctx[1], 0xc0ffee);
            assert_eq!(fr.i[250], 0xffff_fff7, "status zero-extended into T0");
            assert_eq!(status, 0xffff_fff7);
        }
    }
}

pub fn prologue_loads_the_call_depth<I: TestIsa>() {
    for g in GPRS {
        for delta in [0, 1, -1] {
            let jit = Jit::build::<I>(|m| {
                m.call_depth(g, delta);
                m.mov(Gpr::T0, g);
            });
            let mut fr = Frame::new();
            fr.ctx[CALL_DEPTH as usize / 8] = 41;
            assert_eq!(jit.call(&mut fr), (41 + delta) as u32, "{g:?} {delta}");
        }
    }
}

/// Mixes its arguments so that any permutation or lost argument shows.
extern "C" fn hash6(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    [a, b, c, d, e, f]
        .iter()
        .fold(0xCBF2_9CE4_8422_2325u64, |h, &x| {
            (h ^ x).wrapping_mul(0x1000_0000_01B3)
        })
}

extern "C" fn hash2(a: u64, b: u64) -> u64 {
    a.wrapping_mul(31) ^ b.rotate_left(7)
}

extern "C" fn forty_two() -> u64 {
    42
}

/// All permutations of `items` (Heap's algorithm).
fn permutations<T: Copy>(items: &[T]) -> Vec<Vec<T>> {
    fn go<T: Copy>(k: usize, a: &mut Vec<T>, out: &mut Vec<Vec<T>>) {
        if k <= 1 {
            out.push(a.clone());
            return;
        }
        for i in 0..k {
            go(k - 1, a, out);
            if k.is_multiple_of(2) {
                a.swap(i, k - 1);
            } else {
                a.swap(0, k - 1);
            }
        }
    }
    let mut out = Vec::new();
    go(items.len(), &mut items.to_vec(), &mut out);
    out
}

pub fn call_helper_every_argument_permutation<I: TestIsa>() {
    let args = [
        HelperArg::Reg(Gpr::T0),
        HelperArg::Reg(Gpr::T1),
        HelperArg::Reg(Gpr::T2),
        HelperArg::Ctx,
        HelperArg::Imm(-0x1234_5678_9ABC_DEF0),
        HelperArg::SlotAddr(Bank::F, 70_000),
    ];
    let perms = permutations(&args);
    assert_eq!(perms.len(), 720);
    let regs = [0x1111i64, 0x2222_0000_0000, -3];
    let code = Jit::build::<I>(|m| {
        for (k, perm) in perms.iter().enumerate() {
            for (g, v) in GPRS.into_iter().zip(regs) {
                m.load_imm(g, v);
            }
            m.call_helper(hash6 as *const () as usize, perm);
            m.store_slot(Bank::I, k as u32, Gpr::T0);
        }
        m.load_imm(Gpr::T0, 0);
    });
    let mut fr = Frame::sized(BIG + 1);
    assert_eq!(code.call(&mut fr), 0);
    let value = |a: &HelperArg, fr: &Frame| -> u64 {
        match *a {
            HelperArg::Reg(g) => regs[GPRS.iter().position(|&x| x == g).unwrap()] as u64,
            HelperArg::Ctx => fr.ctx.as_ptr() as u64,
            HelperArg::Imm(v) => v as u64,
            HelperArg::SlotAddr(Bank::I, s) => fr.i.as_ptr() as u64 + 8 * u64::from(s),
            HelperArg::SlotAddr(Bank::F, s) => fr.f.as_ptr() as u64 + 8 * u64::from(s),
            HelperArg::SlotAddr(Bank::R, s) => fr.r.as_ptr() as u64 + 8 * u64::from(s),
        }
    };
    for (k, perm) in perms.iter().enumerate() {
        let v: Vec<u64> = perm.iter().map(|a| value(a, &fr)).collect();
        assert_eq!(
            fr.i[k] as u64,
            hash6(v[0], v[1], v[2], v[3], v[4], v[5]),
            "{perm:?}"
        );
    }
}

pub fn call_helper_fewer_arguments<I: TestIsa>() {
    let code = Jit::build::<I>(|m| {
        m.call_helper(forty_two as *const () as usize, &[]);
        m.store_slot(Bank::I, 0, Gpr::T0);
        m.load_imm(Gpr::T2, 5);
        m.call_helper(
            hash2 as *const () as usize,
            &[HelperArg::Reg(Gpr::T2), HelperArg::SlotAddr(Bank::R, 4096)],
        );
        m.store_slot(Bank::I, 1, Gpr::T0);
        m.call_helper(
            hash2 as *const () as usize,
            &[HelperArg::SlotAddr(Bank::I, 3), HelperArg::Imm(i64::MIN)],
        );
        m.store_slot(Bank::I, 2, Gpr::T0);
        m.load_imm(Gpr::T0, 0);
    });
    let mut fr = Frame::sized(5000);
    assert_eq!(code.call(&mut fr), 0);
    let rb = fr.r.as_ptr() as u64;
    let ib = fr.i.as_ptr() as u64;
    assert_eq!(fr.i[0], 42);
    assert_eq!(fr.i[1] as u64, hash2(5, rb + 8 * 4096));
    assert_eq!(fr.i[2] as u64, hash2(ib + 24, i64::MIN as u64));
}

/// Frames far from the caller's bases, status upper bits dropped.
fn call_native_far_frames<I: TestIsa>() {
    // Callee: i0 += 100; f0 *= 2; r0 += 1; i1 = ctx[16]; i2 = its
    // bases' distances; status 7 (upper bits dropped).
    let callee = Jit::build::<I>(|m| {
        m.load_slot(Gpr::T0, Bank::I, 0);
        m.alu_imm(AluOp::Add, Gpr::T0, Gpr::T0, 100);
        m.store_slot(Bank::I, 0, Gpr::T0);
        m.load_fslot(Fpr::F0, 0);
        m.fp_op(FpOp::Add, Fpr::F0, Fpr::F0, Fpr::F0);
        m.store_fslot(0, Fpr::F0);
        m.load_slot(Gpr::T1, Bank::R, 0);
        m.alu_imm(AluOp::Add, Gpr::T1, Gpr::T1, 1);
        m.store_slot(Bank::R, 0, Gpr::T1);
        m.load_ctx(Gpr::T2, 16);
        m.store_slot(Bank::I, 1, Gpr::T2);
        m.load_imm(Gpr::T0, 0xFFFF_FFFF_0000_0007u64 as i64);
    });
    for (entry, frame) in [
        (Gpr::T0, [0u32, 0, 0]),
        (Gpr::T1, [3, 5, 7]),
        (Gpr::T2, [4096, 65535, 69_000]),
    ] {
        let caller = Jit::build::<I>(|m| {
            m.load_imm(entry, callee.addr() as i64);
            m.call_native(entry, frame);
            // The pinned registers survive the call.
            m.store_slot(Bank::I, 2, Gpr::T0);
            m.load_imm(Gpr::T1, -9);
            m.store_slot(Bank::R, 1, Gpr::T1);
            m.store_ctx(8, Gpr::T1);
            m.load_fimm(Fpr::F2, 0.75f64.to_bits());
            m.store_fslot(1, Fpr::F2);
            m.load_imm(Gpr::T0, 3);
        });
        let mut fr = Frame::sized(BIG);
        let [a, b, c] = frame.map(|x| x as usize);
        fr.i[a] = 1;
        fr.f[b] = 1.5;
        fr.r[c] = 10;
        fr.ctx_bytes()[16..24].copy_from_slice(&0x0DDB_BA11u64.to_le_bytes());
        assert_eq!(caller.call(&mut fr), 3);
        assert_eq!(fr.i[a], 101, "{frame:?}");
        assert_eq!(fr.f[b], 3.0, "{frame:?}");
        assert_eq!(fr.r[c], 11, "{frame:?}");
        assert_eq!(fr.i[a + 1], 0x0DDB_BA11, "{frame:?}");
        assert_eq!(fr.i[2], 7, "status zero-extended");
        assert_eq!(fr.r[1], -9i64 as u64);
        assert_eq!(fr.f[1], 0.75);
        assert_eq!(fr.ctx_bytes()[8..16], (-9i64).to_le_bytes());
    }
}

pub fn epilogue_returns_low_32_bits<I: TestIsa>() {
    for g in GPRS {
        let code = with_epilogue::<I>(g, |m| m.load_imm(g, 0x7654_3210_8000_0005));
        let mut fr = Frame::sized(1);
        assert_eq!(code.call(&mut fr), 0x8000_0005);
    }
}
