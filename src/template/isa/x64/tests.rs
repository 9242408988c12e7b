//! The x86-64 adapter of the macro-assembler test plan
//! ([`test_plan`](crate::template::isa::test_plan)), and the tests only
//! x86-64 has.
//!
//! - Golden listings: disassembled by iced-x86 (an independent decoder:
//!   every byte must decode to a valid instruction), compared with
//!   `tests/golden/x64/<method>.txt` (`TIERJIT_BLESS=1` rewrites them).
//!   Beyond the plan: `floor` without SSE4.1 (a call to Rust, its address
//!   masked).
//! - Execution (x86-64 hosts only): the plan's, plus the callee-saved
//!   registers around the native entry; `floor` runs with and without
//!   SSE4.1 (when the host has it), and f64 results are checked bit for bit
//!   against SSE2's NaN rules.
//! - The parallel move of helper arguments, by simulation.

use std::fmt::Write as _;
use std::ops::Range;

use dynasmrt::x64::Rq;
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

use super::abi::{ARG_REGS, sequence_moves};
use super::{X64Features, X64Masm};
use crate::bytecode::Bank;
use crate::runtime::context::offsets::CALL_DEPTH;
use crate::runtime::float;
use crate::template::isa::test_plan::{
    ALU_OPS, CMPS, CONDS, FP_OPS, FP_UNARY, FPRS, FpWant, GPRS, IMM64S, Listing, TestIsa,
    check_listing, jump_table_cases, pairs, plan_tests, shared_cases, triples,
};
use crate::template::masm::{BitCount, Cond, FpOp, FpUnary, Fpr, Gpr, HelperArg, MacroAssembler};
use crate::template::tests::{data_lines, segments};

/// The x86-64 adapter.
pub struct X64;

/// SSE2's quiet bit of a NaN.
const QUIET: u64 = 1 << 51;
/// x86's default NaN ("real indefinite").
const DEFAULT_NAN: u64 = 0xfff8_0000_0000_0000;

impl TestIsa for X64 {
    type Masm = X64Masm;

