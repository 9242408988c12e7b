//! The text-format printer: a [`Module`] to `.tj` text.
//!
//! Operands are printed by their [`Operand`] kind from [`Opcode::operands`].
//! Printing never fails and never panics, even on an unverified module:
//! an index that points nowhere is printed as `?k5`, `?fn3`, `?L9`, ...
//! (which does not parse back).
//!
//! [`Opcode::operands`]: crate::bytecode::op::Opcode::operands

use crate::bytecode::module::{Function, Module};
use crate::bytecode::op::{Bank, NO_REG, Op, Operand};
use std::fmt::Write;

/// Prints a module in the text format: the function types first (type `k`
/// as `type t<k> = ...` on line `k + 1`), then the imports, the globals,
/// the structs, then the functions in order, each with an explicit `regs` and
/// a label `L<op index>` before every jump target.
pub fn print(module: &Module) -> String {
    print_with(module, false)
}

/// Like [`print()`], with a comment after every op giving its index and, when
/// the module came from text, its source line (`; pc 3, line 7`). For
/// disassembly listings; it parses back to the same module.
pub fn print_annotated(module: &Module) -> String {
    print_with(module, true)
}

fn print_with(module: &Module, annotate: bool) -> String {
    let mut out = String::new();
    for (k, t) in module.types.iter().enumerate() {
        let _ = writeln!(out, "type t{k} = {t}");
    }
    for imp in &module.imports {
        let _ = writeln!(out, "import {}{}", imp.name, imp.sig);
    }
    for g in &module.globals {
        let _ = match g.bank {
            Bank::I => writeln!(out, "global i {} = {}", g.name, g.init as i64),
            Bank::F => writeln!(out, "global f {} = {}", g.name, format_f64(g.init)),
            Bank::R => writeln!(out, "global r {}", g.name),
        };
    }
    for s in &module.structs {
        let _ = write!(out, "struct {}", s.name);
        if let Some(p) = s.parent {
            let _ = match module.structs.get(usize::from(p)) {
                Some(ps) => write!(out, " : {}", ps.name),
                None => write!(out, " : ?struct{p}"),
            };
        }
        out.push_str(" {");
        for (j, f) in s.fields.iter().enumerate() {
            let _ = write!(
                out,
                "{} {} {}",
                if j > 0 { "," } else { "" },
                f.bank,
                f.name
            );
        }
        out.push_str(if s.fields.is_empty() { "}\n" } else { " }\n" });
    }
    for f in &module.functions {
        if !out.is_empty() {
            out.push('\n');
        }
        print_function(&mut out, module, f, annotate);
    }
    out
}

fn print_function(out: &mut String, module: &Module, f: &Function, annotate: bool) {
    let _ = write!(out, "func {}(", f.name);
    for (j, b) in f.sig.params.iter().enumerate() {
        if j > 0 {
            out.push_str(", ");
        }
        out.push(b.letter());
        if let Some(Some(v)) = f.param_defaults.get(j) {
            let _ = write!(out, "={v}");
        }
    }
    let [ri, rf, rr] = f.regs;
    let _ = writeln!(
        out,
        ") -> {} regs i={ri} f={rf} r={rr}",
        bank_or_none(f.sig.result)
    );

    let n = f.code.len();
    let mut labeled = vec![false; n + 1];
    for op in &f.code {
        for t in f.targets_of(op) {
            if let Some(slot) = labeled.get_mut(usize::from(t)) {
                *slot = true;
            }
        }
    }
    for (pc, is_target) in labeled.iter().enumerate() {
        if *is_target {
            let _ = writeln!(out, "L{pc}:");
        }
        if let Some(op) = f.code.get(pc) {
            let start = out.len();
            print_op(out, module, f, op);
            if annotate {
                annotate_op(out, start, pc, f.line_of(pc));
            }
        }
    }
    out.push_str("end\n");
}

fn bank_or_none(b: Option<Bank>) -> &'static str {
    match b {
        Some(Bank::I) => "i",
        Some(Bank::F) => "f",
        Some(Bank::R) => "r",
        None => "none",
    }
}

/// Replaces the newline ending the op printed from byte `start` by a
/// comment with its index and source line.
fn annotate_op(out: &mut String, start: usize, pc: usize, line: Option<u32>) {
    if out.ends_with('\n') {
        out.pop();
    }
    let width = out.get(start..).map_or(0, |s| s.chars().count());
    for _ in width..40 {
        out.push(' ');
    }
    let _ = match line {
        Some(l) => writeln!(out, " ; pc {pc}, line {l}"),
        None => writeln!(out, " ; pc {pc}"),
    };
}

