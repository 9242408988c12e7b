//! Constants, frame slots, memory through registers, the context.

use super::fp::fedge;
use super::{EDGE, Frame, Jit, N, SENTINELS, branch_kernels, kernel, taken_in};
use crate::bytecode::Bank;
use crate::template::isa::test_plan::{FPRS, GPRS, IMM64S, TestIsa, pairs, triples};
use crate::template::masm::{AluOp, FpOp, Fpr, Gpr, MacroAssembler};

/// Byte offsets for memory accesses through a register: the edges of both
/// ISAs' encodings.
const OFFSETS: [i32; 31] = [
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    127,
    128,
    -128,
    -129,
    255,
    256,
    -1,
    -8,
    -256,
    -257,
    4095,
    4096,
    16380,
    16384,
    32760,
    32768,
    32769,
    40000,
    -40000,
    0xFF_F000,
    0xFF_FFF8,
    0x100_0000,
    i32::MIN,
    i32::MAX,
];

pub fn load_imm_and_fimm<I: TestIsa>() {
    for g in GPRS {
        let jit = Jit::build::<I>(|m| {
            for (k, v) in IMM64S.into_iter().enumerate() {
                m.load_imm(g, v);
                m.store_slot(Bank::I, k as u32, g);
            }
        });
        let mut fr = Frame::new();
        jit.call(&mut fr);
        assert_eq!(fr.i[..IMM64S.len()], IMM64S, "load_imm({g:?})");
    }
    let bits: Vec<u64> = fedge()
        .into_iter()
        .map(f64::to_bits)
        .chain([1, 0xffff_ffff, 1 << 63])
        .collect();
    for f in FPRS {
        let jit = Jit::build::<I>(|m| {
            for (k, &b) in bits.iter().enumerate() {
                m.load_fimm(f, b);
                m.store_fslot(k as u32, f);
            }
        });
        let mut fr = Frame::new();
        fr.f.fill(1.0);
        jit.call(&mut fr);
        let got: Vec<u64> = fr.f[..bits.len()].iter().map(|x| x.to_bits()).collect();
        assert_eq!(got, bits, "load_fimm({f:?})");
    }
    constants_rotating::<I>();
}

pub fn slots_load_store_and_address<I: TestIsa>() {
    for bank in Bank::ALL {
        for (a, b) in pairs(&GPRS) {
            // i/f/r slot 7 -> a; a -> slot 9; slot address of 100 -> b.
            let jit = Jit::build::<I>(|m| {
                m.load_slot(a, bank, 7);
                m.store_slot(bank, 9, a);
                m.slot_addr(b, bank, 100);
                m.store_slot(Bank::I, 200, b);
            });
            let mut fr = Frame::new();
            fr.i[7] = -5;
            fr.f[7] = -2.5;
            fr.r[7] = 0xdead_beef;
            jit.call(&mut fr);
            let base = fr.base(bank);
            match bank {
                Bank::I => assert_eq!(fr.i[9], -5),
                Bank::F => assert_eq!(fr.f[9], -2.5),
                Bank::R => assert_eq!(fr.r[9], 0xdead_beef),
            }
            assert_eq!(
                fr.i[200] as u64,
                base + 800,
                "slot_addr({b:?}, {bank:?}, 100)"
            );
        }
    }
    for f in FPRS {
        let jit = Jit::build::<I>(|m| {
            m.load_fslot(f, 1);
            m.store_fslot(2, f);
        });
        let mut fr = Frame::new();
        fr.f[1] = f64::from_bits(0x7ff4_0000_0000_0001);
        jit.call(&mut fr);
        assert_eq!(
            fr.f[2].to_bits(),
            0x7ff4_0000_0000_0001,
            "signalling NaN kept"
        );
    }
}

