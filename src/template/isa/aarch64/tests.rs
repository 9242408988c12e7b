//! The aarch64 adapter of the macro-assembler test plan
//! ([`test_plan`](crate::template::isa::test_plan)), and the tests only
//! aarch64 has.
//!
//! - Golden listings (every host): disassembled with yaxpeax-arm, compared
//!   with `tests/golden/aarch64/<method>.txt` (`TIERJIT_BLESS=1`
//!   re-blesses). Every word must decode.
//! - Structure (every host): branch forms by distance, the 128 MiB limit of
//!   `b`, exact byte counts.
//! - Execution (aarch64 only, e.g. under qemu): the plan's; code is made
//!   visible to instruction fetch by cache maintenance, and f64 NaN
//!   results are checked as "some NaN" (only sign operations are exact).

use crate::template::masm::AsmError;
use crate::template::tests::{data_lines, segments};
use std::fmt::Write as _;
use std::ops::Range;

use yaxpeax_arch::{Arch, Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::ARMv8;

use super::A64Masm;
use crate::bytecode::{Bank, Cmp};
use crate::runtime::context::offsets::CALL_DEPTH;
use crate::runtime::float;
use crate::template::isa::test_plan::{
    ALU_OPS, CMPS, CONDS, FP_OPS, FP_UNARY, FPRS, FpWant, GPRS, Listing, TestIsa, assemble,
    jump_table_cases, pairs, plan_tests, shared_cases, triples,
};
use crate::template::masm::{Cond, FpOp, FpUnary, Fpr, Gpr, HelperArg, MacroAssembler};

/// The aarch64 adapter.
pub struct A64;

impl TestIsa for A64 {
    type Masm = A64Masm;

    const NAME: &'static str = "aarch64";
    const LABELS_LISTING: &'static str = "labels";
    const EXTRA_LISTINGS: &'static [&'static str] = &[];

    fn masm() -> A64Masm {
        A64Masm::new()
    }

    fn golden_masm() -> A64Masm {
        A64Masm::new()
    }

    fn disassemble(code: &[u8], data: &[Range<usize>]) -> String {
        disasm(code, data)
    }

    fn write_case(out: &mut String, title: &str, disassembly: &str) {
        writeln!(out, "# {title}").expect("write");
        out.push_str(disassembly);
        out.push('\n');
    }

    fn prepare_exec(code: *const u8, len: usize) {
        #[cfg(target_arch = "aarch64")]
        flush_icache(code, len);
        #[cfg(not(target_arch = "aarch64"))]
        let _ = (code, len);
    }

    /// `mov x0, sp; ret`: the stack pointer at its call site.
    fn stack_probe() -> &'static [u8] {
        &[0xe0, 0x03, 0x00, 0x91, 0xc0, 0x03, 0x5f, 0xd6]
    }

    /// Rust's result; which NaN comes out is not checked.
    fn fp_op_model(op: FpOp, x: f64, y: f64) -> FpWant {
        FpWant::value(match op {
            FpOp::Add => x + y,
            FpOp::Sub => x - y,
            FpOp::Mul => x * y,
            FpOp::Div => x / y,
        })
    }

    /// Sign-bit operations and ceil, trunc and round are exact on NaNs
    /// too; `sqrt` and `floor` give Rust's result, or some NaN.
    fn fp_unary_model(op: FpUnary, x: f64, _variant: &str) -> FpWant {
        match op {
            FpUnary::Neg => FpWant::Bits((-x).to_bits()),
            FpUnary::Abs => FpWant::Bits(x.abs().to_bits()),
            FpUnary::Copy => FpWant::Bits(x.to_bits()),
            FpUnary::Sqrt => FpWant::value(x.sqrt()),
            FpUnary::Floor => FpWant::value(x.floor()),
            // Exact, NaNs too: quieted with their payload.
            FpUnary::Ceil => FpWant::Bits(float::ceil(x).to_bits()),
            FpUnary::Trunc => FpWant::Bits(float::trunc(x).to_bits()),
            FpUnary::Round => FpWant::Bits(float::round_ties_even(x).to_bits()),
        }
    }

    fn golden_cases(name: &str, l: &mut Listing<A64>) {
        match name {
            "prologue" => {
                l.case("prologue", |m| m.prologue(CALL_DEPTH));
            }
            "call_depth" => {
                for g in GPRS {
                    for delta in [0, 1, -1, i32::MIN, i32::MAX] {
                        l.case(format!("call_depth {g:?}, {delta}"), |m| {
                            m.call_depth(g, delta)
                        });
                    }
                }
            }
            "epilogue" => {
                for g in GPRS {
                    l.case(format!("epilogue {g:?}"), |m| m.epilogue(g));
                }
            }
            "labels" => {
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
            }
            "load_slot" => {
                slot_cases(l, |m, g, bank, slot| m.load_slot(g, bank, slot));
            }
            "store_slot" => {
                slot_cases(l, |m, g, bank, slot| m.store_slot(bank, slot, g));
            }
            "slot_addr" => {
                slot_cases(l, |m, g, bank, slot| m.slot_addr(g, bank, slot));
            }
            "load_fslot" => {
                fslot_cases(l, |m, r, slot| m.load_fslot(r, slot));
            }
            "store_fslot" => {
                fslot_cases(l, |m, r, slot| m.store_fslot(slot, r));
            }
            "zero_slots" => {
                let cases: [(u32, u32); 20] = [
                    (0, 0),
                    (0, 1),
                    (0, 2),
                    (1, 7),
                    (0, 23),
                    (2, 18),
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
            }
            "load_imm" => {
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
            }
            "load_fimm" => {
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
            }
            "mov" => {
                for (d, s) in pairs(&GPRS) {
                    l.case(format!("{d:?} = {s:?}"), |m| m.mov(d, s));
                }
            }
            "alu" => {
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
            }
            "alu_imm" => {
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
            }
            "neg" => {
                for (d, s) in pairs(&GPRS) {
                    l.case(format!("{d:?} = -{s:?}"), |m| m.neg(d, s));
                }
            }
            "not" => {
                for (d, s) in pairs(&GPRS) {
                    l.case(format!("{d:?} = !{s:?}"), |m| m.not(d, s));
                }
            }
            "sdiv" => {
                for (d, a, b) in triples(&GPRS) {
                    l.case(format!("{d:?} = {a:?} / {b:?} (overflow: L); L:"), |m| {
                        let overflow = m.new_label();
                        m.sdiv(d, a, b, overflow);
                        m.bind(overflow);
                    });
                }
            }
            "srem" => {
                for (d, a, b) in triples(&GPRS) {
                    l.case(format!("{d:?} = {a:?} % {b:?}"), |m| m.srem(d, a, b));
                }
            }
            "mul_high" => {
                for (d, a, b) in triples(&GPRS) {
                    l.case(format!("{d:?} = mulh({a:?}, {b:?})"), |m| {
                        m.mul_high(d, a, b)
                    });
                }
            }
            "set_cond" => {
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
            }
            "set_cond_imm" => {
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
            }
            "branch" => {
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
            }
            "jump_table" => jump_table_cases(l),
            "branch_imm" => {
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
            }
            "fp_op" => {
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
            }
            "fp_unary" => {
                for op in FP_UNARY {
                    for (d, s) in [(Fpr::F0, Fpr::F1), (Fpr::F2, Fpr::F2)] {
                        l.case(format!("{op:?} {d:?} = {s:?}"), |m| m.fp_unary(op, d, s));
                    }
                }
            }
            "fp_set_cond" => {
                for cmp in CMPS {
                    l.case(format!("{cmp:?} T0 = F0, F1"), |m| {
                        m.fp_set_cond(cmp, Gpr::T0, Fpr::F0, Fpr::F1)
                    });
                }
                l.case("Le T2 = F2, F2", |m| {
                    m.fp_set_cond(Cmp::Le, Gpr::T2, Fpr::F2, Fpr::F2)
                });
            }
            "fp_branch" => {
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
            }
            "i2f" => {
                for d in FPRS {
                    for s in GPRS {
                        l.case(format!("{d:?} = {s:?}"), |m| m.i2f(d, s));
                    }
                }
            }
            "f2i" => {
                for d in GPRS {
                    for s in FPRS {
                        l.case(format!("{d:?} = {s:?}"), |m| m.f2i(d, s));
                    }
                }
            }
            "load_mem" => {
                mem_cases(l, |m, d, b, off| m.load_mem(d, b, off));
            }
            "store_mem" => {
                mem_cases(l, |m, s, b, off| m.store_mem(b, off, s));
            }
            "load_mem_u32" => {
                mem_cases(l, |m, d, b, off| m.load_mem_u32(d, b, off));
            }
            "load_mem_u8" => {
                mem_cases(l, |m, d, b, off| m.load_mem_u8(d, b, off));
            }
            "load_indexed" => {
                indexed_cases(l, 8, |m, r, b, i, off| m.load_indexed(r, b, i, off));
            }
            "store_indexed" => {
                indexed_cases(l, 8, |m, r, b, i, off| m.store_indexed(b, i, off, r));
            }
            "load_indexed_u8" => {
                indexed_cases(l, 1, |m, r, b, i, off| m.load_indexed_u8(r, b, i, off));
            }
            "store_indexed_u8" => {
                indexed_cases(l, 1, |m, r, b, i, off| m.store_indexed_u8(b, i, off, r));
            }
            "load_findexed" => {
                findexed_cases(l, |m, r, b, i, off| m.load_findexed(r, b, i, off));
            }
            "store_findexed" => {
                findexed_cases(l, |m, r, b, i, off| m.store_findexed(b, i, off, r));
            }
            "load_ctx" => {
                for off in CTX_OFFSETS {
                    l.case(format!("T0 = ctx[{off}]"), |m| m.load_ctx(Gpr::T0, off));
                }
                l.case("T2 = ctx[16]", |m| m.load_ctx(Gpr::T2, 16));
            }
            "store_ctx" => {
                for off in CTX_OFFSETS {
                    l.case(format!("ctx[{off}] = T0"), |m| m.store_ctx(off, Gpr::T0));
                }
                l.case("ctx[16] = T2", |m| m.store_ctx(16, Gpr::T2));
            }
            "store_ctx_u32" => {
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
            }
            "store_ctx_reg_u32" => {
                for off in CTX_OFFSETS {
                    l.case(format!("ctx[{off}] = T0 as u32"), |m| {
                        m.store_ctx_reg_u32(off, Gpr::T0)
                    });
                }
                l.case("ctx[16] = T2 as u32", |m| m.store_ctx_reg_u32(16, Gpr::T2));
            }
            "branch_stack_below" => {
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
            }
            "branch_flag_set" => {
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
            }
            "call_native" => {
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
            }
            "call_helper" => {
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
            }
            _ if shared_cases(name, l) => {}
            _ => panic!("no aarch64 listing {name}"),
        }
    }
}

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