    const NAME: &'static str = "x64";
    const LABELS_LISTING: &'static str = "jump";
    const EXTRA_LISTINGS: &'static [&'static str] = &["fp_floor_call", "baseline_fallbacks"];

    fn masm() -> X64Masm {
        X64Masm::new()
    }

    fn golden_masm() -> X64Masm {
        X64Masm::with_features(X64Features::ALL)
    }

    fn disassemble(code: &[u8], data: &[Range<usize>]) -> String {
        disassemble_with_data(code, data)
    }

    fn write_case(out: &mut String, title: &str, disassembly: &str) {
        writeln!(out, "; {title}").unwrap();
        out.push_str(disassembly);
    }

    /// Without SSE4.1 the call's target is a host address: masked.
    fn postprocess(name: &str, text: String) -> String {
        if name == "fp_floor_call" || name == "baseline_fallbacks" {
            mask_addresses(&text)
        } else {
            text
        }
    }

    /// `lea rax, [rsp + 8]; ret`: the stack pointer of its call site.
    fn stack_probe() -> &'static [u8] {
        &[0x48, 0x8d, 0x44, 0x24, 0x08, 0xc3]
    }

    /// SSE2 scalar arithmetic: a NaN operand comes back quieted, the first
    /// one if both are; an invalid operation gives the default NaN.
    fn fp_op_model(op: FpOp, x: f64, y: f64) -> FpWant {
        if x.is_nan() {
            return FpWant::Bits(x.to_bits() | QUIET);
        }
        if y.is_nan() {
            return FpWant::Bits(y.to_bits() | QUIET);
        }
        let (x, y) = (std::hint::black_box(x), std::hint::black_box(y));
        let r = match op {
            FpOp::Add => x + y,
            FpOp::Sub => x - y,
            FpOp::Mul => x * y,
            FpOp::Div => x / y,
        };
        FpWant::Bits(if r.is_nan() { DEFAULT_NAN } else { r.to_bits() })
    }

    /// The baseline always; the host's features when it has some.
    fn feature_variants() -> Vec<(&'static str, X64Masm)> {
        let mut variants = vec![("baseline", X64Masm::with_features(X64Features::BASELINE))];
        if X64Features::host() != X64Features::BASELINE {
            variants.push(("host", X64Masm::with_features(X64Features::host())));
        }
        variants
    }

    /// Floor is `roundsd` with SSE4.1 (which quiets a signalling NaN), else
    /// a call to Rust's `floor` (which may return it as it is; only the
    /// sign of a NaN is observable to programs, through printing).
    fn fp_unary_model(op: FpUnary, x: f64, variant: &str) -> FpWant {
        let sse41 = variant == "host" && X64Features::host().sse41;
        let b = x.to_bits();
        FpWant::Bits(match op {
            FpUnary::Neg => b ^ (1 << 63),
            FpUnary::Abs => b & !(1 << 63),
            FpUnary::Copy => b,
            FpUnary::Floor if !sse41 => std::hint::black_box(x).floor().to_bits(),
            // roundsd and the calls alike: NaNs quieted with their payload.
            FpUnary::Ceil => float::ceil(x).to_bits(),
            FpUnary::Trunc => float::trunc(x).to_bits(),
            FpUnary::Round => float::round_ties_even(x).to_bits(),
            _ if x.is_nan() => b | QUIET,
            FpUnary::Sqrt if x < 0.0 => DEFAULT_NAN,
            FpUnary::Sqrt => std::hint::black_box(x).sqrt().to_bits(),
            FpUnary::Floor => std::hint::black_box(x).floor().to_bits(),
        })
    }

    fn golden_cases(name: &str, l: &mut Listing<X64>) {
        match name {
            "prologue" => {
                l.case("prologue(CALL_DEPTH)", |m| m.prologue(CALL_DEPTH));
            }
            "call_depth" => {
                for g in GPRS {
                    for delta in [0, 1, -1, i32::MIN, i32::MAX] {
                        l.case(format_args!("call_depth({g:?}, {delta})"), |m| {
                            m.call_depth(g, delta)
                        });
                    }
                }
            }
            "epilogue" => {
                for g in GPRS {
                    l.case(format_args!("epilogue({g:?})"), |m| m.epilogue(g));
                }
            }
            "jump" => {
                l.case("jump backward: bind(L); jump(L)", |m| {
                    let lb = m.new_label();
                    m.bind(lb);
                    m.jump(lb);
                });
                l.case("jump forward: jump(L); load_imm(T0, 1); bind(L)", |m| {
                    let lb = m.new_label();
                    m.jump(lb);
                    m.load_imm(Gpr::T0, 1);
                    m.bind(lb);
                });
                l.case(
                    "jump to self and beyond: bind(A); jump(A); jump(B); bind(B); jump(B)",
                    |m| {
                        let a = m.new_label();
                        let b = m.new_label();
                        m.bind(a);
                        m.jump(a);
                        m.jump(b);
                        m.bind(b);
                        m.jump(b);
                    },
                );
            }
            "load_slot" => {
                for bank in Bank::ALL {
                    for g in GPRS {
                        for slot in SLOTS {
                            l.case(format_args!("load_slot({g:?}, {bank:?}, {slot})"), |m| {
                                m.load_slot(g, bank, slot)
                            });
                        }
                    }
                }
            }
            "store_slot" => {
                for bank in Bank::ALL {
                    for g in GPRS {
                        for slot in SLOTS {
                            l.case(format_args!("store_slot({bank:?}, {slot}, {g:?})"), |m| {
                                m.store_slot(bank, slot, g)
                            });
                        }
                    }
                }
            }
            "load_fslot" => {
                for f in FPRS {
                    for slot in SLOTS {
                        l.case(format_args!("load_fslot({f:?}, {slot})"), |m| {
                            m.load_fslot(f, slot)
                        });
                    }
                }
            }
            "store_fslot" => {
                for f in FPRS {
                    for slot in SLOTS {
                        l.case(format_args!("store_fslot({slot}, {f:?})"), |m| {
                            m.store_fslot(slot, f)
                        });
                    }
                }
            }
            "slot_addr" => {
                for bank in Bank::ALL {
                    for g in GPRS {
                        for slot in SLOTS {
                            l.case(format_args!("slot_addr({g:?}, {bank:?}, {slot})"), |m| {
                                m.slot_addr(g, bank, slot)
                            });
                        }
                    }
                }
            }
            "zero_slots" => {
                let ranges: [(u32, u32); 14] = [
                    (0, 0),
                    (0, 1),
                    (3, 7),
                    (0, 8),
                    (0, 9),
                    (0, 63),
                    (0, 64),
                    (10, 100),
                    (4095, 2),
                    (65535, 1),
                    (65535, 1000),
                    ((1 << 28) - 1, 2),
                    (u32::MAX - 1, 3),
                    (u32::MAX, 9),
                ];
                for bank in Bank::ALL {
                    for (first, count) in ranges {
                        l.case(
                            format_args!("zero_slots({bank:?}, {first}, {count})"),
                            |m| m.zero_slots(bank, first, count),
                        );
                    }
                }
            }
            "load_imm" => {
                for g in GPRS {
                    for v in IMM64S {
                        l.case(format_args!("load_imm({g:?}, {v:#x})"), |m| {
                            m.load_imm(g, v)
                        });
                    }
                }
            }
            "load_fimm" => {
                let bits = [0.0f64, -0.0, 1.0, -2.5, f64::INFINITY, f64::NAN].map(f64::to_bits);
                for f in FPRS {
                    for b in bits
                        .into_iter()
                        .chain([1, 0xffff_ffff, 0x7ff4_0000_0000_0001])
                    {
                        l.case(format_args!("load_fimm({f:?}, {b:#x})"), |m| {
                            m.load_fimm(f, b)
                        });
                    }
                }
            }
            "mov" => {
                for (d, s) in pairs(&GPRS) {
                    l.case(format_args!("mov({d:?}, {s:?})"), |m| m.mov(d, s));
                }
            }
            "alu" => {
                for op in ALU_OPS {
                    for (d, a, b) in triples(&GPRS) {
                        l.case(format_args!("alu({op:?}, {d:?}, {a:?}, {b:?})"), |m| {
                            m.alu(op, d, a, b)
                        });
                    }
                }
            }
            "alu_imm" => {
                for op in ALU_OPS {
                    for imm in IMMS {
                        for (d, a) in [(Gpr::T0, Gpr::T0), (Gpr::T0, Gpr::T1), (Gpr::T2, Gpr::T1)] {
                            l.case(format_args!("alu_imm({op:?}, {d:?}, {a:?}, {imm})"), |m| {
                                m.alu_imm(op, d, a, imm)
                            });
                        }
                    }
                }
            }
            "neg" => {
                for (d, s) in pairs(&GPRS) {
                    l.case(format_args!("neg({d:?}, {s:?})"), |m| m.neg(d, s));
                }
            }
            "not" => {
                for (d, s) in pairs(&GPRS) {
                    l.case(format_args!("not({d:?}, {s:?})"), |m| m.not(d, s));
                }
            }
            "sdiv" => {
                for (d, a, b) in triples(&GPRS) {
                    l.case(format_args!("sdiv({d:?}, {a:?}, {b:?}, L); bind(L)"), |m| {
                        let overflow = m.new_label();
                        m.sdiv(d, a, b, overflow);
                        m.bind(overflow);
                    });
                }
            }
            "srem" => {
                for (d, a, b) in triples(&GPRS) {
                    l.case(format_args!("srem({d:?}, {a:?}, {b:?})"), |m| {
                        m.srem(d, a, b)
                    });
                }
            }
            "mul_high" => {
                for (d, a, b) in triples(&GPRS) {
                    l.case(format_args!("mul_high({d:?}, {a:?}, {b:?})"), |m| {
                        m.mul_high(d, a, b)
                    });
                }
            }
            "set_cond" => {
                for c in CONDS {
                    l.case(format_args!("set_cond({c:?}, T0, T1, T2)"), |m| {
                        m.set_cond(c, Gpr::T0, Gpr::T1, Gpr::T2)
                    });
                }
                for (d, a, b) in triples(&GPRS) {
                    l.case(format_args!("set_cond(Lt, {d:?}, {a:?}, {b:?})"), |m| {
                        m.set_cond(Cond::Lt, d, a, b)
                    });
                }
            }
            "set_cond_imm" => {
                for c in CONDS {
                    for imm in [0, 1, -1, 127, 128, -128, -129, i32::MIN, i32::MAX] {
                        l.case(format_args!("set_cond_imm({c:?}, T1, T2, {imm})"), |m| {
                            m.set_cond_imm(c, Gpr::T1, Gpr::T2, imm)
                        });
                    }
                }
                for (d, a) in pairs(&GPRS) {
                    l.case(format_args!("set_cond_imm(Ult, {d:?}, {a:?}, 5)"), |m| {
                        m.set_cond_imm(Cond::Ult, d, a, 5)
                    });
                }
            }
            "branch" => {
                for c in CONDS {
                    l.case(
                        format_args!(
                            "bind(L); branch({c:?}, T0, T1, L); branch({c:?}, T2, T0, M); bind(M)"
                        ),
                        |m| {
                            let back = m.new_label();
                            let fwd = m.new_label();
                            m.bind(back);
                            m.branch(c, Gpr::T0, Gpr::T1, back);
                            m.branch(c, Gpr::T2, Gpr::T0, fwd);
                            m.bind(fwd);
                        },
                    );
                }
            }
            "jump_table" => jump_table_cases(l),
            "branch_imm" => {
                for c in CONDS {
                    for imm in [0, -1, 127, 128, i32::MIN] {
                        l.case(
                            format_args!("branch_imm({c:?}, T1, {imm}, L); bind(L)"),
                            |m| {
                                let fwd = m.new_label();
                                m.branch_imm(c, Gpr::T1, imm, fwd);
                                m.bind(fwd);
                            },
                        );
                    }
                }
                for g in GPRS {
                    l.case(format_args!("bind(L); branch_imm(Ne, {g:?}, 7, L)"), |m| {
                        let back = m.new_label();
                        m.bind(back);
                        m.branch_imm(Cond::Ne, g, 7, back);
                    });
                }
            }
            "fp_op" => {
                for op in FP_OPS {
                    for (d, a, b) in triples(&FPRS) {
                        l.case(format_args!("fp_op({op:?}, {d:?}, {a:?}, {b:?})"), |m| {
                            m.fp_op(op, d, a, b)
                        });
                    }
                }
            }
            "fp_unary" => {
                for op in FP_UNARY {
                    for (d, s) in pairs(&FPRS) {
                        l.case(format_args!("fp_unary({op:?}, {d:?}, {s:?})"), |m| {
                            m.fp_unary(op, d, s)
                        });
                    }
                }
            }
            "fp_floor_call" => {
                for (d, s) in pairs(&FPRS) {
                    l.case_with(
                        X64Masm::with_features(X64Features::BASELINE),
                        format_args!("fp_unary(Floor, {d:?}, {s:?}) without SSE4.1"),
                        |m| m.fp_unary(FpUnary::Floor, d, s),
                    );
                }
            }
            "baseline_fallbacks" => {
                let baseline = || X64Masm::with_features(X64Features::BASELINE);
                for op in BitCount::ALL {
                    for (d, s) in pairs(&GPRS) {
                        l.case_with(
                            baseline(),
                            format_args!("bit_count({op:?}, {d:?}, {s:?}) baseline"),
                            |m| m.bit_count(op, d, s),
                        );
                    }
                }
                for op in [FpUnary::Ceil, FpUnary::Trunc, FpUnary::Round] {
                    l.case_with(
                        baseline(),
                        format_args!("fp_unary({op:?}, F1, F2) without SSE4.1"),
                        |m| m.fp_unary(op, Fpr::F1, Fpr::F2),
                    );
                }
                for (d, a, b) in [(Fpr::F0, Fpr::F1, Fpr::F2), (Fpr::F7, Fpr::F7, Fpr::F0)] {
                    l.case_with(
                        baseline(),
                        format_args!("fp_fma({d:?}, {d:?}, {a:?}, {b:?}) without FMA3"),
                        |m| m.fp_fma(d, d, a, b),
                    );
                }
            }
            "fp_set_cond" => {
                for c in CMPS {
                    for (d, (a, b)) in GPRS
                        .iter()
                        .flat_map(|&d| pairs(&FPRS).into_iter().map(move |p| (d, p)))
                    {
                        l.case(
                            format_args!("fp_set_cond({c:?}, {d:?}, {a:?}, {b:?})"),
                            |m| m.fp_set_cond(c, d, a, b),
                        );
                    }
                }
            }
            "fp_branch" => {
                for c in CMPS {
                    for (a, b) in pairs(&FPRS) {
                        l.case(format_args!("bind(L); fp_branch({c:?}, {a:?}, {b:?}, L); fp_branch({c:?}, {b:?}, {a:?}, M); bind(M)"), |m| {
                        let back = m.new_label();
                        let fwd = m.new_label();
                        m.bind(back);
                        m.fp_branch(c, a, b, back);
                        m.fp_branch(c, b, a, fwd);
                        m.bind(fwd);
                    });
                    }
                }
            }
            "i2f" => {
                for f in FPRS {
                    for g in GPRS {
                        l.case(format_args!("i2f({f:?}, {g:?})"), |m| m.i2f(f, g));
                    }
                }
            }
            "f2i" => {
                for g in GPRS {
                    for f in FPRS {
                        l.case(format_args!("f2i({g:?}, {f:?})"), |m| m.f2i(g, f));
                    }
                }
            }
            "load_mem" | "store_mem" | "load_mem_u32" | "load_mem_u8" => {
                type Access = fn(&mut X64Masm, Gpr, Gpr, i32);
                let access: Access = match name {
                    "load_mem" => |m, d, b, o| m.load_mem(d, b, o),
                    "store_mem" => |m, s, b, o| m.store_mem(b, o, s),
                    "load_mem_u32" => |m, d, b, o| m.load_mem_u32(d, b, o),
                    _ => |m, d, b, o| m.load_mem_u8(d, b, o),
                };
                for (d, b) in pairs(&GPRS) {
                    for off in OFFSETS {
                        l.case(format_args!("{name}({d:?}, {b:?}, {off})"), |m| {
                            access(m, d, b, off)
                        });
                    }
                }
            }
            "load_indexed" => {
                for (d, b, i) in triples(&GPRS) {
                    for off in INDEXED_OFFSETS {
                        l.case(
                            format_args!("load_indexed({d:?}, {b:?}, {i:?}, {off})"),
                            |m| m.load_indexed(d, b, i, off),
                        );
                    }
                }
            }
            "store_indexed" => {
                for (b, i, s) in triples(&GPRS) {
                    for off in INDEXED_OFFSETS {
                        l.case(
                            format_args!("store_indexed({b:?}, {i:?}, {off}, {s:?})"),
                            |m| m.store_indexed(b, i, off, s),
                        );
                    }
                }
            }
            "load_indexed_u8" => {
                for (d, b, i) in triples(&GPRS) {
                    for off in INDEXED_OFFSETS {
                        l.case(
                            format_args!("load_indexed_u8({d:?}, {b:?}, {i:?}, {off})"),
                            |m| m.load_indexed_u8(d, b, i, off),
                        );
                    }
                }
            }
            "store_indexed_u8" => {
                for (b, i, s) in triples(&GPRS) {
                    for off in INDEXED_OFFSETS {
                        l.case(
                            format_args!("store_indexed_u8({b:?}, {i:?}, {off}, {s:?})"),
                            |m| m.store_indexed_u8(b, i, off, s),
                        );
                    }
                }
            }
            "load_findexed" => {
                for f in FPRS {
                    for (b, i) in pairs(&GPRS) {
                        for off in INDEXED_OFFSETS {
                            l.case(
                                format_args!("load_findexed({f:?}, {b:?}, {i:?}, {off})"),
                                |m| m.load_findexed(f, b, i, off),
                            );
                        }
                    }
                }
            }
            "store_findexed" => {
                for f in FPRS {
                    for (b, i) in pairs(&GPRS) {
                        for off in INDEXED_OFFSETS {
                            l.case(
                                format_args!("store_findexed({b:?}, {i:?}, {off}, {f:?})"),
                                |m| m.store_findexed(b, i, off, f),
                            );
                        }
                    }
                }
            }
            "load_ctx" => {
                for g in GPRS {
                    for off in OFFSETS {
                        l.case(format_args!("load_ctx({g:?}, {off})"), |m| {
                            m.load_ctx(g, off)
                        });
                    }
                }
            }
            "store_ctx" => {
                for g in GPRS {
                    for off in OFFSETS {
                        l.case(format_args!("store_ctx({off}, {g:?})"), |m| {
                            m.store_ctx(off, g)
                        });
                    }
                }
            }
            "store_ctx_u32" => {
                for off in OFFSETS {
                    for v in [0, 1, 0x7fff_ffff, 0x8000_0000, u32::MAX] {
                        l.case(format_args!("store_ctx_u32({off}, {v:#x})"), |m| {
                            m.store_ctx_u32(off, v)
                        });
                    }
                }
            }
            "store_ctx_reg_u32" => {
                for g in GPRS {
                    for off in OFFSETS {
                        l.case(format_args!("store_ctx_reg_u32({off}, {g:?})"), |m| {
                            m.store_ctx_reg_u32(off, g)
                        });
                    }
                }
            }
            "branch_stack_below" => {
                for off in OFFSETS {
                    l.case(format_args!("branch_stack_below({off}, L); bind(L)"), |m| {
                        let fwd = m.new_label();
                        m.branch_stack_below(off, fwd);
                        m.bind(fwd);
                    });
                }
            }
            "branch_flag_set" => {
                for off in OFFSETS {
                    l.case(format_args!("branch_flag_set({off}, L); bind(L)"), |m| {
                        let fwd = m.new_label();
                        m.branch_flag_set(off, fwd);
                        m.bind(fwd);
                    });
                }
            }
            "call_native" => {
                let frames = [
                    [0, 0, 0],
                    [1, 2, 3],
                    [4095, 4096, 65535],
                    [1 << 28, 0, u32::MAX],
                ];
                for g in GPRS {
                    for frame in frames {
                        l.case(format_args!("call_native({g:?}, {frame:?})"), |m| {
                            m.call_native(g, frame)
                        });
                    }
                }
            }
            "call_helper" => {
                let addr = 0x1122_3344_5566_7788;
                let mut lists: Vec<Vec<HelperArg>> = vec![
                    vec![],
                    vec![HelperArg::Ctx],
                    vec![
                        HelperArg::Imm(0),
                        HelperArg::Imm(-1),
                        HelperArg::Imm(1 << 40),
                    ],
                    vec![
                        HelperArg::Ctx,
                        HelperArg::SlotAddr(Bank::I, 0),
                        HelperArg::SlotAddr(Bank::F, 3),
                        HelperArg::SlotAddr(Bank::R, 65535),
                        HelperArg::SlotAddr(Bank::I, u32::MAX),
                        HelperArg::Imm(i64::MIN),
                    ],
                ];
                // Every register permutation over the first three argument registers
                // (rdi = T1, rsi = T0, rdx), and fan-outs and cycles through r8 = T2.
                for (a, b, c) in triples(&GPRS) {
                    lists.push(vec![
                        HelperArg::Reg(a),
                        HelperArg::Reg(b),
                        HelperArg::Reg(c),
                    ]);
                }
                for regs in [
                    [Gpr::T0, Gpr::T1, Gpr::T2, Gpr::T0, Gpr::T1, Gpr::T2],
                    [Gpr::T2, Gpr::T2, Gpr::T2, Gpr::T2, Gpr::T0, Gpr::T2],
                    [Gpr::T0, Gpr::T2, Gpr::T1, Gpr::T1, Gpr::T1, Gpr::T0],
                    [Gpr::T2, Gpr::T0, Gpr::T1, Gpr::T1, Gpr::T0, Gpr::T2],
                ] {
                    lists.push(regs.map(HelperArg::Reg).to_vec());
                }
                lists.push(vec![
                    HelperArg::Ctx,
                    HelperArg::Reg(Gpr::T1),
                    HelperArg::Reg(Gpr::T0),
                    HelperArg::Imm(42),
                    HelperArg::SlotAddr(Bank::R, 2),
                    HelperArg::Reg(Gpr::T2),
                ]);
                for args in &lists {
                    l.case(format_args!("call_helper({addr:#x}, {args:?})"), |m| {
                        m.call_helper(addr, args)
                    });
                }
            }
            _ if shared_cases(name, l) => {}
            _ => panic!("no x64 listing {name}"),
        }
    }
}