pub fn far_slots_use_synthesised_addresses<I: TestIsa>() {
    // Bases shifted down so that huge slot numbers land in the arrays.
    for slot in [4096u32, 65535, (1 << 28) - 1, 1 << 28, u32::MAX] {
        let jit = Jit::build::<I>(|m| {
            m.load_slot(Gpr::T1, Bank::I, slot);
            m.store_slot(Bank::R, slot, Gpr::T1);
            m.load_fslot(Fpr::F2, slot);
            m.fp_op(FpOp::Add, Fpr::F2, Fpr::F2, Fpr::F2);
            m.store_fslot(slot, Fpr::F2);
            m.slot_addr(Gpr::T0, Bank::R, slot);
            m.zero_slots(Bank::I, slot - 1, 3);
        });
        let mut fr = Frame::new();
        let shift = 8 * u64::from(slot);
        fr.i[10] = 77;
        fr.f[10] = 1.25;
        let i = (fr.i.as_mut_ptr().wrapping_add(10) as u64).wrapping_sub(shift) as *mut i64;
        let f = (fr.f.as_mut_ptr().wrapping_add(10) as u64).wrapping_sub(shift) as *mut f64;
        let r = (fr.r.as_mut_ptr().wrapping_add(10) as u64).wrapping_sub(shift) as *mut u64;
        fr.i[9] = 1;
        fr.i[12] = 1;
        let status = jit.call_raw(&mut fr, i, f, r);
        assert_eq!(fr.r[10], 77);
        assert_eq!(fr.f[10], 2.5);
        assert_eq!(status, (fr.r.as_ptr().wrapping_add(10) as u64) as u32);
        assert_eq!(fr.i[9..12], [0, 0, 0], "zero_slots around {slot}");
        assert_eq!(fr.i[12], 1);
    }
}

pub fn zero_slots_zeroes_exactly_the_range<I: TestIsa>() {
    zero_slots_of_a_large_frame::<I>();
    for bank in Bank::ALL {
        for (first, count) in [(0, 0), (0, 1), (3, 7), (1, 8), (2, 9), (5, 100), (0, 248)] {
            // Slots 0..8 are the kernel's own.
            let jit = kernel::<I>(|m| m.zero_slots(bank, first + 8, count));
            let mut fr = Frame::new();
            fr.i.fill(-1);
            fr.f.fill(-1.0);
            fr.r.fill(u64::MAX);
            let regs = SENTINELS;
            regs.place(&mut fr);
            jit.call(&mut fr);
            assert_eq!(fr.i[3..6], regs.t, "scratch registers kept");
            let zeroed = (first as usize + 8)..(first as usize + 8 + count as usize);
            for k in 8..N {
                let z = zeroed.contains(&k);
                let (ib, fb, rb) = (fr.i[k] == 0, fr.f[k].to_bits() == 0, fr.r[k] == 0);
                assert_eq!(
                    (ib, fb, rb),
                    (
                        z && bank == Bank::I,
                        z && bank == Bank::F,
                        z && bank == Bank::R
                    ),
                    "zero_slots({bank:?}, {first}+6, {count}) slot {k}"
                );
            }
        }
    }
}

