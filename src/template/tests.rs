//! Golden disassembly of every op's template on both ISAs (run on any host:
//! dynasm-rs encodes for either), decoded by independent disassemblers
//! (iced-x86, yaxpeax-arm). `TIERJIT_BLESS=1` re-blesses.

use std::ops::Range;

use super::emit;
use super::isa::{
    aarch64::A64Masm,
    x64::{X64Features, X64Masm},
};
use super::masm::MacroAssembler;
use crate::bytecode::{
    Bank, FieldDecl, Function, Global, Import, Module, NO_REG, Op, Opcode, Operand, Signature,
    StructDecl, SwitchTable,
};
use crate::runtime::frame::FrameLayout;
use crate::runtime::helpers::HelperAddrs;

/// A module whose function 0 holds `opcode` once (with representative
/// operands) followed by a return; function 1 and import 0 are call targets,
/// type 0 is their signature (the type of `fref` of function 1 and of
/// `closure` of function 2, whose last parameter is its environment). The
/// module has two globals of each bank (the ops name the second); a
/// `switch` has three cases and a default, each setting `i2`.
fn sample(opcode: Opcode) -> Module {
    let callee_sig = Signature::new([Bank::I, Bank::F], Some(Bank::I));
    let env_callee_sig = Signature::new([Bank::I, Bank::F, Bank::R], Some(Bank::I));
    let mut fields = [0u16; 3];
    for (k, operand) in opcode.operands().iter().enumerate() {
        fields[k] = match operand {
            Operand::None => 0,
            Operand::Read(_) | Operand::Write(_) | Operand::Update(_) => k as u16 + 1,
            Operand::ReadRun(..) => 1,
            Operand::Imm => (-7i16) as u16,
            Operand::ConstI | Operand::ConstF | Operand::Str | Operand::Host => 0,
            Operand::Target => 1,
            Operand::Func if opcode == Opcode::Closure => 2,
            Operand::Func => 1,
            Operand::Type => 0,
            Operand::CallDst => 1,
            Operand::ArgWindow => 2,
            Operand::Count => 9,
            Operand::Global(_) => 1,
            Operand::Table => 0,
            // `B`'s own field of the bank; struct `A`, a parent (two kinds).
            Operand::Field(bank) => 3 + bank.index() as u16,
            Operand::Struct => 0,
        };
    }
    let op = Op::new(opcode, fields[0], fields[1], fields[2]);
    let result = match opcode {
        Opcode::RetI => Some(Bank::I),
        Opcode::RetF => Some(Bank::F),
        Opcode::RetR => Some(Bank::R),
        // A tail call returns what its callee returns.
        Opcode::TCall | Opcode::TCallI => Some(Bank::I),
        _ => None,
    };
    let mut code = vec![op];
    let mut switch_tables = Vec::new();
    if opcode == Opcode::Switch {
        // switch i1: 1, 2, 3, else 4.
        switch_tables.push(SwitchTable {
            targets: vec![1, 2, 3],
            default: 4,
        });
        for k in 1..=4 {
            code.push(Op::new(Opcode::IConst, 2, k, 0));
        }
    }
    if opcode.flow() != crate::bytecode::Flow::Return {
        code.push(Op::new(Opcode::Ret, 0, 0, 0));
    }
    let f = Function {
        name: "t".into(),
        sig: Signature::new([Bank::I], result),
        regs: [5, 4, 4],
        code,
        switch_tables,
        ..Function::default()
    };
    let callee = Function {
        name: "callee".into(),
        sig: callee_sig.clone(),
        regs: [2, 1, 0],
        code: vec![Op::new(Opcode::RetI, 0, 0, 0)],
        ..Function::default()
    };
    let env_callee = Function {
        name: "env_callee".into(),
        sig: env_callee_sig,
        regs: [1, 1, 1],
        code: vec![Op::new(Opcode::RetI, 0, 0, 0)],
        ..Function::default()
    };
    let m = Module {
        functions: vec![f, callee, env_callee],
        imports: vec![Import {
            name: "host".into(),
            sig: callee_sig.clone(),
            line: None,
        }],
        iconsts: vec![1 << 40],
        fconsts: vec![2.5f64.to_bits()],
        strings: vec!["s".into()],
        types: vec![callee_sig],
        globals: [
            ("gi", Bank::I, 5),
            ("gf", Bank::F, 2.5f64.to_bits()),
            ("gr", Bank::R, 0),
        ]
        .into_iter()
        .flat_map(|(name, bank, init)| {
            (0..2).map(move |k| Global {
                name: format!("{name}{k}"),
                bank,
                init,
            })
        })
        .collect(),
        structs: ["A", "B"]
            .iter()
            .enumerate()
            .map(|(k, name)| StructDecl {
                name: (*name).into(),
                parent: (k > 0).then_some(0),
                fields: Bank::ALL
                    .iter()
                    .map(|&bank| FieldDecl {
                        name: format!("{bank}{k}"),
                        bank,
                    })
                    .collect(),
            })
            .collect(),
    };
    if let Err(e) = crate::bytecode::verify::verify(&m) {
        panic!("sample for {opcode:?} does not verify: {e}");
    }
    m
}