/// Slot indices: 8- and 32-bit displacements and their edges, the largest
/// slot the bytecode has, and ones beyond a 32-bit displacement.
const SLOTS: [u32; 10] = [
    0,
    1,
    15,
    16,
    4095,
    4096,
    65535,
    (1 << 28) - 1,
    1 << 28,
    u32::MAX,
];

/// 32-bit immediates and offsets.
const IMMS: [i32; 14] = [
    0,
    1,
    -1,
    2,
    63,
    64,
    65,
    127,
    128,
    -128,
    -129,
    0x12345,
    i32::MIN,
    i32::MAX,
];

/// Memory offsets.
const OFFSETS: [i32; 9] = [0, 8, -8, 127, 128, -128, -129, i32::MIN, i32::MAX];

/// Offsets of the indexed accesses.
const INDEXED_OFFSETS: [i32; 8] = [0, 8, -8, 127, 128, -129, i32::MIN, i32::MAX];

/// One instruction per line of the bytes `range` of `code`: offset, bytes,
/// Intel syntax. Branch targets are offsets from the start of the code.
/// Panics unless every byte decodes to a valid instruction.
fn disassemble_at(code: &[u8], range: Range<usize>) -> String {
    let mut decoder = Decoder::with_ip(
        64,
        &code[range.clone()],
        range.start as u64,
        DecoderOptions::NONE,
    );
    let mut fmt = IntelFormatter::new();
    let o = fmt.options_mut();
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_space_after_operand_separator(true);
    o.set_branch_leading_zeros(false);
    o.set_show_useless_prefixes(true);
    let mut out = String::new();
    let mut decoded = range.start;
    for ins in &mut decoder {
        let at = ins.ip() as usize;
        assert!(
            !ins.is_invalid(),
            "invalid instruction at {at:#x} in {code:02x?}"
        );
        assert_eq!(at, decoded, "decoder skipped bytes");
        let bytes = &code[at..at + ins.len()];
        let hex: String = bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut text = String::new();
        fmt.format(&ins, &mut text);
        writeln!(out, "{at:4x}: {hex:<32} {text}").unwrap();
        decoded += ins.len();
    }
    assert_eq!(decoded, range.end, "not every byte decoded");
    out
}