pub fn loads_and_stores_through_registers<I: TestIsa>() {
    // A 4 KiB buffer of distinct bytes; the base register points into
    // its middle.
    let mut buf: Vec<u64> = (0..512u64)
        .map(|k| k.wrapping_mul(0x0101_0101_0101_0101) ^ 0x8070_6050_4030_2010)
        .collect();
    let base = buf.as_mut_ptr() as u64 + 2048;
    let read = |buf: &[u64], at: i64, n: usize| -> u64 {
        let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_le_bytes()).collect();
        let start = (2048 + at) as usize;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(&bytes[start..start + n]);
        u64::from_le_bytes(v)
    };
    let offsets = [0, 8, -8, 127, 128, -128, -129, 1000, -2000, 3];
    for (d, b) in pairs(&GPRS) {
        for off in offsets {
            let jit = Jit::build::<I>(|m| {
                m.load_imm(b, base as i64);
                m.load_mem(d, b, off);
                m.store_slot(Bank::I, 0, d);
                m.load_imm(b, base as i64);
                m.load_mem_u32(d, b, off);
                m.store_slot(Bank::I, 1, d);
                m.load_imm(b, base as i64);
                m.load_mem_u8(d, b, off);
                m.store_slot(Bank::I, 2, d);
            });
            let mut fr = Frame::new();
            fr.i.fill(-1);
            jit.call(&mut fr);
            let o = i64::from(off);
            assert_eq!(
                fr.i[0] as u64,
                read(&buf, o, 8),
                "load_mem({d:?}, {b:?}, {off})"
            );
            assert_eq!(
                fr.i[1] as u64,
                read(&buf, o, 4),
                "load_mem_u32({d:?}, {b:?}, {off})"
            );
            assert_eq!(
                fr.i[2] as u64,
                read(&buf, o, 1),
                "load_mem_u8({d:?}, {b:?}, {off})"
            );
        }
    }
    let offsets = [0, 8, -8, 127, 128, -129, 1000, -1000];
    for (b, i, s) in triples(&GPRS) {
        if b == i || s == b || s == i {
            continue; // base and index hold different things here
        }
        for off in offsets {
            for index in [0i64, 1, 5, -3] {
                let at = index * 8 + i64::from(off);
                let jit = Jit::build::<I>(|m| {
                    m.load_imm(b, base as i64);
                    m.load_imm(i, index);
                    m.load_indexed(s, b, i, off);
                    m.store_slot(Bank::I, 0, s);
                    m.load_findexed(Fpr::F1, b, i, off);
                    m.store_fslot(0, Fpr::F1);
                    m.load_imm(s, 0x1122_3344_5566_7788);
                    m.store_indexed(b, i, off, s);
                    m.load_mem(s, b, at as i32);
                    m.store_slot(Bank::I, 1, s);
                    m.load_fslot(Fpr::F2, 2);
                    m.store_findexed(b, i, off + 8, Fpr::F2);
                    m.load_mem(s, b, at as i32 + 8);
                    m.store_slot(Bank::I, 3, s);
                });
                let before = (read(&buf, at, 8), read(&buf, at + 8, 8));
                let mut fr = Frame::new();
                fr.f[2] = -0.75;
                jit.call(&mut fr);
                let what =
                    format!("indexed base {b:?} index {i:?} src {s:?} off {off} index {index}");
                assert_eq!(fr.i[0] as u64, before.0, "{what}");
                assert_eq!(fr.f[0].to_bits(), before.0, "{what}");
                assert_eq!(fr.i[1] as u64, 0x1122_3344_5566_7788, "{what}");
                assert_eq!(read(&buf, at, 8), 0x1122_3344_5566_7788, "{what}");
                assert_eq!(fr.i[3] as u64, (-0.75f64).to_bits(), "{what}");
                // Restore the buffer.
                let w = ((2048 + at) / 8) as usize;
                buf[w] = before.0;
                buf[w + 1] = before.1;
            }
        }
    }
}

pub fn byte_indexed_loads_and_stores<I: TestIsa>() {
    byte_indexed_any_offset::<I>();
    let mut buf: Vec<u8> = (0..4096usize).map(|k| (k * 7 + 3) as u8).collect();
    let base = buf.as_mut_ptr() as i64 + 2048;
    for (b, i, s) in triples(&GPRS) {
        if b == i || s == b || s == i {
            continue; // base, index and value hold different things here
        }
        for off in [0, 16, -8, 127, 128, -129, 1000] {
            for index in [0i64, 1, 5, -3, 300] {
                let at = (2048 + index + i64::from(off)) as usize;
                let jit = Jit::build::<I>(|m| {
                    m.load_imm(b, base);
                    m.load_imm(i, index);
                    m.load_indexed_u8(s, b, i, off);
                    m.store_slot(Bank::I, 0, s);
                    // Only the low byte is stored.
                    m.load_imm(s, 0x1122_3344_5566_77a9);
                    m.store_indexed_u8(b, i, off, s);
                });
                let before = buf[at];
                let mut fr = Frame::new();
                fr.i.fill(-1);
                jit.call(&mut fr);
                let what = format!("base {b:?} index {i:?} value {s:?} off {off} index {index}");
                assert_eq!(fr.i[0], i64::from(before), "{what}");
                assert_eq!(buf[at], 0xa9, "{what}");
                assert_eq!(
                    (buf[at - 1], buf[at + 1]),
                    (((at - 1) * 7 + 3) as u8, ((at + 1) * 7 + 3) as u8),
                    "{what}: neighbours"
                );
                buf[at] = before;
            }
        }
    }
}