fn slot_cases(l: &mut Listing<A64>, f: impl Fn(&mut A64Masm, Gpr, Bank, u32)) {
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

fn fslot_cases(l: &mut Listing<A64>, f: impl Fn(&mut A64Masm, Fpr, u32)) {
    for slot in SLOTS {
        l.case(format!("slot {slot}, F0"), |m| f(m, Fpr::F0, slot));
    }
    for r in [Fpr::F1, Fpr::F2] {
        l.case(format!("slot 3, {r:?}"), |m| f(m, r, 3));
        l.case(format!("slot 65535, {r:?}"), |m| f(m, r, 65535));
    }
}

fn mem_cases(l: &mut Listing<A64>, f: impl Fn(&mut A64Masm, Gpr, Gpr, i32)) {
    for off in OFFSETS {
        l.case(format!("T0, [T1 + {off} ({off:#x})]"), |m| {
            f(m, Gpr::T0, Gpr::T1, off)
        });
    }
    l.case("T2, [T2 + 8]", |m| f(m, Gpr::T2, Gpr::T2, 8));
    l.case("T2, [T2 + 40000]", |m| f(m, Gpr::T2, Gpr::T2, 40000));
}

const INDEXED_OFFSETS: [i32; 8] = [0, 8, -8, 4, 4096, 40000, i32::MIN, i32::MAX];

/// Cases of an access to `[base + scale * index + offset]`.
fn indexed_cases(l: &mut Listing<A64>, scale: u8, f: impl Fn(&mut A64Masm, Gpr, Gpr, Gpr, i32)) {
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

fn findexed_cases(l: &mut Listing<A64>, f: impl Fn(&mut A64Masm, Fpr, Gpr, Gpr, i32)) {
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
fn disasm(code: &[u8], data: &[Range<usize>]) -> String {
    assert_eq!(code.len() % 4, 0, "code is whole words");
    let mut out = String::new();
    for (range, is_data) in segments(code.len(), data) {
        if is_data {
            for (at, line) in data_lines(code, &range) {
                writeln!(out, "{at:5x}: {line}").expect("write");
            }
            continue;
        }
        for (k, chunk) in code[range.clone()].chunks(4).enumerate() {
            let at = range.start + 4 * k;
            let word = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
            writeln!(out, "{at:5x}: {word:08x}  {}", decode(word, at)).expect("write");
        }
    }
    out
}

#[cfg(target_arch = "aarch64")]
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

plan_tests!(A64, target_arch = "aarch64");

// ---------------------------------------------------------------------------
// Structure beyond the plan: branch ranges, byte counts (every host).
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
    let code = assemble::<A64>(|m| {
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
    let code = assemble::<A64>(|m| {
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
    let code = assemble::<A64>(|m| {
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
    let mut m = A64::masm();
    let a = m.new_label();
    m.jump(a);
    m.pad_words(1 << 25);
    m.bind(a);
    let err = m.finish().expect_err("out of range");
    assert!(matches!(err, AsmError::OutOfRange(_)), "{err}");
}

#[test]
fn prologue_and_load_imm_sizes() {
    let mut m = A64::masm();
    assert_eq!(m.offset(), 0);
    m.prologue(CALL_DEPTH);
    assert_eq!(m.offset(), 40);
    m.load_imm(Gpr::T0, 0x1234_5678_9ABC_DEF0);
    assert_eq!(m.offset(), 56);
    let code = m.finish().expect("finish");
    assert_eq!(code.len(), 56);
}

/// `PROLOGUE_CFI` takes effect right after the instructions it describes,
/// and says where each saved register is, relative to the CFA (the
/// caller's sp).
#[test]
fn prologue_cfi_follows_the_prologue() {
    use super::abi::{FRAME_SIZE, PROLOGUE_CFI};
    use super::regs::{CTX, DEPTH, F_BASE, I_BASE, R_BASE};
    use gimli::write::CallFrameInstruction as Cfi;
    use gimli::{AArch64, Register};
    let code = crate::template::isa::test_plan::assemble::<A64>(|m| m.prologue(CALL_DEPTH));
    let listing = <A64 as TestIsa>::disassemble(&code[..20], &[]);
    let frame = FRAME_SIZE as i32;
    let lines: Vec<&str> = listing.lines().collect();
    let want_insns = [
        format!("stp x29, x30, [sp, #-0x{frame:x}]!"),
        "mov x29, sp".to_string(),
        format!("stp x{I_BASE}, x{F_BASE}, [sp, #0x10]"),
        format!("stp x{R_BASE}, x{CTX}, [sp, #0x20]"),
        format!("str x{DEPTH}, [sp, #0x30]"),
    ];
    for (line, want) in lines.iter().zip(&want_insns) {
        assert!(line.ends_with(want.as_str()), "{line:?} is not {want:?}");
    }
    let r = |n: u8| Register(u16::from(n));
    // Saved at sp + k after the first instruction, that is CFA - frame + k.
    let want = vec![
        (4, Cfi::CfaOffset(frame)),
        (4, Cfi::Offset(AArch64::X29, -frame)),
        (4, Cfi::Offset(AArch64::X30, 8 - frame)),
        (8, Cfi::CfaRegister(AArch64::X29)),
        (12, Cfi::Offset(r(I_BASE), 16 - frame)),
        (12, Cfi::Offset(r(F_BASE), 24 - frame)),
        (16, Cfi::Offset(r(R_BASE), 32 - frame)),
        (16, Cfi::Offset(r(CTX), 40 - frame)),
        (20, Cfi::Offset(r(DEPTH), 48 - frame)),
    ];
    assert_eq!(*PROLOGUE_CFI, want);
}