/// As [`disassemble_at`] over the whole code, with the jump tables in
/// `data` listed as entries.
fn disassemble_with_data(code: &[u8], data: &[Range<usize>]) -> String {
    let mut out = String::new();
    for (range, is_data) in segments(code.len(), data) {
        if is_data {
            for (at, line) in data_lines(code, &range) {
                writeln!(out, "{at:4x}: {line}").unwrap();
            }
            continue;
        }
        // Decoded from the start of the code, so that branch targets are
        // offsets of the whole code.
        let text = disassemble_at(code, range.clone());
        out.push_str(&text);
    }
    out
}

/// Replace the 64-bit immediates of `mov rax, imm64` (host addresses) by a
/// placeholder, in the bytes and the text.
fn mask_addresses(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("mov rax, 0x") {
            Some(_) if line.contains(" 48 b8 ") => {
                let at = &line[..line.find(':').unwrap_or(0) + 1];
                format!("{at} 48 b8 <address>                  mov rax, <address>\n")
            }
            _ => format!("{line}\n"),
        })
        .collect()
}

plan_tests!(X64, target_arch = "x86_64");

#[test]
fn golden_fp_floor_call() {
    check_listing::<X64>("fp_floor_call");
}

#[test]
fn golden_baseline_fallbacks() {
    check_listing::<X64>("baseline_fallbacks");
}