pub fn context_loads_and_stores<I: TestIsa>() {
    context_accesses_any_offset::<I>();
    for g in GPRS {
        let jit = Jit::build::<I>(|m| {
            m.load_ctx(g, 0);
            m.store_ctx(8, g);
            m.load_ctx(g, 128);
            m.store_ctx(248, g);
            m.store_ctx_u32(16, 0x8000_0001);
            m.store_ctx_u32(132, u32::MAX);
            m.load_imm(g, -2);
            m.store_ctx_reg_u32(24, g);
            m.store_ctx_reg_u32(136, g);
        });
        let mut fr = Frame::new();
        fr.ctx.fill(0x0102_0304_0506_0708);
        fr.ctx[0] = 0x1234;
        fr.ctx[16] = 0x5678;
        jit.call(&mut fr);
        assert_eq!(fr.ctx[1], 0x1234, "load_ctx/store_ctx({g:?})");
        assert_eq!(fr.ctx[31], 0x5678);
        assert_eq!(fr.ctx[2], 0x0102_0304_8000_0001, "4-byte store");
        assert_eq!(fr.ctx[16], 0xffff_ffff_0000_5678);
        assert_eq!(fr.ctx[3], 0x0102_0304_ffff_fffe, "4-byte store of {g:?}");
        assert_eq!(fr.ctx[17], 0x0102_0304_ffff_fffe);
    }
}

/// Constants into rotating registers, stored as they come.
fn constants_rotating<I: TestIsa>() {
    let ints: Vec<i64> = EDGE
        .into_iter()
        .chain([
            0xFFFF,
            0x1_0000,
            0xFFFF_0000_0000_0000u64 as i64,
            0x5555_5555_5555_5555,
            0x00FF_00FF_00FF_00FF,
            0x0000_1234_0000_5678,
            0x1234_FFFF_FFFF_5678,
            0xFFFF_1234_FFFF_FFFFu64 as i64,
            -0x1_0001,
        ])
        .collect();
    let floats: Vec<u64> = fedge()
        .into_iter()
        .chain([0.5, 31.0, 0.125, 0.0625, -17.0, f64::MIN_POSITIVE])
        .map(f64::to_bits)
        .chain([0x7FF0_0000_DEAD_BEEF, 0xFFF8_0000_0000_0001])
        .collect();
    let code = Jit::build::<I>(|m| {
        for (k, &v) in ints.iter().enumerate() {
            m.load_imm(GPRS[k % 3], v);
            m.store_slot(Bank::I, k as u32, GPRS[k % 3]);
        }
        for (k, &bits) in floats.iter().enumerate() {
            m.load_fimm(FPRS[k % 3], bits);
            m.store_fslot(k as u32, FPRS[k % 3]);
        }
        m.load_imm(Gpr::T0, 0);
    });
    let mut fr = Frame::sized(64);
    assert_eq!(code.call(&mut fr), 0);
    assert_eq!(fr.i[..ints.len()], ints[..]);
    let got: Vec<u64> = fr.f[..floats.len()].iter().map(|f| f.to_bits()).collect();
    assert_eq!(got, floats);
}

pub const BIG: usize = 70_000;

const BIG_SLOTS: [u32; 10] = [0, 1, 4095, 4096, 4097, 32767, 32768, 65535, 65536, 69_000];

/// Where `slots_of_a_large_frame` puts its results, 4 i slots per case.
const RESULTS: u32 = 69_100;