fn file_name(opcode: Opcode) -> String {
    match opcode {
        Opcode::IConstK => "iconst_pooled".into(),
        o => o.mnemonic().to_string(),
    }
}

/// The code split into runs of instructions (`false`) and of data
/// (`true`, the ranges in `data`, in order).
pub(crate) fn segments(len: usize, data: &[Range<usize>]) -> Vec<(Range<usize>, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    for r in data {
        if r.start > at {
            out.push((at..r.start, false));
        }
        out.push((r.clone(), true));
        at = r.end;
    }
    if at < len {
        out.push((at..len, false));
    }
    out
}

/// The listing lines of a jump table's entries in `range`: offset, entry
/// and the target it names (the entries count from the table's start).
/// No column of bytes: the lines are no instructions to decode.
pub(crate) fn data_lines(code: &[u8], range: &Range<usize>) -> Vec<(usize, String)> {
    code[range.clone()]
        .chunks(4)
        .enumerate()
        .map(|(k, word)| {
            let at = range.start + 4 * k;
            let mut bytes = [0u8; 4];
            bytes[..word.len()].copy_from_slice(word);
            let v = i32::from_le_bytes(bytes);
            let target = range.start as i64 + i64::from(v);
            (at, format!(".long {:#010x} ; -> {target:#x}", v as u32))
        })
        .collect()
}

pub(crate) fn disasm_x64(code: &[u8], data: &[Range<usize>]) -> String {
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
    let mut formatter = IntelFormatter::new();
    let mut out = String::new();
    let mut text = String::new();
    for (range, is_data) in segments(code.len(), data) {
        if is_data {
            for (at, line) in data_lines(code, &range) {
                out += &format!("{at:5x}: {line}\n");
            }
            continue;
        }
        let mut decoder = Decoder::with_ip(
            64,
            &code[range.clone()],
            range.start as u64,
            DecoderOptions::NONE,
        );
        while decoder.can_decode() {
            let insn = decoder.decode();
            assert!(
                !insn.is_invalid(),
                "invalid x86-64 instruction at {:#x}",
                insn.ip()
            );
            text.clear();
            formatter.format(&insn, &mut text);
            out += &format!("{:5x}: {}\n", insn.ip(), text);
        }
    }
    out
}

pub(crate) fn disasm_a64(code: &[u8], data: &[Range<usize>]) -> String {
    use yaxpeax_arch::{Decoder, U8Reader};
    use yaxpeax_arm::armv8::a64::InstDecoder;
    assert_eq!(code.len() % 4, 0);
    let decoder = InstDecoder::default();
    let mut out = String::new();
    for (range, is_data) in segments(code.len(), data) {
        if is_data {
            for (at, line) in data_lines(code, &range) {
                out += &format!("{at:5x}: {line}\n");
            }
            continue;
        }
        for (i, word) in code[range.clone()].chunks(4).enumerate() {
            let at = range.start + i * 4;
            let mut reader = U8Reader::new(word);
            let insn = decoder
                .decode(&mut reader)
                .unwrap_or_else(|e| panic!("invalid aarch64 word at {at:#x}: {e}"));
            out += &format!("{at:5x}: {insn}\n");
        }
    }
    out
}

fn layouts(m: &Module) -> Vec<FrameLayout> {
    FrameLayout::all(m)
}