// ---------------------------------------------------------------------------
// The parallel move of helper arguments, checked by simulation.

#[test]
fn sequence_moves_is_a_parallel_assignment() {
    let srcs = [Rq::RSI, Rq::RDI, Rq::R8];
    let temps = [Rq::R11, Rq::R10, Rq::RAX];
    let mut count = 0;
    for n in 0..=6usize {
        let total = 3usize.pow(n as u32);
        for code in 0..total {
            let mut c = code;
            let moves: Vec<(Rq, Rq)> = (0..n)
                .map(|k| {
                    let s = srcs[c % 3];
                    c /= 3;
                    (ARG_REGS[k], s)
                })
                .collect();
            let seq = sequence_moves(&moves, &temps).expect("enough temporaries");
            // Simulate: every register starts holding its own number.
            let mut regs: [u8; 16] = std::array::from_fn(|r| r as u8);
            for (d, s) in &seq {
                regs[u8::from(*d) as usize] = regs[u8::from(*s) as usize];
            }
            for (d, s) in &moves {
                assert_eq!(
                    regs[u8::from(*d) as usize],
                    u8::from(*s),
                    "{moves:?} -> {seq:?}"
                );
            }
            // Nothing else but the temporaries is written.
            for (d, _) in &seq {
                assert!(
                    moves.iter().any(|m| m.0 == *d) || temps.contains(d),
                    "{seq:?}"
                );
            }
            count += 1;
        }
    }
    assert_eq!(count, 1093);
}