pub fn slots_of_a_large_frame<I: TestIsa>() {
    let mut fr = Frame::sized(BIG);
    let code = Jit::build::<I>(|m| {
        for (k, slot) in BIG_SLOTS.into_iter().enumerate() {
            let g = GPRS[k % 3];
            let h = GPRS[(k + 1) % 3];
            let r = FPRS[k % 3];
            let res = RESULTS + 4 * k as u32;
            // i[slot] += 1; r[slot] ^= i[slot]; f[slot] *= 2
            m.load_slot(g, Bank::I, slot);
            m.alu_imm(AluOp::Add, g, g, 1);
            m.store_slot(Bank::I, slot, g);
            m.load_slot(h, Bank::R, slot);
            m.alu(AluOp::Xor, h, h, g);
            m.store_slot(Bank::R, slot, h);
            m.load_fslot(r, slot);
            m.fp_op(FpOp::Add, r, r, r);
            m.store_fslot(slot, r);
            // f slots load as bits through a Gpr too.
            m.load_slot(g, Bank::F, slot);
            m.store_slot(Bank::I, res, g);
            for (b, bank) in Bank::ALL.into_iter().enumerate() {
                m.slot_addr(h, bank, slot);
                m.store_slot(Bank::I, res + 1 + b as u32, h);
            }
        }
        m.load_imm(Gpr::T0, 0);
    });
    for (k, slot) in BIG_SLOTS.into_iter().enumerate() {
        let s = slot as usize;
        fr.i[s] = 100 + k as i64;
        fr.r[s] = 0xF0F0 + k as u64;
        fr.f[s] = 1.25 + k as f64;
    }
    assert_eq!(code.call(&mut fr), 0);
    let bases = [
        fr.i.as_ptr() as u64,
        fr.f.as_ptr() as u64,
        fr.r.as_ptr() as u64,
    ];
    for (k, slot) in BIG_SLOTS.into_iter().enumerate() {
        let s = slot as usize;
        let res = RESULTS as usize + 4 * k;
        assert_eq!(fr.i[s], 101 + k as i64, "i slot {slot}");
        assert_eq!(
            fr.r[s],
            (0xF0F0 + k as u64) ^ (101 + k as u64),
            "r slot {slot}"
        );
        assert_eq!(fr.f[s], 2.0 * (1.25 + k as f64), "f slot {slot}");
        assert_eq!(
            fr.i[res] as u64,
            (2.0 * (1.25 + k as f64)).to_bits(),
            "f bits {slot}"
        );
        for (b, base) in bases.into_iter().enumerate() {
            assert_eq!(
                fr.i[res + 1 + b] as u64,
                base + 8 * u64::from(slot),
                "slot_addr {b} {slot}"
            );
        }
    }
}

/// Ranges in a large frame, any bank.
fn zero_slots_of_a_large_frame<I: TestIsa>() {
    const SENTINEL: i64 = 0x5A5A_5A5A;
    let cases: [(u32, u32); 22] = [
        (0, 0),
        (0, 1),
        (3, 7),
        (0, 16),
        (1, 17),
        // Around the aarch64 rounds of 8 and x86-64's `rep stosq` from 64.
        (2, 18),
        (0, 23),
        (9, 31),
        (0, 63),
        (0, 64),
        (3, 65),
        (5, 100),
        (60, 4),
        (61, 4),
        (62, 16),
        (4090, 16),
        (4095, 3),
        (65500, 36),
        (65535, 1),
        (69_000, 999),
        (1, 65535),
        (0, 69_999),
    ];
    let mut fr = Frame::sized(BIG + 1);
    for bank in Bank::ALL {
        for (first, count) in cases {
            let code = Jit::build::<I>(|m| {
                m.zero_slots(bank, first, count);
                m.load_imm(Gpr::T0, 0);
            });
            fr.i.fill(SENTINEL);
            fr.f.fill(f64::from_bits(SENTINEL as u64));
            fr.r.fill(SENTINEL as u64);
            assert_eq!(code.call(&mut fr), 0);
            let range = first as usize..(first + count) as usize;
            for s in 0..=BIG {
                let want = |b: Bank| {
                    if b == bank && range.contains(&s) {
                        0
                    } else {
                        SENTINEL as u64
                    }
                };
                assert_eq!(
                    fr.i[s] as u64,
                    want(Bank::I),
                    "{bank} {first}+{count}: i{s}"
                );
                assert_eq!(
                    fr.f[s].to_bits(),
                    want(Bank::F),
                    "{bank} {first}+{count}: f{s}"
                );
                assert_eq!(fr.r[s], want(Bank::R), "{bank} {first}+{count}: r{s}");
            }
        }
    }
}