/// The listing of function `func` of `m` on `isa` ("x64" or "aarch64"),
/// with fake helper addresses, for golden files.
fn listing(isa: &str, m: &Module, func: usize, counters: bool) -> String {
    let (helpers, layouts) = (HelperAddrs::fake(), layouts(m));
    if isa == "x64" {
        let mut c = emit::Compiler::new(X64Masm::with_features(X64Features::ALL));
        let code = c
            .compile(&helpers, m, &layouts, func, counters)
            .expect("compiles")
            .to_vec();
        disasm_x64(&code, c.masm().data())
    } else {
        let mut c = emit::Compiler::new(A64Masm::new());
        let code = c
            .compile(&helpers, m, &layouts, func, counters)
            .expect("compiles")
            .to_vec();
        disasm_a64(&code, c.masm().data())
    }
}

#[test]
fn every_op_template_disassembles_as_expected_on_x64() {
    for &opcode in Opcode::ALL {
        crate::template::golden::check(
            &format!("x64/ops/{}", file_name(opcode)),
            &listing("x64", &sample(opcode), 0, false),
        );
    }
}

/// A loop in a function that is not the first of its module (the counter
/// addresses depend on the index), compiled with tiering counters.
fn counted_loop() -> Module {
    crate::bytecode::text::parse(
        "func other() -> none\n ret\nend\n\
         func f(i) -> i\ntop:\n subi i0, i0, 1\n jgti i0, 0, top\n reti i0\nend\n",
    )
    .expect("parses")
}

#[test]
fn tiering_counters_disassemble_as_expected() {
    let m = counted_loop();
    for isa in ["x64", "aarch64"] {
        crate::template::golden::check(
            &format!("{isa}/tiering_counters"),
            &listing(isa, &m, 1, true),
        );
    }
}

/// f64 values carried around loops: `sum` (an accumulator updated in place)
/// stays in its register, loaded once before the loop; `x` moves to another
/// register in the body, so the back-edge's stub reloads it (and with
/// counters, the path back from the tiering hook reloads both). The inner
/// loop's header has a forward entry too and keeps nothing.
fn fp_loops() -> Module {
    crate::bytecode::text::parse(
        "func f(f, i) -> f
    fconst f1, 0.5
top:
    fadd f2, f2, f0
    fmul f3, f0, f1
    fmov f0, f3
    subi i0, i0, 1
    jgti i0, 0, top
    jmp  check
inner:
    fadd f2, f2, f1
    subi i0, i0, 1
check:
    jgti i0, 0, inner
    retf f2
end",
    )
    .expect("parses")
}

#[test]
fn fp_loop_registers_disassemble_as_expected() {
    let m = fp_loops();
    for isa in ["x64", "aarch64"] {
        for counters in [false, true] {
            crate::template::golden::check(
                &format!(
                    "{isa}/fp_loop_registers{}",
                    if counters { "_counters" } else { "" }
                ),
                &listing(isa, &m, 0, counters),
            );
        }
    }
}

/// Tail calls: of the function itself (without counters a jump back to
/// the start of the body, which clears the other registers; with counters
/// a return asking the caller for the call) and of a function with a larger
/// frame (checked against the register stacks).
fn tail_calls() -> Module {
    crate::bytecode::text::parse(
        "func other(i) -> i regs i=9 f=0 r=0
    reti i0
end
func f(i, i) -> i
    jeqi i0, 0, out
    add i1, i1, i0
    subi i0, i0, 1
    tcall f, 0
out:
    tcall other, 1
end",
    )
    .expect("parses")
}

#[test]
fn tail_calls_disassemble_as_expected() {
    let m = tail_calls();
    for isa in ["x64", "aarch64"] {
        for counters in [false, true] {
            crate::template::golden::check(
                &format!(
                    "{isa}/tail_calls{}",
                    if counters { "_counters" } else { "" }
                ),
                &listing(isa, &m, 1, counters),
            );
        }
    }
}

#[test]
fn every_op_template_disassembles_as_expected_on_aarch64() {
    for &opcode in Opcode::ALL {
        crate::template::golden::check(
            &format!("aarch64/ops/{}", file_name(opcode)),
            &listing("aarch64", &sample(opcode), 0, false),
        );
    }
}

#[test]
fn samples_cover_calls_with_and_without_results() {
    let m = sample(Opcode::Call);
    assert_ne!(m.functions[0].code[0].a, NO_REG);
}