// ---------------------------------------------------------------------------
// Execution beyond the plan.

#[cfg(target_arch = "x86_64")]
mod exec_x64 {
    use super::*;
    use crate::template::isa::test_plan::exec::{Frame, Jit};

    #[test]
    fn prologue_epilogue_preserve_callee_saved_registers() {
        let jit = Jit::build::<X64>(|m| {
            m.load_imm(Gpr::T0, 0x1_0000_0005);
        });
        let mut fr = Frame::new();
        let entry = jit.addr();
        let (ctx, i, f, r) = (
            fr.ctx.as_mut_ptr(),
            fr.i.as_mut_ptr(),
            fr.f.as_mut_ptr(),
            fr.r.as_mut_ptr(),
        );
        let (mut a, mut b, mut c, mut d) = (0x1212u64, 0x1313u64, 0x1414u64, 0x1515u64);
        let depth_reg: u64;
        let status: u64;
        // SAFETY: calls generated code with the native entry signature; rbx
        // and r12 to r15 are declared so the compiler expects them back (and
        // the test checks they came back unchanged). rbx cannot be an asm
        // operand (nor may `entry` be allocated to it): it is saved on the
        // stack (two slots, keeping the alignment), set, and read back into
        // r9 after the call.
        unsafe {
            std::arch::asm!(
                "push rbx",
                "mov rbx, 0x1616",
                "sub rsp, 8",
                "call r10",
                "add rsp, 8",
                "mov r9, rbx",
                "pop rbx",
                in("r10") entry,
                in("rdi") ctx,
                in("rsi") i,
                in("rdx") f,
                in("rcx") r,
                inout("r12") a,
                inout("r13") b,
                inout("r14") c,
                inout("r15") d,
                lateout("rax") status,
                lateout("r9") depth_reg,
                clobber_abi("C"),
            );
        }
        assert_eq!((a, b, c, d), (0x1212, 0x1313, 0x1414, 0x1515));
        assert_eq!(depth_reg, 0x1616, "rbx preserved");
        assert_eq!(status, 5, "status as u32 in eax");
        std::hint::black_box(&mut fr);
    }
}