/// A byte buffer with distinct bytes, and its middle as the base.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|k| (k.wrapping_mul(131) ^ (k >> 8)) as u8)
        .collect()
}

pub fn load_mem_any_offset<I: TestIsa>() {
    const LEN: usize = 1 << 18;
    let buf = pattern(LEN);
    let mid = LEN / 2;
    let offsets: Vec<i32> = OFFSETS
        .into_iter()
        .filter(|o| o.unsigned_abs() < (mid as u32) - 16)
        .collect();
    let mut fr = Frame::sized(3 * offsets.len() + 1);
    for (d, b) in pairs(&GPRS) {
        let code = Jit::build::<I>(|m| {
            for (k, &off) in offsets.iter().enumerate() {
                let k = k as u32 * 3;
                m.load_slot(b, Bank::I, 0);
                m.load_mem(d, b, off);
                m.store_slot(Bank::R, k, d);
                m.load_slot(b, Bank::I, 0);
                m.load_mem_u32(d, b, off);
                m.store_slot(Bank::R, k + 1, d);
                m.load_slot(b, Bank::I, 0);
                m.load_mem_u8(d, b, off);
                m.store_slot(Bank::R, k + 2, d);
            }
            m.load_imm(Gpr::T0, 0);
        });
        fr.i[0] = buf.as_ptr() as i64 + mid as i64;
        fr.r.fill(0xDEAD_DEAD_DEAD_DEAD);
        assert_eq!(code.call(&mut fr), 0);
        for (k, &off) in offsets.iter().enumerate() {
            let at = (mid as i64 + i64::from(off)) as usize;
            let q = u64::from_le_bytes(buf[at..at + 8].try_into().unwrap());
            let w = u32::from_le_bytes(buf[at..at + 4].try_into().unwrap());
            assert_eq!(
                fr.r[3 * k..3 * k + 3],
                [q, u64::from(w), u64::from(buf[at])],
                "off {off}"
            );
        }
    }
}

pub fn indexed_loads_and_stores<I: TestIsa>() {
    const LEN: usize = 1 << 15;
    let offsets = [0, 8, -8, 16, -40, 4096, 20000, -20000, 4];
    let indices = [0i64, 1, -1, 5, -7, 100];
    // With base and index one register the address is 9 * base: not
    // in any buffer; the listings cover that shape.
    for (r, b, i) in triples(&GPRS).into_iter().filter(|&(_, b, i)| b != i) {
        // r = [b + 8i + off]; [b + 8i + off] = r (after r += 1, or the
        // base or index when r is one of them); f64 at off + 8 doubled.
        let code = Jit::build::<I>(|m| {
            for (k, &off) in offsets.iter().enumerate() {
                m.load_slot(b, Bank::I, 0);
                m.load_slot(i, Bank::I, 1);
                m.load_indexed(r, b, i, off);
                m.store_slot(Bank::R, k as u32, r);
                m.alu_imm(AluOp::Add, r, r, 1);
                m.store_slot(Bank::I, 2, r);
                m.load_slot(r, Bank::I, 2);
                m.load_slot(b, Bank::I, 0);
                m.load_slot(i, Bank::I, 1);
                m.store_indexed(b, i, off, r);
                m.load_findexed(Fpr::F1, b, i, off + 8);
                m.fp_op(FpOp::Add, Fpr::F1, Fpr::F1, Fpr::F1);
                m.store_findexed(b, i, off + 8, Fpr::F1);
            }
            m.load_imm(Gpr::T0, 0);
        });
        for idx in indices {
            let mut mem: Vec<u64> = (0..LEN as u64).map(|k| k * 0x0101 + 3).collect();
            let mut want = mem.clone();
            let start = mem.as_mut_ptr() as i64;
            let base = start + (LEN as i64 / 2) * 8;
            let mut want_r = Vec::new();
            for &off in &offsets {
                // Offset 4 straddles two words: compare bytes.
                let bytes: Vec<u8> = want.iter().flat_map(|w| w.to_le_bytes()).collect();
                let o = (base + 8 * idx + i64::from(off) - start) as usize;
                let loaded = u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
                want_r.push(loaded);
                let stored = if r == b {
                    base as u64
                } else if r == i {
                    idx as u64
                } else {
                    loaded.wrapping_add(1)
                };
                let mut bytes = bytes;
                bytes[o..o + 8].copy_from_slice(&stored.to_le_bytes());
                let o = o + 8;
                let x = f64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
                bytes[o..o + 8].copy_from_slice(&(x * 2.0).to_le_bytes());
                for (w, c) in want.iter_mut().zip(bytes.chunks(8)) {
                    *w = u64::from_le_bytes(c.try_into().unwrap());
                }
            }
            let mut fr = Frame::sized(16);
            fr.i[0] = base;
            fr.i[1] = idx;
            assert_eq!(code.call(&mut fr), 0);
            assert_eq!(
                fr.r[..want_r.len()],
                want_r[..],
                "{r:?} {b:?} {i:?} idx {idx}"
            );
            assert!(mem == want, "{r:?} {b:?} {i:?} idx {idx}: memory");
        }
    }
}

