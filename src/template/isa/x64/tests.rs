//! Tests of the x86-64 macro-assembler.
//!
//! - Golden listings: every trait method emitted over a representative set
//!   of arguments, disassembled by iced-x86 (an independent decoder: every
//!   byte must decode to a valid instruction) and compared with
//!   `tests/golden/x64/<method>.txt` (`TIERJIT_BLESS=1` rewrites them).
//! - Execution (x86-64 hosts only): the code is mapped executable and run
//!   through the native entry signature, its results compared with Rust's
//!   semantics (those of the interpreter) over edge values and every
//!   combination of scratch registers.

use std::fmt::Write as _;

use dynasmrt::x64::Rq;
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

use super::X64Masm;
use super::abi::{ARG_REGS, sequence_moves};
use crate::bytecode::{Bank, Cmp};
use crate::runtime::context::offsets::CALL_DEPTH;
use crate::template::golden;
use crate::template::masm::{
    AluOp, Cond, FpOp, FpUnary, Fpr, Gpr, HelperArg, MAX_HELPER_ARGS, MacroAssembler,
};

const GPRS: [Gpr; 3] = Gpr::ALL;
/// The f64 scratch registers the tests cover: the three with static
/// encoder arms and one that takes dynasm's dynamic form.
const FPRS: [Fpr; 4] = [Fpr::F0, Fpr::F1, Fpr::F2, Fpr::F7];
const CONDS: [Cond; 10] = Cond::ALL;
const CMPS: [Cmp; 6] = [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];
const ALU_OPS: [AluOp; 9] = AluOp::ALL;
const FP_OPS: [FpOp; 4] = FpOp::ALL;
const FP_UNARY: [FpUnary; 5] = FpUnary::ALL;

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

fn pairs<T: Copy>(xs: &[T]) -> Vec<(T, T)> {
    xs.iter()
        .flat_map(|&a| xs.iter().map(move |&b| (a, b)))
        .collect()
}

fn triples<T: Copy>(xs: &[T]) -> Vec<(T, T, T)> {
    pairs(xs)
        .into_iter()
        .flat_map(|(a, b)| xs.iter().map(move |&c| (a, b, c)))
        .collect()
}

// ---------------------------------------------------------------------------
// Disassembly and golden listings.

/// One instruction per line: offset, bytes, Intel syntax. Branch targets are
/// offsets from the start of the code. Panics unless every byte decodes to a
/// valid instruction.
fn disassemble(code: &[u8]) -> String {
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let mut fmt = IntelFormatter::new();
    let o = fmt.options_mut();
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_space_after_operand_separator(true);
    o.set_branch_leading_zeros(false);
    o.set_show_useless_prefixes(true);
    let mut out = String::new();
    let mut decoded = 0;
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
    assert_eq!(decoded, code.len(), "not every byte decoded");
    out
}

/// A golden listing: titled cases, each assembled on its own.
struct Listing {
    text: String,
}

impl Listing {
    fn new() -> Listing {
        Listing {
            text: String::new(),
        }
    }

    fn case(&mut self, title: impl std::fmt::Display, build: impl FnOnce(&mut X64Masm)) {
        self.case_with(X64Masm::with_sse41(true), title, build);
    }

    fn case_with(
        &mut self,
        mut m: X64Masm,
        title: impl std::fmt::Display,
        build: impl FnOnce(&mut X64Masm),
    ) {
        build(&mut m);
        let code = m.finish().expect("finish");
        writeln!(self.text, "; {title}").unwrap();
        self.text.push_str(&disassemble(code));
    }

    fn check(self, name: &str) {
        golden::check(&format!("x64/{name}"), &self.text);
    }
}

#[test]
fn golden_prologue_epilogue() {
    let mut l = Listing::new();
    l.case("prologue(CALL_DEPTH)", |m| m.prologue(CALL_DEPTH));
    l.check("prologue");
    let mut l = Listing::new();
    for g in GPRS {
        for delta in [0, 1, -1, i32::MIN, i32::MAX] {
            l.case(format_args!("call_depth({g:?}, {delta})"), |m| {
                m.call_depth(g, delta)
            });
        }
    }
    l.check("call_depth");
    let mut l = Listing::new();
    for g in GPRS {
        l.case(format_args!("epilogue({g:?})"), |m| m.epilogue(g));
    }
    l.check("epilogue");
}

#[test]
fn golden_labels_and_jump() {
    let mut l = Listing::new();
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
    l.check("jump");
}