/// The result bank of the callee of a `call` or `hcall`, if it is known.
fn callee_result(module: &Module, op: &Op) -> Option<Bank> {
    op.opcode
        .operands()
        .iter()
        .zip(op.fields())
        .find_map(|(kind, v)| match kind {
            Operand::Func => module.functions.get(usize::from(v)).map(|f| f.sig.result),
            Operand::Host => module.imports.get(usize::from(v)).map(|i| i.sig.result),
            _ => None,
        })?
}

/// Prints one op of function `f`.
fn print_op(out: &mut String, module: &Module, f: &Function, op: &Op) {
    let n = f.code.len();
    let label = |t: u16| {
        if usize::from(t) <= n {
            format!("L{t}")
        } else {
            format!("?L{t}")
        }
    };
    out.push_str("    ");
    out.push_str(op.opcode.mnemonic());
    let mut first = true;
    for (kind, v) in op.opcode.operands().iter().zip(op.fields()) {
        if *kind == Operand::None {
            continue;
        }
        out.push_str(if first { " " } else { ", " });
        first = false;
        let k = usize::from(v);
        let _ = match kind {
            Operand::None => Ok(()),
            Operand::Read(b) | Operand::Write(b) | Operand::Update(b) | Operand::ReadRun(b, _) => {
                write!(out, "{b}{v}")
            }
            Operand::Imm => write!(out, "{}", v as i16),
            Operand::ConstI => match module.iconsts.get(k) {
                Some(x) => write!(out, "{x}"),
                None => write!(out, "?k{v}"),
            },
            Operand::ConstF => match module.fconsts.get(k) {
                Some(&bits) => {
                    out.push_str(&format_f64(bits));
                    Ok(())
                }
                None => write!(out, "?kf{v}"),
            },
            Operand::Str => match module.strings.get(k) {
                Some(s) => {
                    out.push_str(&quote(s));
                    Ok(())
                }
                None => write!(out, "?s{v}"),
            },
            Operand::Target if k <= n => write!(out, "L{v}"),
            Operand::Target => write!(out, "?L{v}"),
            Operand::Func => match module.functions.get(k) {
                Some(f) => write!(out, "{}", f.name),
                None => write!(out, "?fn{v}"),
            },
            Operand::Host => match module.imports.get(k) {
                Some(i) => write!(out, "{}", i.name),
                None => write!(out, "?imp{v}"),
            },
            Operand::CallDst if v == NO_REG => write!(out, "-"),
            Operand::CallDst => {
                // The callee's result bank; any bank parses back to the
                // same index when the callee returns nothing.
                let b = callee_result(module, op).unwrap_or(Bank::I);
                write!(out, "{b}{v}")
            }
            Operand::ArgWindow | Operand::Count => write!(out, "{v}"),
            Operand::Type if k < module.types.len() => write!(out, "t{v}"),
            Operand::Type => write!(out, "?t{v}"),
            Operand::Global(bank) => match module.global(*bank, k) {
                Some(g) => write!(out, "{}", g.name),
                None => write!(out, "?g{bank}{v}"),
            },
            Operand::Struct => match module.structs.get(k) {
                Some(s) => write!(out, "{}", s.name),
                None => write!(out, "?struct{v}"),
            },
            Operand::Field(_) => match module.field(k) {
                Some(fr) => write!(out, "{}.{}", module.structs[fr.owner].name, fr.decl.name),
                None => write!(out, "?field{v}"),
            },
            Operand::Table => match f.switch_tables.get(k) {
                Some(t) => {
                    let cases: Vec<String> = t.targets.iter().map(|&c| label(c)).collect();
                    write!(out, "({}), {}", cases.join(", "), label(t.default))
                }
                None => write!(out, "?table{v}"),
            },
        };
    }
    out.push('\n');
}

/// An f64 (given as bits) as a literal that parses back to the same bits:
/// the shortest round-trip form, `inf`, `-inf`, `nan` (the canonical NaN
/// only) or `bits:0x...` (any other NaN).
pub(crate) fn format_f64(bits: u64) -> String {
    let v = f64::from_bits(bits);
    if v.is_nan() {
        if bits == f64::NAN.to_bits() {
            "nan".to_string()
        } else {
            format!("bits:{bits:#018x}")
        }
    } else if v.is_infinite() {
        if v > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        }
    } else {
        // `{:?}` is the shortest form that round-trips and always has a
        // `.` or an exponent (`1.0`, `1e300`, `-0.0`).
        format!("{v:?}")
    }
}

/// A string literal with escapes: `\n \t \r \0 \\ \"`, and `\u{..}` for
/// other control characters.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() || c == '\u{feff}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