/// Offsets of every encoding, one function per register choice.
fn byte_indexed_any_offset<I: TestIsa>() {
    const LEN: usize = 1 << 16;
    let offsets = [0, 16, -8, 1, 4095, 4096, 20000, -20000];
    let indices = [0i64, 1, -1, 7, 300];
    for (r, b, i) in triples(&GPRS)
        .into_iter()
        .filter(|&(r, b, i)| b != i && r != b && r != i)
    {
        // r = [b + i + off] as u8; [b + i + off] = r + 255 (its low
        // byte: r - 1), slot k gets the loaded value.
        let code = Jit::build::<I>(|m| {
            for (k, &off) in offsets.iter().enumerate() {
                m.load_slot(b, Bank::I, 0);
                m.load_slot(i, Bank::I, 1);
                m.load_indexed_u8(r, b, i, off);
                m.store_slot(Bank::R, k as u32, r);
                m.alu_imm(AluOp::Add, r, r, 255);
                m.store_indexed_u8(b, i, off, r);
            }
            m.load_imm(Gpr::T0, 0);
        });
        for idx in indices {
            let mut mem: Vec<u8> = (0..LEN).map(|k| (k * 7 + 3) as u8).collect();
            let mut want = mem.clone();
            let start = mem.as_mut_ptr() as i64;
            let base = start + LEN as i64 / 2;
            let mut want_r = Vec::new();
            for &off in &offsets {
                let o = (base + idx + i64::from(off) - start) as usize;
                want_r.push(u64::from(want[o]));
                want[o] = want[o].wrapping_sub(1);
            }
            let mut fr = Frame::sized(16);
            fr.i[0] = base;
            fr.i[1] = idx;
            assert_eq!(code.call(&mut fr), 0);
            assert_eq!(
                fr.r[..want_r.len()],
                want_r[..],
                "{r:?} {b:?} {i:?} idx {idx}"
            );
            assert!(mem == want, "{r:?} {b:?} {i:?} idx {idx}: memory");
        }
    }
}