/// One reused compiler gives, function after function, exactly the code a
/// fresh one gives: nothing of one function leaks into the next.
fn reuse_matches_fresh<M: super::masm::MacroAssembler>(reused: M, fresh: impl Fn() -> M) {
    let helpers = HelperAddrs::fake();
    let mut compiler = emit::Compiler::new(reused);
    for counters in [false, true] {
        for &opcode in Opcode::ALL.iter().rev() {
            let m = sample(opcode);
            let layouts = layouts(&m);
            for func in 0..m.functions.len() {
                let want = emit::compile(fresh(), &helpers, &m, &layouts, func, counters)
                    .expect("compiles");
                let got = compiler
                    .compile(&helpers, &m, &layouts, func, counters)
                    .expect("compiles");
                assert_eq!(got, &want[..], "{opcode:?} function {func}");
            }
        }
    }
}

#[test]
fn a_reused_compiler_matches_a_fresh_one_on_x64() {
    reuse_matches_fresh(X64Masm::with_features(X64Features::ALL), || {
        X64Masm::with_features(X64Features::ALL)
    });
}

#[test]
fn a_reused_compiler_matches_a_fresh_one_on_aarch64() {
    reuse_matches_fresh(A64Masm::new(), A64Masm::new);
}

/// The back-edge fix-ups of f64 registers: copies where a register holds
/// the slot, loads where none does or where copies would chase each other
/// in a cycle (slot k is at offset 8 * k of the f64 frame).
#[test]
fn fp_restores_disassemble_as_expected() {
    type Holds = [Option<u32>; 8];
    let cases: [(&str, Holds, Option<Holds>); 5] = [
        (
            "chain",
            [Some(1), Some(2), Some(3), None, None, None, None, None],
            Some([Some(2), Some(3), None, Some(1), None, None, None, None]),
        ),
        (
            "swap",
            [Some(1), Some(2), None, None, None, None, None, None],
            Some([Some(2), Some(1), None, None, None, None, None, None]),
        ),
        (
            "in place",
            [Some(1), Some(2), None, None, None, None, None, None],
            Some([Some(1), Some(2), Some(3), None, None, None, None, None]),
        ),
        (
            "evicted",
            [Some(1), None, Some(7), None, None, None, None, None],
            Some([Some(4), Some(5), None, None, None, None, None, None]),
        ),
        (
            "after a call",
            [Some(1), Some(2), None, None, None, None, None, None],
            None,
        ),
    ];
    for isa in ["x64", "aarch64"] {
        let mut out = String::new();
        for (name, on_entry, now) in &cases {
            let code = if isa == "x64" {
                let mut m = X64Masm::with_features(X64Features::ALL);
                emit::restore_fp(&mut m, on_entry, now.as_ref());
                disasm_x64(m.finish().expect("assembles"), &[])
            } else {
                let mut m = A64Masm::new();
                emit::restore_fp(&mut m, on_entry, now.as_ref());
                disasm_a64(m.finish().expect("assembles"), &[])
            };
            out.push_str(&format!(
                "# {name}: want {on_entry:?}\n#   have {now:?}\n{code}\n"
            ));
        }
        crate::template::golden::check(&format!("{isa}/fp_restores"), &out);
    }
}

/// A template frame: the CFA follows the stack pointer through the
/// frame record's save, then the frame pointer.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn template_cfi_moves_the_cfa_to_the_frame_pointer() {
    let unwind = super::frame_unwind();
    let fde = unwind
        .fde(0x4000, 0x100)
        .expect("template code is described");
    let rows =
        crate::runtime::unwind::tests::cfa_rows(&crate::runtime::unwind::eh_frame(fde), 0x4000);
    let cfas: Vec<(u64, &str)> = rows.iter().map(|r| (r.0 - 0x4000, r.2.as_str())).collect();
    #[cfg(target_arch = "x86_64")]
    let want = [(0, "r7+8"), (1, "r7+16"), (4, "r6+16")];
    #[cfg(target_arch = "aarch64")]
    let want = [(0, "r31+0"), (4, "r31+64"), (8, "r29+64")];
    for (k, w) in want.iter().enumerate() {
        assert_eq!(cfas[k], *w, "{rows:?}");
    }
    // The rest only record the saves: the CFA stays on the frame pointer.
    assert!(
        cfas[want.len()..].iter().all(|c| c.1 == want[2].1),
        "{rows:?}"
    );
    assert_eq!(rows.last().map(|r| r.1), Some(0x4100));
}
