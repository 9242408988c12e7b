//! Tests of the aarch64 macro-assembler.
//!
//! - Listings (every host): every trait method is emitted over a
//!   representative set of arguments, disassembled with yaxpeax-arm and
//!   compared with `tests/golden/aarch64/<method>.txt` (`TIERJIT_BLESS=1`
//!   re-blesses). Every word must decode.
//! - Structure (every host): branch forms by distance, errors reported by
//!   `finish` instead of panics, extreme arguments.
//! - Execution (aarch64 only, e.g. under qemu): the code runs and is checked
//!   against Rust semantics (the interpreter's).

use std::fmt::Write as _;

use yaxpeax_arch::{Arch, Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::ARMv8;

use super::A64Masm;
use crate::bytecode::{Bank, Cmp};
use crate::runtime::context::offsets::CALL_DEPTH;
use crate::template::golden;
use crate::template::masm::{
    AluOp, Cond, FpOp, FpUnary, Fpr, Gpr, HelperArg, MAX_HELPER_ARGS, MacroAssembler,
};

const GPRS: [Gpr; 3] = Gpr::ALL;
/// The f64 scratch registers the tests cover: the first three and the last.
const FPRS: [Fpr; 4] = [Fpr::F0, Fpr::F1, Fpr::F2, Fpr::F7];
const CONDS: [Cond; 10] = Cond::ALL;
const CMPS: [Cmp; 6] = [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];
const ALU_OPS: [AluOp; 9] = AluOp::ALL;
const FP_OPS: [FpOp; 4] = FpOp::ALL;
const FP_UNARY: [FpUnary; 5] = FpUnary::ALL;

/// Immediates for the `*_imm` forms: the edges of every encoding choice
/// (imm12, imm12 << 12, 24-bit split, logical bitmask or not, shifts).
const IMMS: [i32; 32] = [
    0,
    1,
    -1,
    2,
    63,
    64,
    65,
    255,
    256,
    -256,
    -257,
    4095,
    4096,
    -4095,
    -4096,
    4097,
    -4097,
    0x7F_F000,
    0xFF_F000,
    -0xFF_F000,
    0xFF_FFFF,
    0x100_0000,
    -0x100_0000,
    0x3FFF_C000,
    0x0FF0,
    -8,
    0x00FF_00FF,
    0x5555_5555,
    0x1234_5678,
    i32::MIN,
    i32::MAX,
    i32::MIN + 1,
];

/// Slots: the scaled-offset limit (4095 * 8 = 32760), the 24-bit split and
/// beyond.
const SLOTS: [u32; 9] = [0, 1, 4095, 4096, 4097, 32767, 65535, 0x20_0000, u32::MAX];

/// Byte offsets for memory accesses through a register.
const OFFSETS: [i32; 27] = [
    0,
    1,
    2,
    3,
    4,
    7,
    8,
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

/// Emit with a fresh assembler and finish.
fn assemble(f: impl FnOnce(&mut A64Masm)) -> Vec<u8> {
    let mut m = A64Masm::new();
    f(&mut m);
    m.finish().expect("finish").to_vec()
}

/// Decode one word; panics on an invalid instruction.
fn decode(word: u32, at: usize) -> String {
    let bytes = word.to_le_bytes();
    let mut reader = U8Reader::new(&bytes[..]);
    match <ARMv8 as Arch>::Decoder::default().decode(&mut reader) {
        Ok(inst) => inst.to_string(),
        Err(e) => panic!("invalid instruction {word:08x} at {at:#x}: {e}"),
    }
}

/// One instruction per line: offset, word, disassembly.
fn disasm(code: &[u8]) -> String {
    assert_eq!(code.len() % 4, 0, "code is whole words");
    let mut out = String::new();
    for (k, chunk) in code.chunks(4).enumerate() {
        let word = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        writeln!(out, "{:5x}: {word:08x}  {}", k * 4, decode(word, k * 4)).expect("write");
    }
    out
}

/// A golden listing: titled cases, each assembled on its own.
#[derive(Default)]
struct Listing {
    text: String,
}

impl Listing {
    fn case(&mut self, title: impl std::fmt::Display, f: impl FnOnce(&mut A64Masm)) {
        let code = assemble(f);
        writeln!(self.text, "# {title}").expect("write");
        self.text.push_str(&disasm(&code));
        self.text.push('\n');
    }

    fn check(&self, method: &str) {
        golden::check(&format!("aarch64/{method}"), &self.text);
    }
}

/// Every (a, b) over the scratch registers.
fn pairs<T: Copy, const N: usize>(regs: [T; N]) -> Vec<(T, T)> {
    regs.iter()
        .flat_map(|&a| regs.iter().map(move |&b| (a, b)))
        .collect()
}

/// Every (a, b, c) over the scratch registers.
fn triples<T: Copy, const N: usize>(regs: [T; N]) -> Vec<(T, T, T)> {
    pairs(regs)
        .into_iter()
        .flat_map(|(a, b)| regs.iter().map(move |&c| (a, b, c)))
        .collect()
}

// ---------------------------------------------------------------------------
// Golden listings, one file per trait method.
// ---------------------------------------------------------------------------

mod listings {
    use super::*;

    macro_rules! golden {
        ($name:ident, |$l:ident| $body:block) => {
            #[test]
            fn $name() {
                let mut $l = Listing::default();
                $body
                $l.check(stringify!($name));
            }
        };
    }

    golden!(prologue, |l| {
        l.case("prologue", |m| m.prologue(CALL_DEPTH));
    });

    golden!(call_depth, |l| {
        for g in GPRS {
            for delta in [0, 1, -1, i32::MIN, i32::MAX] {
                l.case(format!("call_depth {g:?}, {delta}"), |m| {
                    m.call_depth(g, delta)
                });
            }
        }
    });

    golden!(epilogue, |l| {
        for g in GPRS {
            l.case(format!("epilogue {g:?}"), |m| m.epilogue(g));
        }
    });

    golden!(labels, |l| {
        l.case("new_label; bind; jump (backward)", |m| {
            let a = m.new_label();
            m.bind(a);
            m.jump(a);
        });
        l.case("new_label; jump; bind (forward)", |m| {
            let a = m.new_label();
            m.jump(a);
            m.load_imm(Gpr::T0, 1);
            m.bind(a);
        });
        l.case("two labels at one position", |m| {
            let a = m.new_label();
            let b = m.new_label();
            m.jump(b);
            m.bind(a);
            m.bind(b);
            m.jump(a);
        });
    });

    fn slot_cases(l: &mut Listing, f: impl Fn(&mut A64Masm, Gpr, Bank, u32)) {
        for bank in Bank::ALL {
            for slot in SLOTS {
                l.case(format!("{bank} slot {slot}, T0"), |m| {
                    f(m, Gpr::T0, bank, slot)
                });
            }
        }
        for g in [Gpr::T1, Gpr::T2] {
            l.case(format!("i slot 5, {g:?}"), |m| f(m, g, Bank::I, 5));
            l.case(format!("i slot 65535, {g:?}"), |m| f(m, g, Bank::I, 65535));
        }
    }

    golden!(load_slot, |l| {
        slot_cases(&mut l, |m, g, bank, slot| m.load_slot(g, bank, slot));
    });

    golden!(store_slot, |l| {
        slot_cases(&mut l, |m, g, bank, slot| m.store_slot(bank, slot, g));
    });

    golden!(slot_addr, |l| {
        slot_cases(&mut l, |m, g, bank, slot| m.slot_addr(g, bank, slot));
    });

    fn fslot_cases(l: &mut Listing, f: impl Fn(&mut A64Masm, Fpr, u32)) {
        for slot in SLOTS {
            l.case(format!("slot {slot}, F0"), |m| f(m, Fpr::F0, slot));
        }
        for r in [Fpr::F1, Fpr::F2] {
            l.case(format!("slot 3, {r:?}"), |m| f(m, r, 3));
            l.case(format!("slot 65535, {r:?}"), |m| f(m, r, 65535));
        }
    }

    golden!(load_fslot, |l| {
        fslot_cases(&mut l, |m, r, slot| m.load_fslot(r, slot));
    });

    golden!(store_fslot, |l| {
        fslot_cases(&mut l, |m, r, slot| m.store_fslot(slot, r));
    });

    golden!(zero_slots, |l| {
        let cases: [(u32, u32); 18] = [
            (0, 0),
            (0, 1),
            (0, 2),
            (1, 7),
            (60, 4),
            (61, 4),
            (63, 1),
            (64, 1),
            (0, 16),
            (0, 17),
            (5, 100),
            (4095, 2),
            (4096, 3),
            (65535, 1),
            (65500, 36),
            (3, 65535),
            (0x20_0000, 1),
            (0x20_0000, 40),
        ];
        for (first, count) in cases {
            l.case(format!("i first {first} count {count}"), |m| {
                m.zero_slots(Bank::I, first, count)
            });
        }
        l.case("f first 2 count 3", |m| m.zero_slots(Bank::F, 2, 3));
        l.case("r first 2 count 3", |m| m.zero_slots(Bank::R, 2, 3));
        l.case("r first 100 count 20", |m| m.zero_slots(Bank::R, 100, 20));
    });

    golden!(load_imm, |l| {
        let values: [i64; 28] = [
            0,
            1,
            -1,
            2,
            -2,
            0xFFFF,
            0x1_0000,
            0x1_0001,
            0xFFFF_FFFF,
            0x1_0000_0000,
            0xFFFF_0000_0000_0000u64 as i64,
            0x8000_0000,
            -0x8000_0000,
            -0x8000_0001,
            -4096,
            -0x1_0000,
            -0x1_0001,
            i64::MIN,
            i64::MAX,
            0x1234_5678_9ABC_DEF0,
            -0x1234_5678_9ABC_DEF0,
            0x5555_5555_5555_5555,
            0x00FF_00FF_00FF_00FF,
            0x0000_FFFF_0000_FFFF,
            0x0F0F_0F0F_0F0F_0F0F,
            0x0000_1234_0000_5678,
            0x1234_FFFF_FFFF_5678,
            0xFFFF_1234_FFFF_FFFFu64 as i64,
        ];
        for v in values {
            l.case(format!("T0 = {v:#x}"), |m| m.load_imm(Gpr::T0, v));
        }
        l.case("T1 = 7", |m| m.load_imm(Gpr::T1, 7));
        l.case("T2 = -7", |m| m.load_imm(Gpr::T2, -7));
    });

    golden!(load_fimm, |l| {
        let values: [f64; 17] = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            2.0,
            31.0,
            0.125,
            0.0625,
            0.1,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        for v in values {
            l.case(format!("F0 = {v:e} ({:#x})", v.to_bits()), |m| {
                m.load_fimm(Fpr::F0, v.to_bits())
            });
        }
        l.case("F1 = 1.5", |m| m.load_fimm(Fpr::F1, 1.5f64.to_bits()));
        l.case("F2 = 0.3", |m| m.load_fimm(Fpr::F2, 0.3f64.to_bits()));
    });

    golden!(mov, |l| {
        for (d, s) in pairs(GPRS) {
            l.case(format!("{d:?} = {s:?}"), |m| m.mov(d, s));
        }
    });

    golden!(alu, |l| {
        for op in ALU_OPS {
            for (d, a, b) in [
                (Gpr::T0, Gpr::T1, Gpr::T2),
                (Gpr::T0, Gpr::T0, Gpr::T0),
                (Gpr::T1, Gpr::T1, Gpr::T2),
                (Gpr::T2, Gpr::T0, Gpr::T2),
            ] {
                l.case(format!("{op:?} {d:?} = {a:?}, {b:?}"), |m| {
                    m.alu(op, d, a, b)
                });
            }
        }
    });

    golden!(alu_imm, |l| {
        for op in ALU_OPS {
            for imm in IMMS {
                l.case(format!("{op:?} T0 = T1, {imm} ({imm:#x})"), |m| {
                    m.alu_imm(op, Gpr::T0, Gpr::T1, imm)
                });
            }
            l.case(format!("{op:?} T2 = T2, 4097"), |m| {
                m.alu_imm(op, Gpr::T2, Gpr::T2, 4097)
            });
            l.case(format!("{op:?} T1 = T1, 0x12345678"), |m| {
                m.alu_imm(op, Gpr::T1, Gpr::T1, 0x1234_5678)
            });
        }
    });

    golden!(neg, |l| {
        for (d, s) in pairs(GPRS) {
            l.case(format!("{d:?} = -{s:?}"), |m| m.neg(d, s));
        }
    });

    golden!(not, |l| {
        for (d, s) in pairs(GPRS) {
            l.case(format!("{d:?} = !{s:?}"), |m| m.not(d, s));
        }
    });

    golden!(sdiv, |l| {
        for (d, a, b) in triples(GPRS) {
            l.case(format!("{d:?} = {a:?} / {b:?} (overflow: L); L:"), |m| {
                let overflow = m.new_label();
                m.sdiv(d, a, b, overflow);
                m.bind(overflow);
            });
        }
    });

    golden!(srem, |l| {
        for (d, a, b) in triples(GPRS) {
            l.case(format!("{d:?} = {a:?} % {b:?}"), |m| m.srem(d, a, b));
        }
    });

    golden!(mul_high, |l| {
        for (d, a, b) in triples(GPRS) {
            l.case(format!("{d:?} = mulh({a:?}, {b:?})"), |m| {
                m.mul_high(d, a, b)
            });
        }
    });

    golden!(set_cond, |l| {
        for cond in CONDS {
            l.case(format!("{cond:?} T0 = T1, T2"), |m| {
                m.set_cond(cond, Gpr::T0, Gpr::T1, Gpr::T2)
            });
        }
        for (d, a, b) in [(Gpr::T0, Gpr::T0, Gpr::T0), (Gpr::T2, Gpr::T1, Gpr::T2)] {
            l.case(format!("Lt {d:?} = {a:?}, {b:?}"), |m| {
                m.set_cond(Cond::Lt, d, a, b)
            });
        }
    });

    golden!(set_cond_imm, |l| {
        for cond in CONDS {
            l.case(format!("{cond:?} T0 = T1, 100"), |m| {
                m.set_cond_imm(cond, Gpr::T0, Gpr::T1, 100)
            });
        }
        for imm in IMMS {
            l.case(format!("Lt T2 = T2, {imm} ({imm:#x})"), |m| {
                m.set_cond_imm(Cond::Lt, Gpr::T2, Gpr::T2, imm)
            });
        }
    });

    golden!(branch, |l| {
        for cond in CONDS {
            l.case(format!("{cond:?} T1, T2, forward"), |m| {
                let a = m.new_label();
                m.branch(cond, Gpr::T1, Gpr::T2, a);
                m.bind(a);
            });
            l.case(format!("{cond:?} T0, T0, backward"), |m| {
                let a = m.new_label();
                m.bind(a);
                m.branch(cond, Gpr::T0, Gpr::T0, a);
            });
        }
    });

    golden!(branch_imm, |l| {
        for cond in CONDS {
            l.case(format!("{cond:?} T1, -5, forward"), |m| {
                let a = m.new_label();
                m.branch_imm(cond, Gpr::T1, -5, a);
                m.bind(a);
            });
            l.case(format!("{cond:?} T2, 5, backward"), |m| {
                let a = m.new_label();
                m.bind(a);
                m.branch_imm(cond, Gpr::T2, 5, a);
            });
        }
        for imm in IMMS {
            l.case(format!("Eq T0, {imm} ({imm:#x}), backward"), |m| {
                let a = m.new_label();
                m.bind(a);
                m.branch_imm(Cond::Eq, Gpr::T0, imm, a);
            });
        }
    });

    golden!(fp_op, |l| {
        for op in FP_OPS {
            for (d, a, b) in [
                (Fpr::F0, Fpr::F1, Fpr::F2),
                (Fpr::F0, Fpr::F0, Fpr::F0),
                (Fpr::F2, Fpr::F1, Fpr::F2),
            ] {
                l.case(format!("{op:?} {d:?} = {a:?}, {b:?}"), |m| {
                    m.fp_op(op, d, a, b)
                });
            }
        }
    });

    golden!(fp_unary, |l| {
        for op in FP_UNARY {
            for (d, s) in [(Fpr::F0, Fpr::F1), (Fpr::F2, Fpr::F2)] {
                l.case(format!("{op:?} {d:?} = {s:?}"), |m| m.fp_unary(op, d, s));
            }
        }
    });

    golden!(fp_set_cond, |l| {
        for cmp in CMPS {
            l.case(format!("{cmp:?} T0 = F0, F1"), |m| {
                m.fp_set_cond(cmp, Gpr::T0, Fpr::F0, Fpr::F1)
            });
        }
        l.case("Le T2 = F2, F2", |m| {
            m.fp_set_cond(Cmp::Le, Gpr::T2, Fpr::F2, Fpr::F2)
        });
    });

    golden!(fp_branch, |l| {
        for cmp in CMPS {
            l.case(format!("{cmp:?} F1, F2, forward"), |m| {
                let a = m.new_label();
                m.fp_branch(cmp, Fpr::F1, Fpr::F2, a);
                m.bind(a);
            });
            l.case(format!("{cmp:?} F0, F0, backward"), |m| {
                let a = m.new_label();
                m.bind(a);
                m.fp_branch(cmp, Fpr::F0, Fpr::F0, a);
            });
        }
    });

    golden!(i2f, |l| {
        for d in FPRS {
            for s in GPRS {
                l.case(format!("{d:?} = {s:?}"), |m| m.i2f(d, s));
            }
        }
    });

    golden!(f2i, |l| {
        for d in GPRS {
            for s in FPRS {
                l.case(format!("{d:?} = {s:?}"), |m| m.f2i(d, s));
            }
        }
    });

    fn mem_cases(l: &mut Listing, f: impl Fn(&mut A64Masm, Gpr, Gpr, i32)) {
        for off in OFFSETS {
            l.case(format!("T0, [T1 + {off} ({off:#x})]"), |m| {
                f(m, Gpr::T0, Gpr::T1, off)
            });
        }
        l.case("T2, [T2 + 8]", |m| f(m, Gpr::T2, Gpr::T2, 8));
        l.case("T2, [T2 + 40000]", |m| f(m, Gpr::T2, Gpr::T2, 40000));
    }

    golden!(load_mem, |l| {
        mem_cases(&mut l, |m, d, b, off| m.load_mem(d, b, off));
    });

    golden!(store_mem, |l| {
        mem_cases(&mut l, |m, s, b, off| m.store_mem(b, off, s));
    });

    golden!(load_mem_u32, |l| {
        mem_cases(&mut l, |m, d, b, off| m.load_mem_u32(d, b, off));
    });

    golden!(load_mem_u8, |l| {
        mem_cases(&mut l, |m, d, b, off| m.load_mem_u8(d, b, off));
    });

    const INDEXED_OFFSETS: [i32; 8] = [0, 8, -8, 4, 4096, 40000, i32::MIN, i32::MAX];

    /// Cases of an access to `[base + scale * index + offset]`.
    fn indexed_cases(l: &mut Listing, scale: u8, f: impl Fn(&mut A64Masm, Gpr, Gpr, Gpr, i32)) {
        for off in INDEXED_OFFSETS {
            l.case(format!("T0, [T1 + {scale}*T2 + {off}]"), |m| {
                f(m, Gpr::T0, Gpr::T1, Gpr::T2, off)
            });
        }
        for (r, b, i) in [(Gpr::T0, Gpr::T0, Gpr::T0), (Gpr::T2, Gpr::T1, Gpr::T2)] {
            l.case(format!("{r:?}, [{b:?} + {scale}*{i:?} + 0]"), |m| {
                f(m, r, b, i, 0)
            });
            l.case(format!("{r:?}, [{b:?} + {scale}*{i:?} + 16]"), |m| {
                f(m, r, b, i, 16)
            });
        }
    }

    golden!(load_indexed, |l| {
        indexed_cases(&mut l, 8, |m, r, b, i, off| m.load_indexed(r, b, i, off));
    });

    golden!(store_indexed, |l| {
        indexed_cases(&mut l, 8, |m, r, b, i, off| m.store_indexed(b, i, off, r));
    });

    golden!(load_indexed_u8, |l| {
        indexed_cases(&mut l, 1, |m, r, b, i, off| m.load_indexed_u8(r, b, i, off));
    });

    golden!(store_indexed_u8, |l| {
        indexed_cases(&mut l, 1, |m, r, b, i, off| {
            m.store_indexed_u8(b, i, off, r)
        });
    });

    fn findexed_cases(l: &mut Listing, f: impl Fn(&mut A64Masm, Fpr, Gpr, Gpr, i32)) {
        for off in INDEXED_OFFSETS {
            l.case(format!("F0, [T1 + 8*T2 + {off}]"), |m| {
                f(m, Fpr::F0, Gpr::T1, Gpr::T2, off)
            });
        }
        l.case("F2, [T0 + 8*T0 + 0]", |m| {
            f(m, Fpr::F2, Gpr::T0, Gpr::T0, 0)
        });
        l.case("F1, [T2 + 8*T1 + 24]", |m| {
            f(m, Fpr::F1, Gpr::T2, Gpr::T1, 24)
        });
    }

    golden!(load_findexed, |l| {
        findexed_cases(&mut l, |m, r, b, i, off| m.load_findexed(r, b, i, off));
    });

    golden!(store_findexed, |l| {
        findexed_cases(&mut l, |m, r, b, i, off| m.store_findexed(b, i, off, r));
    });

    const CTX_OFFSETS: [i32; 12] = [
        0,
        4,
        8,
        252,
        256,
        -8,
        4092,
        16380,
        32760,
        32768,
        40000,
        i32::MAX,
    ];

    golden!(load_ctx, |l| {
        for off in CTX_OFFSETS {
            l.case(format!("T0 = ctx[{off}]"), |m| m.load_ctx(Gpr::T0, off));
        }
        l.case("T2 = ctx[16]", |m| m.load_ctx(Gpr::T2, 16));
    });

    golden!(store_ctx, |l| {
        for off in CTX_OFFSETS {
            l.case(format!("ctx[{off}] = T0"), |m| m.store_ctx(off, Gpr::T0));
        }
        l.case("ctx[16] = T2", |m| m.store_ctx(16, Gpr::T2));
    });

    golden!(store_ctx_u32, |l| {
        for off in CTX_OFFSETS {
            l.case(format!("ctx[{off}] = 7u32"), |m| m.store_ctx_u32(off, 7));
        }
        for v in [0, 1, 0xFFFF, 0x1_0000, 0x1234_5678, 0x8000_0000, u32::MAX] {
            l.case(format!("ctx[16] = {v:#x}u32"), |m| m.store_ctx_u32(16, v));
        }
        l.case("ctx[40000] = 0u32", |m| m.store_ctx_u32(40000, 0));
        l.case("ctx[40000] = 0x12345678u32", |m| {
            m.store_ctx_u32(40000, 0x1234_5678)
        });
    });

    golden!(store_ctx_reg_u32, |l| {
        for off in CTX_OFFSETS {
            l.case(format!("ctx[{off}] = T0 as u32"), |m| {
                m.store_ctx_reg_u32(off, Gpr::T0)
            });
        }
        l.case("ctx[16] = T2 as u32", |m| m.store_ctx_reg_u32(16, Gpr::T2));
    });

    golden!(branch_stack_below, |l| {
        for off in [0, 8, 32760, 32768, -8, i32::MAX] {
            l.case(format!("ctx[{off}], forward"), |m| {
                let a = m.new_label();
                m.branch_stack_below(off, a);
                m.bind(a);
            });
        }
        l.case("ctx[24], backward", |m| {
            let a = m.new_label();
            m.bind(a);
            m.branch_stack_below(24, a);
        });
    });

    golden!(branch_flag_set, |l| {
        for off in [0, 8, 32760, 32768, -8, i32::MAX] {
            l.case(format!("ctx[{off}], forward"), |m| {
                let a = m.new_label();
                m.branch_flag_set(off, a);
                m.bind(a);
            });
        }
        l.case("ctx[72], backward", |m| {
            let a = m.new_label();
            m.bind(a);
            m.branch_flag_set(72, a);
        });
    });

    golden!(call_native, |l| {
        for g in GPRS {
            l.case(format!("entry {g:?}, frame [1, 2, 3]"), |m| {
                m.call_native(g, [1, 2, 3])
            });
        }
        for frame in [
            [0, 0, 0],
            [4095, 4096, 65535],
            [0x20_0000, 0x1F_FFFF, u32::MAX],
        ] {
            l.case(format!("entry T1, frame {frame:?}"), |m| {
                m.call_native(Gpr::T1, frame)
            });
        }
    });

    golden!(call_helper, |l| {
        const ADDR: usize = 0x0000_7F12_3456_7890;
        l.case("no arguments", |m| m.call_helper(ADDR, &[]));
        l.case("ctx", |m| m.call_helper(ADDR, &[HelperArg::Ctx]));
        l.case("T2, T1, T0", |m| {
            m.call_helper(
                ADDR,
                &[
                    HelperArg::Reg(Gpr::T2),
                    HelperArg::Reg(Gpr::T1),
                    HelperArg::Reg(Gpr::T0),
                ],
            )
        });
        l.case("six mixed", |m| {
            m.call_helper(
                ADDR,
                &[
                    HelperArg::Reg(Gpr::T1),
                    HelperArg::Ctx,
                    HelperArg::Imm(-1),
                    HelperArg::SlotAddr(Bank::F, 3),
                    HelperArg::Reg(Gpr::T0),
                    HelperArg::Imm(0x1234_5678_9ABC_DEF0),
                ],
            )
        });
        for bank in Bank::ALL {
            for slot in [0, 1, 4096, 70000, u32::MAX] {
                l.case(format!("slot addr {bank} {slot}"), |m| {
                    m.call_helper(ADDR, &[HelperArg::SlotAddr(bank, slot)])
                });
            }
        }
        for v in [0, 1, -1, 4096, i64::MIN, i64::MAX] {
            l.case(format!("imm {v:#x}"), |m| {
                m.call_helper(ADDR, &[HelperArg::Imm(v)])
            });
        }
        l.case("address 0", |m| m.call_helper(0, &[]));
        l.case("address usize::MAX", |m| m.call_helper(usize::MAX, &[]));
    });
}

// ---------------------------------------------------------------------------
// Structure: branch ranges, errors, extreme arguments (every host).
// ---------------------------------------------------------------------------

/// The disassembly of the last `n` instructions of `code`, without offsets.
fn tail(code: &[u8], n: usize) -> Vec<String> {
    let words = code.len() / 4;
    (words - n..words)
        .map(|k| {
            let word = u32::from_le_bytes(code[4 * k..4 * k + 4].try_into().expect("4 bytes"));
            decode(word, 4 * k)
        })
        .collect()
}

#[test]
fn backward_branch_near_is_one_bcond() {
    let code = assemble(|m| {
        let a = m.new_label();
        m.bind(a);
        // Just inside ±1 MiB: 2^18 - 2 words of padding, then cmp.
        m.pad_words((1 << 18) - 2);
        m.branch(Cond::Eq, Gpr::T0, Gpr::T1, a);
    });
    let t = tail(&code, 2);
    assert_eq!(t[0], "cmp x9, x10");
    assert_eq!(t[1], "b.eq $-0xffffc");
}

#[test]
fn backward_branch_far_is_inverted_bcond_over_b() {
    let code = assemble(|m| {
        let a = m.new_label();
        m.bind(a);
        m.pad_words(1 << 18);
        m.branch(Cond::Eq, Gpr::T0, Gpr::T1, a);
    });
    let t = tail(&code, 3);
    assert_eq!(t[0], "cmp x9, x10");
    assert_eq!(t[1], "b.ne $+0x8");
    assert_eq!(t[2], "b $-0x100008");
}

#[test]
fn forward_branch_far_resolves() {
    let code = assemble(|m| {
        let a = m.new_label();
        m.fp_branch(Cmp::Lt, Fpr::F0, Fpr::F1, a);
        m.pad_words(1 << 20);
        m.bind(a);
    });
    let words: Vec<String> = (0..3)
        .map(|k| {
            decode(
                u32::from_le_bytes(code[4 * k..4 * k + 4].try_into().unwrap()),
                4 * k,
            )
        })
        .collect();
    assert_eq!(words[0], "fcmp d0, d1");
    assert_eq!(words[1], "b.pl $+0x8");
    assert_eq!(words[2], "b $+0x400004");
}

#[test]
fn jump_beyond_128_mib_is_an_error() {
    let mut m = A64Masm::new();
    let a = m.new_label();
    m.jump(a);
    m.pad_words(1 << 25);
    m.bind(a);
    let err = m.finish().expect_err("out of range");
    assert!(err.contains("out of the branch's range"), "{err}");
}

#[test]
fn unbound_label_is_an_error() {
    let mut m = A64Masm::new();
    let a = m.new_label();
    m.branch(Cond::Ne, Gpr::T0, Gpr::T1, a);
    assert!(m.finish().is_err());
}

#[test]
fn label_bound_twice_is_an_error() {
    let mut m = A64Masm::new();
    let a = m.new_label();
    m.bind(a);
    m.jump(a);
    m.bind(a);
    assert!(m.finish().is_err());
}

#[test]
fn label_of_another_assembler_is_an_error() {
    let mut other = A64Masm::new();
    for _ in 0..5 {
        other.new_label();
    }
    let foreign = other.new_label();
    let mut m = A64Masm::new();
    m.jump(foreign);
    assert!(m.finish().is_err());
    let mut m = A64Masm::new();
    m.bind(foreign);
    assert!(m.finish().is_err());
}

#[test]
fn too_many_helper_arguments_is_an_error() {
    let mut m = A64Masm::new();
    m.call_helper(0x1000, &[HelperArg::Imm(0); MAX_HELPER_ARGS + 1]);
    let err = m.finish().expect_err("too many arguments");
    assert!(err.contains("arguments"), "{err}");
}

#[test]
fn offset_counts_bytes() {
    let mut m = A64Masm::new();
    assert_eq!(m.offset(), 0);
    m.prologue(CALL_DEPTH);
    assert_eq!(m.offset(), 40);
    m.load_imm(Gpr::T0, 0x1234_5678_9ABC_DEF0);
    assert_eq!(m.offset(), 56);
    let code = m.finish().expect("finish");
    assert_eq!(code.len(), 56);
}

/// Every method with extreme arguments: no panic, and everything decodes.
#[test]
fn extreme_arguments_never_panic() {
    let code = assemble(|m| {
        let a = m.new_label();
        m.prologue(CALL_DEPTH);
        m.bind(a);
        for bank in Bank::ALL {
            for slot in [u32::MAX, u32::MAX - 1, 1 << 29] {
                m.load_slot(Gpr::T0, bank, slot);
                m.store_slot(bank, slot, Gpr::T1);
                m.slot_addr(Gpr::T2, bank, slot);
                m.zero_slots(bank, slot, 3);
                m.zero_slots(bank, slot, u32::MAX);
                m.call_helper(usize::MAX, &[HelperArg::SlotAddr(bank, slot)]);
            }
            m.zero_slots(bank, 0, u32::MAX);
        }
        m.load_fslot(Fpr::F0, u32::MAX);
        m.store_fslot(u32::MAX, Fpr::F1);
        for v in [i64::MIN, i64::MAX, 0, -1] {
            m.load_imm(Gpr::T0, v);
            m.load_fimm(Fpr::F0, v as u64);
        }
        for imm in [i32::MIN, i32::MAX] {
            for op in ALU_OPS {
                m.alu_imm(op, Gpr::T0, Gpr::T0, imm);
            }
            for cond in CONDS {
                m.set_cond_imm(cond, Gpr::T0, Gpr::T1, imm);
                m.branch_imm(cond, Gpr::T0, imm, a);
            }
            m.load_mem(Gpr::T0, Gpr::T1, imm);
            m.load_mem_u32(Gpr::T0, Gpr::T1, imm);
            m.load_mem_u8(Gpr::T0, Gpr::T1, imm);
            m.load_indexed(Gpr::T0, Gpr::T1, Gpr::T2, imm);
            m.store_indexed(Gpr::T0, Gpr::T1, imm, Gpr::T2);
            m.load_indexed_u8(Gpr::T0, Gpr::T1, Gpr::T2, imm);
            m.store_indexed_u8(Gpr::T0, Gpr::T1, imm, Gpr::T2);
            m.load_findexed(Fpr::F0, Gpr::T1, Gpr::T2, imm);
            m.store_findexed(Gpr::T0, Gpr::T1, imm, Fpr::F2);
            m.load_ctx(Gpr::T0, imm);
            m.store_ctx(imm, Gpr::T0);
            m.store_ctx_u32(imm, u32::MAX);
            m.store_ctx_reg_u32(imm, Gpr::T0);
            m.branch_stack_below(imm, a);
            m.branch_flag_set(imm, a);
        }
        m.call_native(Gpr::T2, [u32::MAX; 3]);
        m.epilogue(Gpr::T2);
    });
    disasm(&code);
}

// ---------------------------------------------------------------------------
// Execution (aarch64 only).
// ---------------------------------------------------------------------------

#[cfg(target_arch = "aarch64")]
mod exec {
    use super::*;
    use memmap2::{Mmap, MmapMut};

    /// The native entry signature.
    type Entry = unsafe extern "C" fn(*mut u8, *mut i64, *mut f64, *mut u64) -> u32;

    /// Finished code, mapped executable (never writable and executable at
    /// once).
    struct Code {
        map: Mmap,
    }

    /// Make freshly written code visible to instruction fetch: clean the
    /// data cache and invalidate the instruction cache by line (sizes from
    /// CTR_EL0). Single-threaded tests need no cross-core synchronisation.
    fn flush_icache(start: *const u8, len: usize) {
        let ctr: u64;
        // SAFETY: CTR_EL0 is readable at EL0 on Linux; the cache
        // maintenance operations act on the caller's mapped range.
        unsafe {
            core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr);
            let dline = 4usize << ((ctr >> 16) & 0xF);
            let iline = 4usize << (ctr & 0xF);
            let (s, e) = (start as usize, start as usize + len);
            let mut a = s & !(dline - 1);
            while a < e {
                core::arch::asm!("dc cvau, {}", in(reg) a);
                a += dline;
            }
            core::arch::asm!("dsb ish");
            let mut a = s & !(iline - 1);
            while a < e {
                core::arch::asm!("ic ivau, {}", in(reg) a);
                a += iline;
            }
            core::arch::asm!("dsb ish", "isb");
        }
    }

    impl Code {
        fn new(bytes: &[u8]) -> Code {
            let mut map = MmapMut::map_anon(bytes.len().max(4)).expect("map");
            map[..bytes.len()].copy_from_slice(bytes);
            let map = map.make_exec().expect("make_exec");
            flush_icache(map.as_ptr(), bytes.len());
            Code { map }
        }

        fn addr(&self) -> usize {
            self.map.as_ptr() as usize
        }

        fn entry(&self) -> Entry {
            // SAFETY: the map holds a complete function with this
            // signature.
            unsafe { std::mem::transmute::<*const u8, Entry>(self.map.as_ptr()) }
        }
    }

    /// prologue → body → epilogue(T0).
    fn compile(body: impl FnOnce(&mut A64Masm)) -> Code {
        Code::new(&assemble(|m| {
            m.prologue(CALL_DEPTH);
            body(m);
            m.epilogue(Gpr::T0);
        }))
    }

    /// A fake context and the three banks of one frame.
    struct Frame {
        ctx: Vec<u8>,
        i: Vec<i64>,
        f: Vec<f64>,
        r: Vec<u64>,
    }

    impl Frame {
        fn new(slots: usize) -> Frame {
            Frame {
                ctx: vec![0; 1 << 16],
                i: vec![0; slots],
                f: vec![0.0; slots],
                r: vec![0; slots],
            }
        }

        fn call(&mut self, code: &Code) -> u32 {
            self.call_at(code, [0, 0, 0])
        }

        /// Call with the bases at slots `at` of each bank.
        fn call_at(&mut self, code: &Code, at: [usize; 3]) -> u32 {
            let f = code.entry();
            // SAFETY: generated code accesses the slots and context bytes
            // each test set up.
            unsafe {
                f(
                    self.ctx.as_mut_ptr(),
                    self.i.as_mut_ptr().add(at[0]),
                    self.f.as_mut_ptr().add(at[1]),
                    self.r.as_mut_ptr().add(at[2]),
                )
            }
        }
    }

    const INT_VALS: [i64; 15] = [
        0,
        1,
        -1,
        2,
        -2,
        63,
        64,
        65,
        -64,
        i64::MIN,
        i64::MAX,
        i64::MIN + 1,
        0x1234_5678_9ABC_DEF0,
        -0x0FED_CBA9_8765_4321,
        0xFFFF_FFFF,
    ];

    fn alu_ref(op: AluOp, a: i64, b: i64) -> i64 {
        match op {
            AluOp::Add => a.wrapping_add(b),
            AluOp::Sub => a.wrapping_sub(b),
            AluOp::Mul => a.wrapping_mul(b),
            AluOp::And => a & b,
            AluOp::Or => a | b,
            AluOp::Xor => a ^ b,
            AluOp::Shl => a.wrapping_shl(b as u32),
            AluOp::Sar => a.wrapping_shr(b as u32),
            AluOp::Shr => (a as u64).wrapping_shr(b as u32) as i64,
        }
    }

    fn cond_ref(cond: Cond, a: i64, b: i64) -> bool {
        let (ua, ub) = (a as u64, b as u64);
        match cond {
            Cond::Eq => a == b,
            Cond::Ne => a != b,
            Cond::Lt => a < b,
            Cond::Le => a <= b,
            Cond::Gt => a > b,
            Cond::Ge => a >= b,
            Cond::Ult => ua < ub,
            Cond::Ule => ua <= ub,
            Cond::Ugt => ua > ub,
            Cond::Uge => ua >= ub,
        }
    }

    /// Load `lhs` from i0 and `rhs` from i1 (when they are one register it
    /// holds i1), so the expected operands are (i0, i1) or (i1, i1).
    fn operands(l: Gpr, r: Gpr, a: i64, b: i64) -> (i64, i64) {
        if l == r { (b, b) } else { (a, b) }
    }

    #[test]
    fn alu_every_op_and_aliasing() {
        let mut fr = Frame::new(8);
        for op in ALU_OPS {
            for (d, l, r) in triples(GPRS) {
                let code = compile(|m| {
                    m.load_slot(l, Bank::I, 0);
                    m.load_slot(r, Bank::I, 1);
                    m.alu(op, d, l, r);
                    m.store_slot(Bank::I, 2, d);
                    m.load_imm(Gpr::T0, 0);
                });
                for a in INT_VALS {
                    for b in INT_VALS {
                        fr.i[..3].copy_from_slice(&[a, b, 0x5A5A]);
                        assert_eq!(fr.call(&code), 0);
                        let (x, y) = operands(l, r, a, b);
                        assert_eq!(
                            fr.i[2],
                            alu_ref(op, x, y),
                            "{op:?} {d:?}={l:?},{r:?} ({a}, {b})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn alu_imm_every_op_imm_and_aliasing() {
        let mut fr = Frame::new(64);
        for op in ALU_OPS {
            for (d, l) in pairs(GPRS) {
                let code = compile(|m| {
                    for (k, imm) in IMMS.into_iter().enumerate() {
                        m.load_slot(l, Bank::I, 0);
                        m.alu_imm(op, d, l, imm);
                        m.store_slot(Bank::I, 1 + k as u32, d);
                    }
                    m.load_imm(Gpr::T0, 0);
                });
                for a in INT_VALS {
                    fr.i.fill(0x5A5A);
                    fr.i[0] = a;
                    assert_eq!(fr.call(&code), 0);
                    for (k, imm) in IMMS.into_iter().enumerate() {
                        assert_eq!(
                            fr.i[1 + k],
                            alu_ref(op, a, i64::from(imm)),
                            "{op:?} {d:?}={l:?},{imm} ({a})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn neg_not_mov() {
        let mut fr = Frame::new(8);
        for (d, s) in pairs(GPRS) {
            let code = compile(|m| {
                m.load_slot(s, Bank::I, 0);
                m.neg(d, s);
                m.store_slot(Bank::I, 1, d);
                m.load_slot(s, Bank::I, 0);
                m.not(d, s);
                m.store_slot(Bank::I, 2, d);
                m.load_slot(s, Bank::I, 0);
                m.load_imm(d, 77);
                m.load_slot(s, Bank::I, 0);
                m.mov(d, s);
                m.store_slot(Bank::I, 3, d);
                m.load_imm(Gpr::T0, 0);
            });
            for a in INT_VALS {
                fr.i[..4].copy_from_slice(&[a, 1, 1, 1]);
                assert_eq!(fr.call(&code), 0);
                assert_eq!(fr.i[1..4], [a.wrapping_neg(), !a, a], "{d:?} {s:?} {a}");
            }
        }
    }

    /// What the overflow path of a tested `sdiv` leaves in its result.
    const OVERFLOWED: i64 = 0x0BAD;

    #[test]
    fn sdiv_srem_mul_high_every_aliasing() {
        let mut fr = Frame::new(8);
        for (d, l, r) in triples(GPRS) {
            let code = compile(|m| {
                m.load_slot(l, Bank::I, 0);
                m.load_slot(r, Bank::I, 1);
                m.mul_high(d, l, r);
                m.store_slot(Bank::I, 4, d);
                m.load_slot(l, Bank::I, 0);
                m.load_slot(r, Bank::I, 1);
                let (skip, overflow, divided) = (m.new_label(), m.new_label(), m.new_label());
                // The template rules out a zero divisor.
                m.branch_imm(Cond::Eq, r, 0, skip);
                m.sdiv(d, l, r, overflow);
                m.jump(divided);
                m.bind(overflow);
                m.load_imm(d, OVERFLOWED);
                m.bind(divided);
                m.store_slot(Bank::I, 2, d);
                m.load_slot(l, Bank::I, 0);
                m.load_slot(r, Bank::I, 1);
                m.srem(d, l, r);
                m.store_slot(Bank::I, 3, d);
                m.bind(skip);
                m.load_imm(Gpr::T0, 0);
            });
            for a in INT_VALS {
                for b in INT_VALS {
                    let (x, y) = operands(l, r, a, b);
                    fr.i[..5].copy_from_slice(&[a, b, 0, 0, 0]);
                    assert_eq!(fr.call(&code), 0);
                    let high = ((i128::from(x) * i128::from(y)) >> 64) as i64;
                    assert_eq!(fr.i[4], high, "{d:?}={l:?},{r:?} ({x}, {y})");
                    let (q, r) = match y {
                        0 => (0, 0),
                        _ => (x.checked_div(y).unwrap_or(OVERFLOWED), x.wrapping_rem(y)),
                    };
                    assert_eq!(fr.i[2..4], [q, r], "{d:?}={l:?},{r:?} ({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn set_cond_every_cond_and_aliasing() {
        let mut fr = Frame::new(8);
        for cond in CONDS {
            for (d, l, r) in triples(GPRS) {
                let code = compile(|m| {
                    m.load_slot(l, Bank::I, 0);
                    m.load_slot(r, Bank::I, 1);
                    m.load_imm(d, 0x77);
                    m.load_slot(l, Bank::I, 0);
                    m.load_slot(r, Bank::I, 1);
                    m.set_cond(cond, d, l, r);
                    m.store_slot(Bank::I, 2, d);
                    m.load_imm(Gpr::T0, 0);
                });
                for a in INT_VALS {
                    for b in INT_VALS {
                        fr.i[..3].copy_from_slice(&[a, b, 9]);
                        assert_eq!(fr.call(&code), 0);
                        let (x, y) = operands(l, r, a, b);
                        assert_eq!(fr.i[2], cond_ref(cond, x, y) as i64, "{cond:?} ({x}, {y})");
                    }
                }
            }
        }
    }

    #[test]
    fn set_cond_imm_every_cond_and_imm() {
        let mut fr = Frame::new(64);
        for cond in CONDS {
            for (d, l) in pairs(GPRS) {
                let code = compile(|m| {
                    for (k, imm) in IMMS.into_iter().enumerate() {
                        m.load_slot(l, Bank::I, 0);
                        m.set_cond_imm(cond, d, l, imm);
                        m.store_slot(Bank::I, 1 + k as u32, d);
                    }
                    m.load_imm(Gpr::T0, 0);
                });
                let mut vals: Vec<i64> = INT_VALS.to_vec();
                for imm in IMMS {
                    let v = i64::from(imm);
                    vals.extend([v, v.wrapping_sub(1), v.wrapping_add(1)]);
                }
                for a in vals {
                    fr.i.fill(9);
                    fr.i[0] = a;
                    assert_eq!(fr.call(&code), 0);
                    for (k, imm) in IMMS.into_iter().enumerate() {
                        let want = cond_ref(cond, a, i64::from(imm)) as i64;
                        assert_eq!(fr.i[1 + k], want, "{cond:?} {a} vs {imm}");
                    }
                }
            }
        }
    }

    /// `T0 = taken ? 1 : 0` through a forward branch, and through a
    /// backward one, emitted by `emit`.
    fn branch_shapes(emit: impl Fn(&mut A64Masm, <A64Masm as MacroAssembler>::Label)) -> [Code; 2] {
        let forward = compile(|m| {
            let taken = m.new_label();
            let end = m.new_label();
            emit(m, taken);
            m.load_imm(Gpr::T0, 0);
            m.jump(end);
            m.bind(taken);
            m.load_imm(Gpr::T0, 1);
            m.bind(end);
        });
        let backward = compile(|m| {
            let test = m.new_label();
            let taken = m.new_label();
            let end = m.new_label();
            m.jump(test);
            m.bind(taken);
            m.load_imm(Gpr::T0, 1);
            m.jump(end);
            m.bind(test);
            emit(m, taken);
            m.load_imm(Gpr::T0, 0);
            m.bind(end);
        });
        [forward, backward]
    }

    #[test]
    fn branch_every_cond_both_directions() {
        let mut fr = Frame::new(8);
        for cond in CONDS {
            for (l, r) in [(Gpr::T1, Gpr::T2), (Gpr::T2, Gpr::T0), (Gpr::T1, Gpr::T1)] {
                let codes = branch_shapes(|m, t| {
                    m.load_slot(l, Bank::I, 0);
                    m.load_slot(r, Bank::I, 1);
                    m.branch(cond, l, r, t);
                });
                for code in &codes {
                    for a in INT_VALS {
                        for b in INT_VALS {
                            fr.i[..2].copy_from_slice(&[a, b]);
                            let (x, y) = operands(l, r, a, b);
                            assert_eq!(
                                fr.call(code),
                                cond_ref(cond, x, y) as u32,
                                "{cond:?} {x} {y}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn branch_imm_every_cond_and_imm() {
        let mut fr = Frame::new(8);
        for cond in CONDS {
            for imm in IMMS {
                let codes = branch_shapes(|m, t| {
                    m.load_slot(Gpr::T2, Bank::I, 0);
                    m.branch_imm(cond, Gpr::T2, imm, t);
                });
                let v = i64::from(imm);
                for code in &codes {
                    for a in INT_VALS
                        .into_iter()
                        .chain([v, v.wrapping_sub(1), v.wrapping_add(1)])
                    {
                        fr.i[0] = a;
                        assert_eq!(
                            fr.call(code),
                            cond_ref(cond, a, v) as u32,
                            "{cond:?} {a} {imm}"
                        );
                    }
                }
            }
        }
    }

    /// Conditional branches over more than the ±1 MiB of `b.cond`.
    #[test]
    fn far_branches_execute() {
        const PAD: usize = 300_000;
        let mut fr = Frame::new(8);
        let forward = compile(|m| {
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
        let backward = compile(|m| {
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
        for code in [&forward, &backward] {
            for (a, want) in [(9, 1), (10, 0), (-5, 1), (i64::MAX, 0)] {
                fr.i[0] = a;
                assert_eq!(fr.call(code), want, "{a}");
            }
        }
    }

    const F_VALS: [f64; 16] = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1.5,
        -2.5,
        0.1,
        1e300,
        -1e-300,
        5e-324,
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
    ];

    fn same_f64(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn fp_op_every_op_and_aliasing() {
        let mut fr = Frame::new(8);
        for op in FP_OPS {
            for (d, l, r) in triples(FPRS) {
                let code = compile(|m| {
                    m.load_fslot(l, 0);
                    m.load_fslot(r, 1);
                    m.fp_op(op, d, l, r);
                    m.store_fslot(2, d);
                    m.load_imm(Gpr::T0, 0);
                });
                for a in F_VALS {
                    for b in F_VALS {
                        fr.f[..3].copy_from_slice(&[a, b, 7.0]);
                        assert_eq!(fr.call(&code), 0);
                        let (x, y) = if l == r { (b, b) } else { (a, b) };
                        let want = match op {
                            FpOp::Add => x + y,
                            FpOp::Sub => x - y,
                            FpOp::Mul => x * y,
                            FpOp::Div => x / y,
                        };
                        assert!(
                            same_f64(fr.f[2], want),
                            "{op:?} {x} {y}: {} vs {want}",
                            fr.f[2]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fp_unary_every_op() {
        let mut fr = Frame::new(8);
        for op in FP_UNARY {
            for (d, s) in pairs(FPRS) {
                let code = compile(|m| {
                    m.load_fslot(s, 0);
                    m.fp_unary(op, d, s);
                    m.store_fslot(1, d);
                    m.load_imm(Gpr::T0, 0);
                });
                for a in F_VALS
                    .into_iter()
                    .chain([2.5, -2.5, 4.0, 2.0, -0.5, 1e17 + 1.0])
                {
                    fr.f[..2].copy_from_slice(&[a, 7.0]);
                    assert_eq!(fr.call(&code), 0);
                    let got = fr.f[1];
                    match op {
                        // Sign bit operations, exact on NaNs too.
                        FpUnary::Neg => assert_eq!(got.to_bits(), (-a).to_bits(), "neg {a}"),
                        FpUnary::Abs => assert_eq!(got.to_bits(), a.abs().to_bits(), "abs {a}"),
                        FpUnary::Sqrt => assert!(same_f64(got, a.sqrt()), "sqrt {a}"),
                        FpUnary::Floor => assert!(same_f64(got, a.floor()), "floor {a}"),
                        FpUnary::Copy => assert_eq!(got.to_bits(), a.to_bits(), "copy {a}"),
                    }
                }
            }
        }
    }

    #[test]
    fn fp_set_cond_and_branch_with_nans() {
        let mut fr = Frame::new(8);
        for cmp in CMPS {
            let set = compile(|m| {
                m.load_fslot(Fpr::F1, 0);
                m.load_fslot(Fpr::F2, 1);
                m.fp_set_cond(cmp, Gpr::T1, Fpr::F1, Fpr::F2);
                m.mov(Gpr::T0, Gpr::T1);
            });
            let branches = branch_shapes(|m, t| {
                m.load_fslot(Fpr::F0, 0);
                m.load_fslot(Fpr::F2, 1);
                m.fp_branch(cmp, Fpr::F0, Fpr::F2, t);
            });
            let same = compile(|m| {
                m.load_fslot(Fpr::F0, 0);
                m.fp_set_cond(cmp, Gpr::T0, Fpr::F0, Fpr::F0);
            });
            for a in F_VALS {
                for b in F_VALS {
                    fr.f[..2].copy_from_slice(&[a, b]);
                    let want = cmp.float(a, b) as u32;
                    assert_eq!(fr.call(&set), want, "set {cmp:?} {a} {b}");
                    for code in &branches {
                        assert_eq!(fr.call(code), want, "branch {cmp:?} {a} {b}");
                    }
                    assert_eq!(fr.call(&same), cmp.float(a, a) as u32, "{cmp:?} {a} {a}");
                }
            }
        }
    }

    #[test]
    fn conversions() {
        let mut fr = Frame::new(8);
        for (g, r) in [(Gpr::T0, Fpr::F0), (Gpr::T1, Fpr::F2), (Gpr::T2, Fpr::F1)] {
            let code = compile(|m| {
                m.load_fslot(r, 0);
                m.f2i(g, r);
                m.store_slot(Bank::I, 0, g);
                m.load_slot(g, Bank::I, 1);
                m.i2f(r, g);
                m.store_fslot(1, r);
                m.load_imm(Gpr::T0, 0);
            });
            let floats = F_VALS.into_iter().chain([
                1e19,
                -1e19,
                9.2e18,
                -9.2e18,
                9_223_372_036_854_775_807.0,
                -9_223_372_036_854_775_808.0,
                -1.5,
                2.999,
                -2.999,
            ]);
            for (x, n) in floats.zip(INT_VALS.into_iter().cycle()) {
                fr.i[..2].copy_from_slice(&[0x5A, n]);
                fr.f[..2].copy_from_slice(&[x, 7.0]);
                assert_eq!(fr.call(&code), 0);
                assert_eq!(fr.i[0], x as i64, "f2i {x}");
                assert_eq!(fr.f[1].to_bits(), (n as f64).to_bits(), "i2f {n}");
            }
        }
    }

    #[test]
    fn constants() {
        let ints: Vec<i64> = INT_VALS
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
        let floats: Vec<u64> = F_VALS
            .into_iter()
            .chain([0.5, 31.0, 0.125, 0.0625, -17.0, f64::MIN_POSITIVE])
            .map(f64::to_bits)
            .chain([0x7FF0_0000_DEAD_BEEF, 0xFFF8_0000_0000_0001])
            .collect();
        let code = compile(|m| {
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
        let mut fr = Frame::new(64);
        assert_eq!(fr.call(&code), 0);
        assert_eq!(fr.i[..ints.len()], ints[..]);
        let got: Vec<u64> = fr.f[..floats.len()].iter().map(|f| f.to_bits()).collect();
        assert_eq!(got, floats);
    }

    const BIG: usize = 70_000;
    const BIG_SLOTS: [u32; 10] = [0, 1, 4095, 4096, 4097, 32767, 32768, 65535, 65536, 69_000];
    /// Where `slots_of_a_large_frame` puts its results, 4 i slots per case.
    const RESULTS: u32 = 69_100;

    #[test]
    fn slots_of_a_large_frame() {
        let mut fr = Frame::new(BIG);
        let code = compile(|m| {
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
        assert_eq!(fr.call(&code), 0);
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

    #[test]
    fn zero_slots_exact_ranges() {
        const SENTINEL: i64 = 0x5A5A_5A5A;
        let cases: [(u32, u32); 16] = [
            (0, 0),
            (0, 1),
            (3, 7),
            (0, 16),
            (1, 17),
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
        let mut fr = Frame::new(BIG + 1);
        for bank in Bank::ALL {
            for (first, count) in cases {
                let code = compile(|m| {
                    m.zero_slots(bank, first, count);
                    m.load_imm(Gpr::T0, 0);
                });
                fr.i.fill(SENTINEL);
                fr.f.fill(f64::from_bits(SENTINEL as u64));
                fr.r.fill(SENTINEL as u64);
                assert_eq!(fr.call(&code), 0);
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

    #[test]
    fn load_mem_any_offset() {
        const LEN: usize = 1 << 18;
        let buf = pattern(LEN);
        let mid = LEN / 2;
        let offsets: Vec<i32> = OFFSETS
            .into_iter()
            .filter(|o| o.unsigned_abs() < (mid as u32) - 16)
            .collect();
        let mut fr = Frame::new(3 * offsets.len() + 1);
        for (d, b) in pairs(GPRS) {
            let code = compile(|m| {
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
            assert_eq!(fr.call(&code), 0);
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

    #[test]
    fn indexed_loads_and_stores() {
        const LEN: usize = 1 << 15;
        let offsets = [0, 8, -8, 16, -40, 4096, 20000, -20000, 4];
        let indices = [0i64, 1, -1, 5, -7, 100];
        // With base and index one register the address is 9 * base: not
        // in any buffer; the listings cover that shape.
        for (r, b, i) in triples(GPRS).into_iter().filter(|&(_, b, i)| b != i) {
            // r = [b + 8i + off]; [b + 8i + off] = r (after r += 1, or the
            // base or index when r is one of them); f64 at off + 8 doubled.
            let code = compile(|m| {
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
                let mut fr = Frame::new(16);
                fr.i[0] = base;
                fr.i[1] = idx;
                assert_eq!(fr.call(&code), 0);
                assert_eq!(
                    fr.r[..want_r.len()],
                    want_r[..],
                    "{r:?} {b:?} {i:?} idx {idx}"
                );
                assert!(mem == want, "{r:?} {b:?} {i:?} idx {idx}: memory");
            }
        }
    }

    #[test]
    fn byte_indexed_loads_and_stores() {
        const LEN: usize = 1 << 16;
        let offsets = [0, 16, -8, 1, 4095, 4096, 20000, -20000];
        let indices = [0i64, 1, -1, 7, 300];
        for (r, b, i) in triples(GPRS)
            .into_iter()
            .filter(|&(r, b, i)| b != i && r != b && r != i)
        {
            // r = [b + i + off] as u8; [b + i + off] = r + 255 (its low
            // byte: r - 1), slot k gets the loaded value.
            let code = compile(|m| {
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
                let mut fr = Frame::new(16);
                fr.i[0] = base;
                fr.i[1] = idx;
                assert_eq!(fr.call(&code), 0);
                assert_eq!(
                    fr.r[..want_r.len()],
                    want_r[..],
                    "{r:?} {b:?} {i:?} idx {idx}"
                );
                assert!(mem == want, "{r:?} {b:?} {i:?} idx {idx}: memory");
            }
        }
    }

    #[test]
    fn context_accesses() {
        let offsets = [
            0i32, 4, 8, 252, 256, 4092, 16380, 32760, 32768, 40000, 65528,
        ];
        let code = compile(|m| {
            for (k, &off) in offsets.iter().enumerate() {
                m.load_ctx(GPRS[k % 3], off);
                m.store_slot(Bank::I, k as u32, GPRS[k % 3]);
                m.load_slot(GPRS[(k + 1) % 3], Bank::I, 20 + k as u32);
                m.store_ctx(off, GPRS[(k + 1) % 3]);
            }
            m.load_imm(Gpr::T0, 0);
        });
        let mut fr = Frame::new(64);
        for (k, b) in fr.ctx.iter_mut().enumerate() {
            *b = (k * 7 + k / 256) as u8;
        }
        let before = fr.ctx.clone();
        for k in 0..offsets.len() {
            fr.i[20 + k] = 0x1111_0000_0000_0000 + k as i64;
        }
        assert_eq!(fr.call(&code), 0);
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
        assert!(fr.ctx == want, "store_ctx");

        let vals = [0u32, 1, 0xFFFF, 0x1_0000, 0x1234_5678, u32::MAX];
        let offsets = [0i32, 4, 6, 1, 252, 256, 16380, 16384, 40000, 65532, -0];
        let code = compile(|m| {
            for (k, &off) in offsets.iter().enumerate() {
                m.store_ctx_u32(off, vals[k % vals.len()]);
            }
            m.load_imm(Gpr::T0, 0);
        });
        let mut fr = Frame::new(64);
        fr.ctx.fill(0xEE);
        let mut want = fr.ctx.clone();
        assert_eq!(fr.call(&code), 0);
        for (k, &off) in offsets.iter().enumerate() {
            let o = off as usize;
            want[o..o + 4].copy_from_slice(&vals[k % vals.len()].to_le_bytes());
        }
        assert!(fr.ctx == want, "store_ctx_u32");

        let code = compile(|m| {
            for (k, &off) in offsets.iter().enumerate() {
                let g = GPRS[k % 3];
                m.load_slot(g, Bank::I, k as u32);
                m.store_ctx_reg_u32(off, g);
            }
            m.load_imm(Gpr::T0, 0);
        });
        let mut fr = Frame::new(64);
        fr.ctx.fill(0xEE);
        let mut want = fr.ctx.clone();
        for k in 0..offsets.len() {
            fr.i[k] = (0xABCD_0000_0000_0000u64 as i64) | (k as i64 * 0x0101_0101);
        }
        assert_eq!(fr.call(&code), 0);
        for (k, &off) in offsets.iter().enumerate() {
            let o = off as usize;
            want[o..o + 4].copy_from_slice(&(fr.i[k] as u32).to_le_bytes());
        }
        assert!(fr.ctx == want, "store_ctx_reg_u32");
    }

    #[test]
    fn branch_stack_below_compares_sp() {
        let here = 0u8;
        let near_sp = std::hint::black_box(&here) as *const u8 as u64;
        for off in [8i32, 4096, 40000] {
            let codes = branch_shapes(|m, t| m.branch_stack_below(off, t));
            for (limit, want) in [
                (0u64, 0),
                (u64::MAX, 1),
                (near_sp + 0x1_0000, 1),
                (near_sp - 0x10_0000, 0),
            ] {
                for code in &codes {
                    let mut fr = Frame::new(4);
                    let o = off as usize;
                    fr.ctx[o..o + 8].copy_from_slice(&limit.to_le_bytes());
                    assert_eq!(fr.call(code), want, "limit {limit:#x} at {off}");
                }
            }
        }
    }

    #[test]
    fn branch_flag_set_tests_the_byte_behind_the_pointer() {
        for off in [8i32, 4096, 40000] {
            let codes = branch_shapes(|m, t| m.branch_flag_set(off, t));
            for (flag, want) in [(0u8, 0), (1, 1), (0x80, 1), (0xff, 1)] {
                // The bytes around the flag must not matter.
                let bytes = [0xffu8, flag, 0xff];
                let ptr = &bytes[1] as *const u8 as u64;
                for code in &codes {
                    let mut fr = Frame::new(4);
                    let o = off as usize;
                    fr.ctx[o..o + 8].copy_from_slice(&ptr.to_le_bytes());
                    assert_eq!(fr.call(code), want, "flag {flag:#x} at {off}");
                }
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

    #[test]
    fn call_helper_every_argument_permutation() {
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
        let code = compile(|m| {
            for (k, perm) in perms.iter().enumerate() {
                for (g, v) in GPRS.into_iter().zip(regs) {
                    m.load_imm(g, v);
                }
                m.call_helper(hash6 as *const () as usize, perm);
                m.store_slot(Bank::I, k as u32, Gpr::T0);
            }
            m.load_imm(Gpr::T0, 0);
        });
        let mut fr = Frame::new(BIG + 1);
        assert_eq!(fr.call(&code), 0);
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

    #[test]
    fn call_helper_fewer_arguments() {
        let code = compile(|m| {
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
        let mut fr = Frame::new(5000);
        assert_eq!(fr.call(&code), 0);
        let rb = fr.r.as_ptr() as u64;
        let ib = fr.i.as_ptr() as u64;
        assert_eq!(fr.i[0], 42);
        assert_eq!(fr.i[1] as u64, hash2(5, rb + 8 * 4096));
        assert_eq!(fr.i[2] as u64, hash2(ib + 24, i64::MIN as u64));
    }

    #[test]
    fn call_native_generated_callee() {
        // Callee: i0 += 100; f0 *= 2; r0 += 1; i1 = ctx[16]; i2 = its
        // bases' distances; status 7 (upper bits dropped).
        let callee = compile(|m| {
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
            let caller = compile(|m| {
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
            let mut fr = Frame::new(BIG);
            let [a, b, c] = frame.map(|x| x as usize);
            fr.i[a] = 1;
            fr.f[b] = 1.5;
            fr.r[c] = 10;
            fr.ctx[16..24].copy_from_slice(&0x0DDB_BA11u64.to_le_bytes());
            assert_eq!(fr.call(&caller), 3);
            assert_eq!(fr.i[a], 101, "{frame:?}");
            assert_eq!(fr.f[b], 3.0, "{frame:?}");
            assert_eq!(fr.r[c], 11, "{frame:?}");
            assert_eq!(fr.i[a + 1], 0x0DDB_BA11, "{frame:?}");
            assert_eq!(fr.i[2], 7, "status zero-extended");
            assert_eq!(fr.r[1], -9i64 as u64);
            assert_eq!(fr.f[1], 0.75);
            assert_eq!(fr.ctx[8..16], (-9i64).to_le_bytes());
        }
    }

    #[test]
    fn prologue_loads_the_call_depth() {
        for g in GPRS {
            for delta in [0, 1, -1] {
                let code = compile(|m| {
                    m.call_depth(g, delta);
                    m.mov(Gpr::T0, g);
                });
                let mut fr = Frame::new(1);
                let at = CALL_DEPTH as usize;
                fr.ctx[at..at + 8].copy_from_slice(&41u64.to_le_bytes());
                assert_eq!(fr.call(&code), (41 + delta) as u32, "{g:?} {delta}");
            }
        }
    }

    #[test]
    fn epilogue_returns_low_32_bits() {
        for g in GPRS {
            let code = Code::new(&assemble(|m| {
                m.prologue(CALL_DEPTH);
                m.load_imm(g, 0x7654_3210_8000_0005);
                m.epilogue(g);
            }));
            let mut fr = Frame::new(1);
            assert_eq!(fr.call(&code), 0x8000_0005);
        }
    }
}