/// `PROLOGUE_CFI` takes effect right after the instructions it describes:
/// `push rbp`, `mov rbp, rsp` and the pushes of `SAVED`.
#[test]
fn prologue_cfi_follows_the_prologue() {
    use super::abi::{PROLOGUE_CFI, SAVED, dwarf_register};
    use gimli::X86_64;
    use gimli::write::CallFrameInstruction as Cfi;
    let code = crate::template::isa::test_plan::assemble::<X64>(|m| m.prologue(CALL_DEPTH));
    let mut decoder = Decoder::with_ip(64, &code, 0, DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    let mut ends = Vec::new();
    for _ in 0..2 + SAVED.len() {
        let insn = decoder.decode();
        let mut text = String::new();
        formatter.format(&insn, &mut text);
        ends.push((insn.next_ip() as u32, text));
    }
    let mut want = vec![
        (ends[0].0, Cfi::CfaOffset(16)),
        (ends[0].0, Cfi::Offset(X86_64::RBP, -16)),
        (ends[1].0, Cfi::CfaRegister(X86_64::RBP)),
    ];
    assert_eq!(ends[0].1, "push rbp");
    assert_eq!(ends[1].1, "mov rbp,rsp");
    for (k, &r) in SAVED.iter().enumerate() {
        assert_eq!(
            ends[2 + k].1,
            format!("push {}", format!("{r:?}").to_lowercase())
        );
        want.push((
            ends[2 + k].0,
            Cfi::Offset(dwarf_register(r), -24 - 8 * k as i32),
        ));
    }
    assert_eq!(*PROLOGUE_CFI, want);
    assert_eq!(dwarf_register(Rq::R12), X86_64::R12);
    assert_eq!(dwarf_register(Rq::RSI), X86_64::RSI);
}