/// Offsets into a 64 KiB context.
fn context_accesses_any_offset<I: TestIsa>() {
    let offsets = [
        0i32, 4, 8, 252, 256, 4092, 16380, 32760, 32768, 40000, 65528,
    ];
    let code = Jit::build::<I>(|m| {
        for (k, &off) in offsets.iter().enumerate() {
            m.load_ctx(GPRS[k % 3], off);
            m.store_slot(Bank::I, k as u32, GPRS[k % 3]);
            m.load_slot(GPRS[(k + 1) % 3], Bank::I, 20 + k as u32);
            m.store_ctx(off, GPRS[(k + 1) % 3]);
        }
        m.load_imm(Gpr::T0, 0);
    });
    let mut fr = Frame::sized(64);
    for (k, b) in fr.ctx_bytes().iter_mut().enumerate() {
        *b = (k * 7 + k / 256) as u8;
    }
    let before = fr.ctx_bytes().to_vec();
    for k in 0..offsets.len() {
        fr.i[20 + k] = 0x1111_0000_0000_0000 + k as i64;
    }
    assert_eq!(code.call(&mut fr), 0);
    let mut want = before.clone();
    for (k, &off) in offsets.iter().enumerate() {
        let o = off as usize;
        assert_eq!(
            fr.i[k],
            i64::from_le_bytes(want[o..o + 8].try_into().unwrap()),
            "load {off}"
        );
        want[o..o + 8].copy_from_slice(&(0x1111_0000_0000_0000i64 + k as i64).to_le_bytes());
    }
    assert!(*fr.ctx_bytes() == want[..], "store_ctx");

    let vals = [0u32, 1, 0xFFFF, 0x1_0000, 0x1234_5678, u32::MAX];
    let offsets = [0i32, 4, 6, 1, 252, 256, 16380, 16384, 40000, 65532, -0];
    let code = Jit::build::<I>(|m| {
        for (k, &off) in offsets.iter().enumerate() {
            m.store_ctx_u32(off, vals[k % vals.len()]);
        }
        m.load_imm(Gpr::T0, 0);
    });
    let mut fr = Frame::sized(64);
    fr.ctx_bytes().fill(0xEE);
    let mut want = fr.ctx_bytes().to_vec();
    assert_eq!(code.call(&mut fr), 0);
    for (k, &off) in offsets.iter().enumerate() {
        let o = off as usize;
        want[o..o + 4].copy_from_slice(&vals[k % vals.len()].to_le_bytes());
    }
    assert!(*fr.ctx_bytes() == want[..], "store_ctx_u32");

    let code = Jit::build::<I>(|m| {
        for (k, &off) in offsets.iter().enumerate() {
            let g = GPRS[k % 3];
            m.load_slot(g, Bank::I, k as u32);
            m.store_ctx_reg_u32(off, g);
        }
        m.load_imm(Gpr::T0, 0);
    });
    let mut fr = Frame::sized(64);
    fr.ctx_bytes().fill(0xEE);
    let mut want = fr.ctx_bytes().to_vec();
    for k in 0..offsets.len() {
        fr.i[k] = (0xABCD_0000_0000_0000u64 as i64) | (k as i64 * 0x0101_0101);
    }
    assert_eq!(code.call(&mut fr), 0);
    for (k, &off) in offsets.iter().enumerate() {
        let o = off as usize;
        want[o..o + 4].copy_from_slice(&(fr.i[k] as u32).to_le_bytes());
    }
    assert!(*fr.ctx_bytes() == want[..], "store_ctx_reg_u32");
}

pub fn branch_stack_below_compares_the_stack_pointer<I: TestIsa>() {
    let local = 0u8;
    let here = std::hint::black_box(&local) as *const u8 as u64;
    for off in [40i32, 8, 4096, 40000] {
        for jit in branch_kernels::<I>(|m, l| m.branch_stack_below(off, l)) {
            for (limit, below) in [
                (0, false),
                (u64::MAX, true),
                (here - (1 << 20), false),
                (here + 4096, true),
                (here + 0x1_0000, true),
            ] {
                let mut fr = Frame::sized(16);
                let o = off as usize;
                fr.ctx_bytes()[o..o + 8].copy_from_slice(&limit.to_le_bytes());
                fr.i[..3].copy_from_slice(&SENTINELS.t);
                assert_eq!(taken_in(&jit, &mut fr), below, "limit {limit:#x} at {off}");
            }
        }
    }
    std::hint::black_box(&local);
}

pub fn branch_flag_set_tests_the_byte_behind_the_pointer<I: TestIsa>() {
    for off in [48i32, 8, 4096, 40000] {
        for jit in branch_kernels::<I>(|m, l| m.branch_flag_set(off, l)) {
            for (flag, set) in [(0u8, false), (1, true), (0x80, true), (0xff, true)] {
                // The bytes around the flag must not matter.
                let bytes = [0xffu8, flag, 0xff];
                let ptr = &bytes[1] as *const u8 as u64;
                let mut fr = Frame::sized(16);
                let o = off as usize;
                fr.ctx_bytes()[o..o + 8].copy_from_slice(&ptr.to_le_bytes());
                fr.i[..3].copy_from_slice(&SENTINELS.t);
                assert_eq!(taken_in(&jit, &mut fr), set, "flag {flag:#x} at {off}");
            }
        }
    }
}