#[test]
fn golden_slots() {
    let mut l = Listing::new();
    for bank in Bank::ALL {
        for g in GPRS {
            for slot in SLOTS {
                l.case(format_args!("load_slot({g:?}, {bank:?}, {slot})"), |m| {
                    m.load_slot(g, bank, slot)
                });
            }
        }
    }
    l.check("load_slot");

    let mut l = Listing::new();
    for bank in Bank::ALL {
        for g in GPRS {
            for slot in SLOTS {
                l.case(format_args!("store_slot({bank:?}, {slot}, {g:?})"), |m| {
                    m.store_slot(bank, slot, g)
                });
            }
        }
    }
    l.check("store_slot");

    let mut l = Listing::new();
    for f in FPRS {
        for slot in SLOTS {
            l.case(format_args!("load_fslot({f:?}, {slot})"), |m| {
                m.load_fslot(f, slot)
            });
        }
    }
    l.check("load_fslot");

    let mut l = Listing::new();
    for f in FPRS {
        for slot in SLOTS {
            l.case(format_args!("store_fslot({slot}, {f:?})"), |m| {
                m.store_fslot(slot, f)
            });
        }
    }
    l.check("store_fslot");

    let mut l = Listing::new();
    for bank in Bank::ALL {
        for g in GPRS {
            for slot in SLOTS {
                l.case(format_args!("slot_addr({g:?}, {bank:?}, {slot})"), |m| {
                    m.slot_addr(g, bank, slot)
                });
            }
        }
    }
    l.check("slot_addr");

    let mut l = Listing::new();
    let ranges: [(u32, u32); 12] = [
        (0, 0),
        (0, 1),
        (3, 7),
        (0, 8),
        (0, 9),
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
    l.check("zero_slots");
}

/// 64-bit constants: every encoding boundary.
const IMM64S: [i64; 14] = [
    0,
    1,
    -1,
    127,
    128,
    i32::MAX as i64,
    i32::MIN as i64,
    i32::MIN as i64 - 1,
    u32::MAX as i64,
    u32::MAX as i64 + 1,
    0x1234_5678_9abc_def0,
    i64::MIN,
    i64::MAX,
    -0x8000_0001,
];

#[test]
fn golden_constants_and_moves() {
    let mut l = Listing::new();
    for g in GPRS {
        for v in IMM64S {
            l.case(format_args!("load_imm({g:?}, {v:#x})"), |m| {
                m.load_imm(g, v)
            });
        }
    }
    l.check("load_imm");

    let mut l = Listing::new();
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
    l.check("load_fimm");

    let mut l = Listing::new();
    for (d, s) in pairs(&GPRS) {
        l.case(format_args!("mov({d:?}, {s:?})"), |m| m.mov(d, s));
    }
    l.check("mov");
}

#[test]
fn golden_integer_arithmetic() {
    let mut l = Listing::new();
    for op in ALU_OPS {
        for (d, a, b) in triples(&GPRS) {
            l.case(format_args!("alu({op:?}, {d:?}, {a:?}, {b:?})"), |m| {
                m.alu(op, d, a, b)
            });
        }
    }
    l.check("alu");

    let mut l = Listing::new();
    for op in ALU_OPS {
        for imm in IMMS {
            for (d, a) in [(Gpr::T0, Gpr::T0), (Gpr::T0, Gpr::T1), (Gpr::T2, Gpr::T1)] {
                l.case(format_args!("alu_imm({op:?}, {d:?}, {a:?}, {imm})"), |m| {
                    m.alu_imm(op, d, a, imm)
                });
            }
        }
    }
    l.check("alu_imm");

    let mut l = Listing::new();
    for (d, s) in pairs(&GPRS) {
        l.case(format_args!("neg({d:?}, {s:?})"), |m| m.neg(d, s));
    }
    l.check("neg");

    let mut l = Listing::new();
    for (d, s) in pairs(&GPRS) {
        l.case(format_args!("not({d:?}, {s:?})"), |m| m.not(d, s));
    }
    l.check("not");

    let mut l = Listing::new();
    for (d, a, b) in triples(&GPRS) {
        l.case(format_args!("sdiv({d:?}, {a:?}, {b:?}, L); bind(L)"), |m| {
            let overflow = m.new_label();
            m.sdiv(d, a, b, overflow);
            m.bind(overflow);
        });
    }
    l.check("sdiv");

    let mut l = Listing::new();
    for (d, a, b) in triples(&GPRS) {
        l.case(format_args!("srem({d:?}, {a:?}, {b:?})"), |m| {
            m.srem(d, a, b)
        });
    }
    l.check("srem");

    let mut l = Listing::new();
    for (d, a, b) in triples(&GPRS) {
        l.case(format_args!("mul_high({d:?}, {a:?}, {b:?})"), |m| {
            m.mul_high(d, a, b)
        });
    }
    l.check("mul_high");
}

#[test]
fn golden_compares_and_branches() {
    let mut l = Listing::new();
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
    l.check("set_cond");

    let mut l = Listing::new();
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
    l.check("set_cond_imm");

    let mut l = Listing::new();
    for c in CONDS {
        l.case(
            format_args!("bind(L); branch({c:?}, T0, T1, L); branch({c:?}, T2, T0, M); bind(M)"),
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
    l.check("branch");

    let mut l = Listing::new();
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
    l.check("branch_imm");
}

#[test]
fn golden_fp() {
    let mut l = Listing::new();
    for op in FP_OPS {
        for (d, a, b) in triples(&FPRS) {
            l.case(format_args!("fp_op({op:?}, {d:?}, {a:?}, {b:?})"), |m| {
                m.fp_op(op, d, a, b)
            });
        }
    }
    l.check("fp_op");

    let mut l = Listing::new();
    for op in FP_UNARY {
        for (d, s) in pairs(&FPRS) {
            l.case(format_args!("fp_unary({op:?}, {d:?}, {s:?})"), |m| {
                m.fp_unary(op, d, s)
            });
        }
    }
    l.check("fp_unary");

    // Without SSE4.1 the call's target is a host address: mask it.
    let mut l = Listing::new();
    for (d, s) in pairs(&FPRS) {
        l.case_with(
            X64Masm::with_sse41(false),
            format_args!("fp_unary(Floor, {d:?}, {s:?}) without SSE4.1"),
            |m| m.fp_unary(FpUnary::Floor, d, s),
        );
    }
    let text = mask_addresses(&l.text);
    golden::check("x64/fp_floor_call", &text);

    let mut l = Listing::new();
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
    l.check("fp_set_cond");

    let mut l = Listing::new();
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
    l.check("fp_branch");

    let mut l = Listing::new();
    for f in FPRS {
        for g in GPRS {
            l.case(format_args!("i2f({f:?}, {g:?})"), |m| m.i2f(f, g));
        }
    }
    l.check("i2f");

    let mut l = Listing::new();
    for g in GPRS {
        for f in FPRS {
            l.case(format_args!("f2i({g:?}, {f:?})"), |m| m.f2i(g, f));
        }
    }
    l.check("f2i");
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

#[test]
fn golden_memory() {
    type Load = fn(&mut X64Masm, Gpr, Gpr, i32);
    let loads: [(&str, Load); 4] = [
        ("load_mem", |m, d, b, o| m.load_mem(d, b, o)),
        ("store_mem", |m, s, b, o| m.store_mem(b, o, s)),
        ("load_mem_u32", |m, d, b, o| m.load_mem_u32(d, b, o)),
        ("load_mem_u8", |m, d, b, o| m.load_mem_u8(d, b, o)),
    ];
    for (name, load) in loads {
        let mut l = Listing::new();
        for (d, b) in pairs(&GPRS) {
            for off in OFFSETS {
                l.case(format_args!("{name}({d:?}, {b:?}, {off})"), |m| {
                    load(m, d, b, off)
                });
            }
        }
        l.check(name);
    }

    let offsets = [0, 8, -8, 127, 128, -129, i32::MIN, i32::MAX];
    let mut l = Listing::new();
    for (d, b, i) in triples(&GPRS) {
        for off in offsets {
            l.case(
                format_args!("load_indexed({d:?}, {b:?}, {i:?}, {off})"),
                |m| m.load_indexed(d, b, i, off),
            );
        }
    }
    l.check("load_indexed");

    let mut l = Listing::new();
    for (b, i, s) in triples(&GPRS) {
        for off in offsets {
            l.case(
                format_args!("store_indexed({b:?}, {i:?}, {off}, {s:?})"),
                |m| m.store_indexed(b, i, off, s),
            );
        }
    }
    l.check("store_indexed");

    let mut l = Listing::new();
    for (d, b, i) in triples(&GPRS) {
        for off in offsets {
            l.case(
                format_args!("load_indexed_u8({d:?}, {b:?}, {i:?}, {off})"),
                |m| m.load_indexed_u8(d, b, i, off),
            );
        }
    }
    l.check("load_indexed_u8");

    let mut l = Listing::new();
    for (b, i, s) in triples(&GPRS) {
        for off in offsets {
            l.case(
                format_args!("store_indexed_u8({b:?}, {i:?}, {off}, {s:?})"),
                |m| m.store_indexed_u8(b, i, off, s),
            );
        }
    }
    l.check("store_indexed_u8");

    let mut l = Listing::new();
    for f in FPRS {
        for (b, i) in pairs(&GPRS) {
            for off in offsets {
                l.case(
                    format_args!("load_findexed({f:?}, {b:?}, {i:?}, {off})"),
                    |m| m.load_findexed(f, b, i, off),
                );
            }
        }
    }
    l.check("load_findexed");

    let mut l = Listing::new();
    for f in FPRS {
        for (b, i) in pairs(&GPRS) {
            for off in offsets {
                l.case(
                    format_args!("store_findexed({b:?}, {i:?}, {off}, {f:?})"),
                    |m| m.store_findexed(b, i, off, f),
                );
            }
        }
    }
    l.check("store_findexed");
}

#[test]
fn golden_context() {
    let mut l = Listing::new();
    for g in GPRS {
        for off in OFFSETS {
            l.case(format_args!("load_ctx({g:?}, {off})"), |m| {
                m.load_ctx(g, off)
            });
        }
    }
    l.check("load_ctx");

    let mut l = Listing::new();
    for g in GPRS {
        for off in OFFSETS {
            l.case(format_args!("store_ctx({off}, {g:?})"), |m| {
                m.store_ctx(off, g)
            });
        }
    }
    l.check("store_ctx");

    let mut l = Listing::new();
    for off in OFFSETS {
        for v in [0, 1, 0x7fff_ffff, 0x8000_0000, u32::MAX] {
            l.case(format_args!("store_ctx_u32({off}, {v:#x})"), |m| {
                m.store_ctx_u32(off, v)
            });
        }
    }
    l.check("store_ctx_u32");

    let mut l = Listing::new();
    for g in GPRS {
        for off in OFFSETS {
            l.case(format_args!("store_ctx_reg_u32({off}, {g:?})"), |m| {
                m.store_ctx_reg_u32(off, g)
            });
        }
    }
    l.check("store_ctx_reg_u32");

    let mut l = Listing::new();
    for off in OFFSETS {
        l.case(format_args!("branch_stack_below({off}, L); bind(L)"), |m| {
            let fwd = m.new_label();
            m.branch_stack_below(off, fwd);
            m.bind(fwd);
        });
    }
    l.check("branch_stack_below");

    let mut l = Listing::new();
    for off in OFFSETS {
        l.case(format_args!("branch_flag_set({off}, L); bind(L)"), |m| {
            let fwd = m.new_label();
            m.branch_flag_set(off, fwd);
            m.bind(fwd);
        });
    }
    l.check("branch_flag_set");
}

#[test]
fn golden_calls() {
    let mut l = Listing::new();
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
    l.check("call_native");

    let mut l = Listing::new();
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
    l.check("call_helper");
}

// ---------------------------------------------------------------------------
// Assembly errors.

#[test]
fn finish_reports_errors_instead_of_panicking() {
    let mut m = X64Masm::new();
    let l = m.new_label();
    m.jump(l);
    assert!(m.finish().is_err(), "unbound label");

    let mut m = X64Masm::new();
    let l = m.new_label();
    m.bind(l);
    m.bind(l);
    assert!(m.finish().is_err(), "label bound twice");

    let mut m = X64Masm::new();
    m.call_helper(0, &[HelperArg::Ctx; MAX_HELPER_ARGS + 1]);
    assert!(m.finish().is_err(), "too many helper arguments");

    let mut m = X64Masm::default();
    m.call_helper(0, &[HelperArg::Ctx; MAX_HELPER_ARGS]);
    assert!(m.finish().is_ok());
}

#[test]
fn offset_counts_bytes() {
    let mut m = X64Masm::new();
    assert_eq!(m.offset(), 0);
    m.load_imm(Gpr::T0, 1);
    let n = m.offset();
    assert!(n > 0);
    assert_eq!(m.finish().unwrap().len(), n);
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
// Execution.

#[cfg(target_arch = "x86_64")]
mod exec {
    use super::*;
    use memmap2::{Mmap, MmapMut};

    type Entry = unsafe extern "C" fn(*mut u8, *mut i64, *mut f64, *mut u64) -> u32;

    /// Finished code, mapped read+execute.
    pub(super) struct Jit {
        map: Mmap,
    }

    impl Jit {
        fn from_code(code: &[u8]) -> Jit {
            let mut map = MmapMut::map_anon(code.len().max(1)).expect("map");
            map[..code.len()].copy_from_slice(code);
            Jit {
                map: map.make_exec().expect("make_exec"),
            }
        }

        /// `prologue; body; epilogue(T0)` with the host's CPU features.
        fn build(body: impl FnOnce(&mut X64Masm)) -> Jit {
            Jit::build_with(X64Masm::new(), body)
        }

        fn build_with(mut m: X64Masm, body: impl FnOnce(&mut X64Masm)) -> Jit {
            m.prologue(CALL_DEPTH);
            body(&mut m);
            m.epilogue(Gpr::T0);
            Jit::from_code(m.finish().expect("finish"))
        }

        fn addr(&self) -> usize {
            self.map.as_ptr() as usize
        }

        fn call(&self, fr: &mut Frame) -> u32 {
            let (i, f, r) = (fr.i.as_mut_ptr(), fr.f.as_mut_ptr(), fr.r.as_mut_ptr());
            self.call_raw(fr, i, f, r)
        }

        /// Call with explicit (possibly shifted) bases.
        fn call_raw(&self, fr: &mut Frame, i: *mut i64, f: *mut f64, r: *mut u64) -> u32 {
            // SAFETY: the code was generated by X64Masm for the native entry
            // signature and only touches the frame and context it is given.
            unsafe {
                let entry: Entry = std::mem::transmute(self.map.as_ptr());
                entry(fr.ctx.as_mut_ptr().cast(), i, f, r)
            }
        }
    }

    const N: usize = 256;

    /// A fake context and the three banks of one frame.
    pub(super) struct Frame {
        ctx: [u64; 32],
        i: [i64; N],
        f: [f64; N],
        r: [u64; N],
    }

    impl Frame {
        fn new() -> Box<Frame> {
            Box::new(Frame {
                ctx: [0; 32],
                i: [0; N],
                f: [0.0; N],
                r: [0; N],
            })
        }
        fn ctx_addr(&mut self) -> u64 {
            self.ctx.as_mut_ptr() as u64
        }
        fn base(&mut self, bank: Bank) -> u64 {
            match bank {
                Bank::I => self.i.as_mut_ptr() as u64,
                Bank::F => self.f.as_mut_ptr() as u64,
                Bank::R => self.r.as_mut_ptr() as u64,
            }
        }
    }

    fn gi(g: Gpr) -> usize {
        g as usize
    }
    fn fi(f: Fpr) -> usize {
        FPRS.iter().position(|&x| x == f).unwrap_or(0)
    }

    /// The register file the tests observe: `T0..T2` and [`FPRS`] (bits).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Regs {
        t: [i64; 3],
        f: [u64; 4],
    }

    impl Regs {
        /// Put the values where a kernel loads them from: i slots 0..3 and
        /// f slots 0..4.
        fn place(&self, fr: &mut Frame) {
            fr.i[..3].copy_from_slice(&self.t);
            for (slot, bits) in fr.f.iter_mut().zip(self.f) {
                *slot = f64::from_bits(bits);
            }
        }
    }

    const SENTINELS: Regs = Regs {
        t: [
            0x0123_4567_89ab_cdef,
            -0x1111_2222_3333_4444,
            0x7777_0000_5555,
        ],
        f: [
            0x4009_21fb_5444_2d18,
            0xc05e_dd2f_1a9f_be77,
            0x7ff0_0000_0000_0000,
            0x3ff8_0000_0000_0001,
        ],
    };

    /// A kernel: load `T0..T2` from i slots 0..2 and [`FPRS`] from f slots
    /// 0..3, run `op`, store them back to i slots 3..5 and f slots 4..7.
    fn kernel_with(m: X64Masm, op: impl FnOnce(&mut X64Masm)) -> Jit {
        Jit::build_with(m, |m| {
            for (k, g) in GPRS.into_iter().enumerate() {
                m.load_slot(g, Bank::I, k as u32);
            }
            for (k, f) in FPRS.into_iter().enumerate() {
                m.load_fslot(f, k as u32);
            }
            op(m);
            for (k, g) in GPRS.into_iter().enumerate() {
                m.store_slot(Bank::I, 3 + k as u32, g);
            }
            for (k, f) in FPRS.into_iter().enumerate() {
                m.store_fslot(4 + k as u32, f);
            }
        })
    }

    fn kernel(op: impl FnOnce(&mut X64Masm)) -> Jit {
        kernel_with(X64Masm::new(), op)
    }

    fn run(jit: &Jit, regs: Regs) -> Regs {
        let mut fr = Frame::new();
        regs.place(&mut fr);
        jit.call(&mut fr);
        Regs {
            t: [fr.i[3], fr.i[4], fr.i[5]],
            f: [4, 5, 6, 7].map(|k| fr.f[k].to_bits()),
        }
    }

    const EDGE: [i64; 18] = [
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
        i64::MIN,
        i64::MAX,
        i64::MIN + 1,
        0x5555_5555_5555_5555,
        -0x1234_5678_9abc,
        1 << 32,
        u32::MAX as i64,
        -7,
    ];

    fn alu_model(op: AluOp, x: i64, y: i64) -> i64 {
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
        }
    }

    /// Registers with `lhs = x` and `rhs = y` (`y` wins when they are the
    /// same register), the others holding sentinels.
    fn with_operands(l: usize, x: i64, r: usize, y: i64) -> Regs {
        let mut regs = SENTINELS;
        regs.t[l] = x;
        regs.t[r] = y;
        regs
    }

    #[test]
    fn alu_matches_rust() {
        for op in ALU_OPS {
            for (d, a, b) in triples(&GPRS) {
                let jit = kernel(|m| m.alu(op, d, a, b));
                for (x, y) in pairs(&EDGE) {
                    let regs = with_operands(gi(a), x, gi(b), y);
                    let mut want = regs;
                    want.t[gi(d)] = alu_model(op, regs.t[gi(a)], regs.t[gi(b)]);
                    assert_eq!(
                        run(&jit, regs),
                        want,
                        "alu({op:?}, {d:?}, {a:?}, {b:?}) {x} {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn alu_imm_matches_rust() {
        for op in ALU_OPS {
            for (d, a) in pairs(&GPRS) {
                for imm in IMMS {
                    let jit = kernel(|m| m.alu_imm(op, d, a, imm));
                    for x in EDGE {
                        let regs = with_operands(gi(a), x, gi(a), x);
                        let mut want = regs;
                        want.t[gi(d)] = alu_model(op, x, i64::from(imm));
                        assert_eq!(
                            run(&jit, regs),
                            want,
                            "alu_imm({op:?}, {d:?}, {a:?}, {imm}) {x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn neg_not_mov_match_rust() {
        for (d, s) in pairs(&GPRS) {
            let neg = kernel(|m| m.neg(d, s));
            let not = kernel(|m| m.not(d, s));
            let mov = kernel(|m| m.mov(d, s));
            for x in EDGE {
                let regs = with_operands(gi(s), x, gi(s), x);
                for (jit, v) in [(&neg, x.wrapping_neg()), (&not, !x), (&mov, x)] {
                    let mut want = regs;
                    want.t[gi(d)] = v;
                    assert_eq!(run(jit, regs), want, "{d:?} {s:?} {x}");
                }
            }
        }
    }

    /// What the overflow path of a tested `sdiv` leaves in its result.
    const OVERFLOWED: i64 = 0x0BAD;

    #[test]
    fn sdiv_srem_match_rust() {
        for (d, a, b) in triples(&GPRS) {
            // An overflow leaves OVERFLOWED in `d`.
            let div = kernel(|m| {
                let (overflow, done) = (m.new_label(), m.new_label());
                m.sdiv(d, a, b, overflow);
                m.jump(done);
                m.bind(overflow);
                m.load_imm(d, OVERFLOWED);
                m.bind(done);
            });
            let rem = kernel(|m| m.srem(d, a, b));
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
                    assert_eq!(run(jit, regs), want, "{d:?} {a:?} {b:?} {x} {y}");
                }
            }
        }
    }

    #[test]
    fn mul_high_matches_rust() {
        for (d, a, b) in triples(&GPRS) {
            let jit = kernel(|m| m.mul_high(d, a, b));
            for (x, y) in pairs(&EDGE) {
                let regs = with_operands(gi(a), x, gi(b), y);
                let (x, y) = (regs.t[gi(a)], regs.t[gi(b)]);
                let mut want = regs;
                want.t[gi(d)] = ((i128::from(x) * i128::from(y)) >> 64) as i64;
                assert_eq!(run(&jit, regs), want, "{d:?} {a:?} {b:?} {x} {y}");
            }
        }
    }

    fn cond_model(c: Cond, x: i64, y: i64) -> bool {
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

    #[test]
    fn set_cond_matches_rust() {
        for c in CONDS {
            for (d, a, b) in triples(&GPRS) {
                let jit = kernel(|m| m.set_cond(c, d, a, b));
                for (x, y) in pairs(&EDGE) {
                    let regs = with_operands(gi(a), x, gi(b), y);
                    let mut want = regs;
                    want.t[gi(d)] = cond_model(c, regs.t[gi(a)], regs.t[gi(b)]) as i64;
                    assert_eq!(
                        run(&jit, regs),
                        want,
                        "set_cond({c:?}, {d:?}, {a:?}, {b:?}) {x} {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn set_cond_imm_matches_rust() {
        for c in CONDS {
            for (d, a) in pairs(&GPRS) {
                for imm in IMMS {
                    let jit = kernel(|m| m.set_cond_imm(c, d, a, imm));
                    for x in EDGE.into_iter().chain(IMMS.map(i64::from)) {
                        let regs = with_operands(gi(a), x, gi(a), x);
                        let mut want = regs;
                        want.t[gi(d)] = cond_model(c, x, i64::from(imm)) as i64;
                        assert_eq!(
                            run(&jit, regs),
                            want,
                            "set_cond_imm({c:?}, {d:?}, {a:?}, {imm}) {x}"
                        );
                    }
                }
            }
        }
    }

    /// `T0 = 1` if the branch emitted by `br` to its label is taken, else 2;
    /// the scratch registers are stored first (the branch must not change
    /// them).
    fn branch_kernel(br: impl FnOnce(&mut X64Masm, <X64Masm as MacroAssembler>::Label)) -> Jit {
        kernel(|m| {
            let taken = m.new_label();
            let end = m.new_label();
            br(m, taken);
            for (k, g) in GPRS.into_iter().enumerate() {
                m.store_slot(Bank::I, 6 + k as u32, g);
            }
            m.load_imm(Gpr::T0, 2);
            m.jump(end);
            m.bind(taken);
            for (k, g) in GPRS.into_iter().enumerate() {
                m.store_slot(Bank::I, 6 + k as u32, g);
            }
            m.load_imm(Gpr::T0, 1);
            m.bind(end);
            m.store_slot(Bank::I, 9, Gpr::T0);
        })
    }

    /// Runs a branch kernel: whether the branch was taken, after checking
    /// that the scratch registers were left alone.
    fn taken(jit: &Jit, regs: Regs) -> bool {
        let mut fr = Frame::new();
        regs.place(&mut fr);
        let status = jit.call(&mut fr);
        assert_eq!(
            [fr.i[6], fr.i[7], fr.i[8]],
            regs.t,
            "branch changed a register"
        );
        assert_eq!(status as i64, fr.i[9]);
        match status {
            1 => true,
            2 => false,
            s => panic!("status {s}"),
        }
    }

    #[test]
    fn branch_matches_rust() {
        for c in CONDS {
            for (a, b) in pairs(&GPRS) {
                let jit = branch_kernel(|m, l| m.branch(c, a, b, l));
                for (x, y) in pairs(&EDGE) {
                    let regs = with_operands(gi(a), x, gi(b), y);
                    let want = cond_model(c, regs.t[gi(a)], regs.t[gi(b)]);
                    assert_eq!(
                        taken(&jit, regs),
                        want,
                        "branch({c:?}, {a:?}, {b:?}) {x} {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn branch_imm_matches_rust() {
        for c in CONDS {
            for a in GPRS {
                for imm in IMMS {
                    let jit = branch_kernel(|m, l| m.branch_imm(c, a, imm, l));
                    for x in EDGE.into_iter().chain(IMMS.map(i64::from)) {
                        let regs = with_operands(gi(a), x, gi(a), x);
                        let want = cond_model(c, x, i64::from(imm));
                        assert_eq!(
                            taken(&jit, regs),
                            want,
                            "branch_imm({c:?}, {a:?}, {imm}) {x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn backward_branches_loop() {
        // T0 = 0; T1 = 10; loop: T0 += T1; T1 -= 1; if T1 != 0 goto loop.
        for g in [Gpr::T1, Gpr::T2] {
            let jit = Jit::build(|m| {
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

    // ---- f64 ----

    const QUIET: u64 = 1 << 51;
    /// x86's default NaN ("real indefinite").
    const DEFAULT_NAN: u64 = 0xfff8_0000_0000_0000;

    fn fedge() -> Vec<f64> {
        let mut v = vec![
            0.0,
            -0.0,
            1.0,
            -1.5,
            2.5,
            -2.5,
            0.1,
            3.0,
            1e308,
            -1e-310,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        v.extend(
            [
                0x7ff8_0000_0000_0000,
                0x7ff4_0000_0000_0001,
                0xfff8_0000_0000_0123,
            ]
            .map(f64::from_bits),
        );
        v
    }

    /// SSE2 scalar arithmetic: a NaN operand comes back quieted, the first
    /// one if both are; an invalid operation gives the default NaN.
    fn fp_model(op: FpOp, x: f64, y: f64) -> u64 {
        if x.is_nan() {
            return x.to_bits() | QUIET;
        }
        if y.is_nan() {
            return y.to_bits() | QUIET;
        }
        let (x, y) = (std::hint::black_box(x), std::hint::black_box(y));
        let r = match op {
            FpOp::Add => x + y,
            FpOp::Sub => x - y,
            FpOp::Mul => x * y,
            FpOp::Div => x / y,
        };
        if r.is_nan() { DEFAULT_NAN } else { r.to_bits() }
    }

    fn with_foperands(l: usize, x: f64, r: usize, y: f64) -> Regs {
        let mut regs = SENTINELS;
        regs.f[l] = x.to_bits();
        regs.f[r] = y.to_bits();
        regs
    }

    #[test]
    fn fp_op_matches_rust() {
        let vals = fedge();
        for op in FP_OPS {
            for (d, a, b) in triples(&FPRS) {
                let jit = kernel(|m| m.fp_op(op, d, a, b));
                for (x, y) in pairs(&vals) {
                    let regs = with_foperands(fi(a), x, fi(b), y);
                    let mut want = regs;
                    want.f[fi(d)] = fp_model(
                        op,
                        f64::from_bits(regs.f[fi(a)]),
                        f64::from_bits(regs.f[fi(b)]),
                    );
                    assert_eq!(
                        run(&jit, regs),
                        want,
                        "fp_op({op:?}, {d:?}, {a:?}, {b:?}) {x} {y}"
                    );
                }
            }
        }
    }

    /// `sse41`: whether floor is `roundsd` (which quiets a signalling NaN)
    /// or a call to Rust's `floor` (which may return it as it is; only the
    /// sign of a NaN is observable to programs, through printing).
    fn unary_model(op: FpUnary, x: f64, sse41: bool) -> u64 {
        let b = x.to_bits();
        match op {
            FpUnary::Neg => b ^ (1 << 63),
            FpUnary::Abs => b & !(1 << 63),
            FpUnary::Copy => b,
            FpUnary::Floor if !sse41 => std::hint::black_box(x).floor().to_bits(),
            _ if x.is_nan() => b | QUIET,
            FpUnary::Sqrt if x < 0.0 => DEFAULT_NAN,
            FpUnary::Sqrt => std::hint::black_box(x).sqrt().to_bits(),
            FpUnary::Floor => std::hint::black_box(x).floor().to_bits(),
        }
    }

    fn host_sse41() -> bool {
        std::arch::is_x86_feature_detected!("sse4.1")
    }

    #[test]
    fn fp_unary_matches_rust() {
        let mut vals = fedge();
        vals.extend([
            -0.5,
            0.5,
            0.9999999999999999,
            -0.9999999999999999,
            4503599627370495.5,
            -4503599627370495.5,
            4503599627370497.0,
            1e300,
            -1e-300,
        ]);
        let mut variants = vec![false];
        if host_sse41() {
            variants.push(true);
        }
        for op in FP_UNARY {
            for &sse41 in &variants {
                for (d, s) in pairs(&FPRS) {
                    let jit = kernel_with(X64Masm::with_sse41(sse41), |m| m.fp_unary(op, d, s));
                    for &x in &vals {
                        let regs = with_foperands(fi(s), x, fi(s), x);
                        let mut want = regs;
                        want.f[fi(d)] = unary_model(op, x, sse41);
                        assert_eq!(
                            run(&jit, regs),
                            want,
                            "fp_unary({op:?}, {d:?}, {s:?}) sse41={sse41} {x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fp_set_cond_matches_rust() {
        let vals = fedge();
        for c in CMPS {
            for d in GPRS {
                for (a, b) in pairs(&FPRS) {
                    let jit = kernel(|m| m.fp_set_cond(c, d, a, b));
                    for (x, y) in pairs(&vals) {
                        let regs = with_foperands(fi(a), x, fi(b), y);
                        let (x, y) = (f64::from_bits(regs.f[fi(a)]), f64::from_bits(regs.f[fi(b)]));
                        let mut want = regs;
                        want.t[gi(d)] = c.float(x, y) as i64;
                        assert_eq!(
                            run(&jit, regs),
                            want,
                            "fp_set_cond({c:?}, {d:?}, {a:?}, {b:?}) {x} {y}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fp_branch_matches_rust() {
        let vals = fedge();
        for c in CMPS {
            for (a, b) in pairs(&FPRS) {
                let jit = branch_kernel(|m, l| m.fp_branch(c, a, b, l));
                for (x, y) in pairs(&vals) {
                    let regs = with_foperands(fi(a), x, fi(b), y);
                    let (x, y) = (f64::from_bits(regs.f[fi(a)]), f64::from_bits(regs.f[fi(b)]));
                    assert_eq!(
                        taken(&jit, regs),
                        c.float(x, y),
                        "fp_branch({c:?}, {a:?}, {b:?}) {x} {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn i2f_matches_rust() {
        let vals = EDGE
            .into_iter()
            .chain([(1 << 53) + 1, -(1 << 53) - 1, i64::MAX - 511, 3 << 60]);
        let vals: Vec<i64> = vals.collect();
        for (f, g) in FPRS.iter().flat_map(|&f| GPRS.map(|g| (f, g))) {
            let jit = kernel(|m| m.i2f(f, g));
            for &x in &vals {
                let regs = with_operands(gi(g), x, gi(g), x);
                let mut want = regs;
                want.f[fi(f)] = (x as f64).to_bits();
                assert_eq!(run(&jit, regs), want, "i2f({f:?}, {g:?}) {x}");
            }
        }
    }

    /// 2^63.
    const TWO63: f64 = 9_223_372_036_854_775_808.0;

    #[test]
    fn f2i_matches_rust() {
        let mut vals = fedge();
        vals.extend([
            1e19,
            -1e19,
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
            123456789.9,
            -123456789.9,
        ]);
        for (g, f) in GPRS.iter().flat_map(|&g| FPRS.map(|f| (g, f))) {
            let jit = kernel(|m| m.f2i(g, f));
            for &x in &vals {
                let regs = with_foperands(fi(f), x, fi(f), x);
                let mut want = regs;
                want.t[gi(g)] = x as i64;
                assert_eq!(run(&jit, regs), want, "f2i({g:?}, {f:?}) {x}");
            }
        }
    }

    #[test]
    fn repeated_internal_labels_resolve_to_their_own_method() {
        // f2i, fp_branch(Eq) and the zero_slots loop use local labels
        // inside the method: several in one function must not mix up.
        let jit = Jit::build(|m| {
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
        fr.r = [1; N];
        fr.i = [-1; N];
        jit.call(&mut fr);
        assert_eq!(fr.i[..3], [0, i64::MAX, -1]);
        assert_eq!(fr.i[10..13], [0, -1, -1], "NaN != NaN falls through once");
        assert!(fr.r[..20].iter().all(|&x| x == 0));
        assert_eq!(fr.r[20], 1);
    }

    // ---- constants, slots ----

    #[test]
    fn load_imm_and_fimm() {
        for g in GPRS {
            let jit = Jit::build(|m| {
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
            let jit = Jit::build(|m| {
                for (k, &b) in bits.iter().enumerate() {
                    m.load_fimm(f, b);
                    m.store_fslot(k as u32, f);
                }
            });
            let mut fr = Frame::new();
            fr.f = [1.0; N];
            jit.call(&mut fr);
            let got: Vec<u64> = fr.f[..bits.len()].iter().map(|x| x.to_bits()).collect();
            assert_eq!(got, bits, "load_fimm({f:?})");
        }
    }

    #[test]
    fn slots_load_store_and_address() {
        for bank in Bank::ALL {
            for (a, b) in pairs(&GPRS) {
                // i/f/r slot 7 -> a; a -> slot 9; slot address of 100 -> b.
                let jit = Jit::build(|m| {
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
            let jit = Jit::build(|m| {
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

    #[test]
    fn far_slots_use_synthesised_addresses() {
        // Bases shifted down so that huge slot numbers land in the arrays.
        for slot in [4096u32, 65535, (1 << 28) - 1, 1 << 28, u32::MAX] {
            let jit = Jit::build(|m| {
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

    #[test]
    fn zero_slots_zeroes_exactly_the_range() {
        for bank in Bank::ALL {
            for (first, count) in [(0, 0), (0, 1), (3, 7), (1, 8), (2, 9), (5, 100), (0, 248)] {
                // Slots 0..8 are the kernel's own.
                let jit = kernel(|m| m.zero_slots(bank, first + 8, count));
                let mut fr = Frame::new();
                fr.i = [-1; N];
                fr.f = [-1.0; N];
                fr.r = [u64::MAX; N];
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

    // ---- memory through registers, the context ----

    #[test]
    fn loads_and_stores_through_registers() {
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
                let jit = Jit::build(|m| {
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
                fr.i = [-1; N];
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
                    let jit = Jit::build(|m| {
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

    #[test]
    fn byte_indexed_loads_and_stores() {
        let mut buf: Vec<u8> = (0..4096usize).map(|k| (k * 7 + 3) as u8).collect();
        let base = buf.as_mut_ptr() as i64 + 2048;
        for (b, i, s) in triples(&GPRS) {
            if b == i || s == b || s == i {
                continue; // base, index and value hold different things here
            }
            for off in [0, 16, -8, 127, 128, -129, 1000] {
                for index in [0i64, 1, 5, -3, 300] {
                    let at = (2048 + index + i64::from(off)) as usize;
                    let jit = Jit::build(|m| {
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
                    fr.i = [-1; N];
                    jit.call(&mut fr);
                    let what =
                        format!("base {b:?} index {i:?} value {s:?} off {off} index {index}");
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

    #[test]
    fn context_loads_and_stores() {
        for g in GPRS {
            let jit = Jit::build(|m| {
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
            fr.ctx = [0x0102_0304_0506_0708; 32];
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

    #[test]
    fn branch_stack_below_compares_rsp() {
        let jit = branch_kernel(|m, l| m.branch_stack_below(40, l));
        let local = 0u8;
        let here = &local as *const u8 as u64;
        for (limit, below) in [
            (0, false),
            (u64::MAX, true),
            (here - (1 << 20), false),
            (here + 4096, true),
        ] {
            let mut fr = Frame::new();
            fr.ctx[5] = limit;
            fr.i[..3].copy_from_slice(&SENTINELS.t);
            let status = jit.call(&mut fr);
            assert_eq!(status == 1, below, "limit {limit:#x}");
        }
        std::hint::black_box(&local);
    }

    #[test]
    fn branch_flag_set_tests_the_byte_behind_the_pointer() {
        let jit = branch_kernel(|m, l| m.branch_flag_set(48, l));
        for (flag, set) in [(0u8, false), (1, true), (0x80, true), (0xff, true)] {
            // The bytes around the flag must not matter.
            let bytes = [0xffu8, flag, 0xff];
            let mut fr = Frame::new();
            fr.ctx[6] = &bytes[1] as *const u8 as u64;
            fr.i[..3].copy_from_slice(&SENTINELS.t);
            let status = jit.call(&mut fr);
            assert_eq!(status == 1, set, "flag {flag:#x}");
            assert_eq!([fr.i[6], fr.i[7], fr.i[8]], SENTINELS.t, "scratch changed");
        }
    }

    // ---- calls ----

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
    fn check_helper_calls(lists: &[Vec<HelperArg>]) {
        for chunk in lists.chunks(64) {
            let jit = Jit::build(|m| {
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

    #[test]
    fn call_helper_every_register_permutation() {
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
        check_helper_calls(&lists);
    }

    #[test]
    fn call_helper_mixed_arguments() {
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
        check_helper_calls(&lists);
    }

    /// `lea rax, [rsp + 8]; ret`: returns the stack pointer of its call site.
    fn stack_probe() -> Jit {
        Jit::from_code(&[0x48, 0x8d, 0x44, 0x24, 0x08, 0xc3])
    }

    #[test]
    fn calls_see_an_aligned_stack() {
        let probe = stack_probe();
        let jit = Jit::build(|m| {
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

    #[test]
    fn call_native_calls_generated_code() {
        // The callee: i[1] = i[0] + 1; f[1] = f[0] * 2; r[1] = r[0] ^ 0xff;
        // ctx[1] = ctx[0]; returns 7 + i[0] (as u32).
        let callee = Jit::build(|m| {
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
                let jit = Jit::build(|m| {
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

    #[test]
    fn prologue_loads_the_call_depth() {
        for g in GPRS {
            for delta in [0, 1, -1] {
                let jit = Jit::build(|m| {
                    m.call_depth(g, delta);
                    m.mov(Gpr::T0, g);
                });
                let mut fr = Frame::new();
                fr.ctx[CALL_DEPTH as usize / 8] = 41;
                assert_eq!(jit.call(&mut fr), (41 + delta) as u32, "{g:?} {delta}");
            }
        }
    }

    #[test]
    fn prologue_epilogue_preserve_callee_saved_registers() {
        let jit = Jit::build(|m| {
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
