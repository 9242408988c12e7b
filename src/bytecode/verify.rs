//! The verifier: the one check between an untrusted [`Module`] and the engines.
//!
//! [`verify`] runs once when a module is loaded. Nothing after it checks the
//! bytecode again: the interpreter and both JIT tiers index register files,
//! constant pools, function tables and code with the fields of an op as they
//! are. Everything an engine relies on is therefore checked here, driven by
//! the operand table [`Opcode::operands`](super::Opcode::operands) and the flow table [`Opcode::flow`](super::Opcode::flow):
//!
//! - module: at most [`MAX_FUNCTIONS`] functions and [`MAX_IMPORTS`] imports;
//!   function names non-empty and unique; import names non-empty and unique;
//!   an import has at most 65535 parameters of each bank;
//! - function: `regs[X]` is at least its number of parameters of bank X;
//!   `param_defaults` is empty or has one entry per parameter, set only on
//!   `i` parameters; between 1 and [`MAX_OPS`] ops;
//! - op: `flags == 0`; every register read or written is below `regs` of its
//!   bank; constant, string, function and import indices are in range; jump
//!   targets are ops of the same function; unused fields are 0; a `printf`
//!   count is at most [`MAX_PRINTF_DIGITS`];
//! - call: for every bank X in which the callee has `n > 0` parameters,
//!   `window + n <= regs[X]` of the caller (registers of a bank in which the
//!   callee has no parameters are not constrained by the window); the result
//!   register is [`NO_REG`] when the callee returns nothing, else a register
//!   of the callee's result bank below the caller's `regs`;
//! - return: `ret` only in a function returning nothing, `reti`/`retf`/`retr`
//!   only in a function returning that bank; a tail call (`tcall`,
//!   `tcalli`) only to a callee returning what the function returns;
//! - types: at most [`MAX_TYPES`], distinct, each with at most 65535
//!   parameters of a bank; an indirect call's window fits its type's
//!   parameters as a call's fits its callee's, and when the type returns a
//!   bank, register `window` of that bank exists (it receives the result);
//! - closures: `closure` names a function with at least one `r` parameter
//!   (its environment);
//! - globals: names non-empty and unique, a reference global starts null,
//!   at most [`MAX_GLOBALS_PER_BANK`] per bank, ops name globals of their
//!   bank in range;
//! - structs: at most [`MAX_STRUCTS`] and [`MAX_FIELDS`] fields in all;
//!   names non-empty and unique; a parent comes before its child (so no
//!   cycles); field names non-empty, without `.`, and unique among a
//!   struct's own and inherited fields; ops name structs in range and fields in range of
//!   their op's bank;
//! - switch: the table exists and every target is an op after the switch
//!   (so switches make no loops: loops come from backward jumps only);
//! - control: the last op always jumps or returns, so no path runs past the
//!   end of the code.
//!
//! Errors come in a fixed order: module-wide limits, then imports, then the
//! functions in order and the ops of each in order. The verifier never
//! panics, whatever the module holds.

use std::collections::HashSet;

use super::module::{Function, Module, Signature};
use super::op::{Bank, Flow, MAX_PRINTF_DIGITS, NO_REG, Op, Opcode, Operand};
use crate::bytecode::error::VerifyError;

/// The most functions a module may have (indices fit an op field).
pub const MAX_FUNCTIONS: usize = u16::MAX as usize;
/// The most host imports a module may have.
pub const MAX_IMPORTS: usize = u16::MAX as usize;
/// The most ops a function may have (targets fit an op field).
pub const MAX_OPS: usize = u16::MAX as usize;
/// The most globals of one bank a module may have (indices fit an op field).
pub const MAX_GLOBALS_PER_BANK: usize = u16::MAX as usize;
/// The most function types a module may have (indices fit an op field).
pub const MAX_TYPES: usize = u16::MAX as usize;
/// The most struct types a module may have (indices fit an op field).
pub const MAX_STRUCTS: usize = u16::MAX as usize;
/// The most fields a module may declare, all structs together (indices fit
/// an op field).
pub const MAX_FIELDS: usize = u16::MAX as usize;
/// The most parameters of one bank a signature may have.
pub const MAX_PARAMS_PER_BANK: usize = u16::MAX as usize;

const FIELD_NAMES: [char; 3] = ['A', 'B', 'C'];

/// Check every rule of the bytecode; the first broken one is the error.
///
/// A module that passes is safe to hand to any engine: every index an op
/// holds is in range for what it indexes, every call fits the caller's
/// register file, and no function runs off the end of its code.
pub fn verify(module: &Module) -> Result<(), VerifyError> {
    if module.functions.len() > MAX_FUNCTIONS {
        return Err(module_error(format!(
            "module has {} functions (at most {MAX_FUNCTIONS})",
            module.functions.len()
        )));
    }
    if module.imports.len() > MAX_IMPORTS {
        return Err(module_error(format!(
            "module has {} imports (at most {MAX_IMPORTS})",
            module.imports.len()
        )));
    }

    if module.types.len() > MAX_TYPES {
        return Err(module_error(format!(
            "module has {} types (at most {MAX_TYPES})",
            module.types.len()
        )));
    }
    for (k, t) in module.types.iter().enumerate() {
        if let Some(first) = module.types[..k].iter().position(|u| u == t) {
            return Err(module_error(format!(
                "type {k} `{t}` repeats type {first} (types are distinct)"
            )));
        }
        let counts = param_counts(t);
        if let Some(bank) = Bank::ALL
            .into_iter()
            .find(|b| counts[b.index()] > MAX_PARAMS_PER_BANK)
        {
            return Err(module_error(format!(
                "type {k} has {} {bank} parameters (at most {MAX_PARAMS_PER_BANK})",
                counts[bank.index()]
            )));
        }
    }

    let mut global_names = HashSet::new();
    for g in &module.globals {
        if g.name.is_empty() {
            return Err(module_error("global with an empty name".to_owned()));
        }
        if !global_names.insert(g.name.as_str()) {
            return Err(module_error(format!("duplicate global name `{}`", g.name)));
        }
        if g.bank == Bank::R && g.init != 0 {
            return Err(module_error(format!(
                "reference global `{}` starts at {:#x}; reference globals start null",
                g.name, g.init
            )));
        }
    }
    let global_counts = module.global_counts();
    if let Some(bank) = Bank::ALL
        .into_iter()
        .find(|b| global_counts[b.index()] > MAX_GLOBALS_PER_BANK)
    {
        return Err(module_error(format!(
            "module has {} {bank} globals (at most {MAX_GLOBALS_PER_BANK})",
            global_counts[bank.index()]
        )));
    }

    check_structs(module).map_err(module_error)?;

    let mut import_names = HashSet::new();
    for import in &module.imports {
        let err = |reason: String| VerifyError {
            function: None,
            pc: None,
            line: import.line,
            reason,
        };
        if import.name.is_empty() {
            return Err(err("import with an empty name".to_owned()));
        }
        if !import_names.insert(import.name.as_str()) {
            return Err(err(format!("duplicate import name `{}`", import.name)));
        }
        let counts = param_counts(&import.sig);
        for bank in Bank::ALL {
            let n = counts[bank.index()];
            if n > MAX_PARAMS_PER_BANK {
                return Err(err(format!(
                    "import `{}` has {n} {bank} parameters (at most {MAX_PARAMS_PER_BANK})",
                    import.name
                )));
            }
        }
    }

    // Each field's struct and bank, for the field operands.
    let fields: Vec<(usize, Bank)> = module
        .structs
        .iter()
        .enumerate()
        .flat_map(|(k, s)| s.fields.iter().map(move |f| (k, f.bank)))
        .collect();
    let mut function_names = HashSet::new();
    for func in &module.functions {
        let err = |reason: String| VerifyError {
            function: Some(func.name.clone()),
            pc: None,
            line: None,
            reason,
        };
        if func.name.is_empty() {
            return Err(err("function with an empty name".to_owned()));
        }
        if !function_names.insert(func.name.as_str()) {
            return Err(err(format!("duplicate function name `{}`", func.name)));
        }
        check_signature(func).map_err(err)?;
        if func.code.is_empty() {
            return Err(err("function has no ops".to_owned()));
        }
        if func.code.len() > MAX_OPS {
            return Err(err(format!(
                "function has {} ops (at most {MAX_OPS})",
                func.code.len()
            )));
        }
        for (pc, op) in func.code.iter().enumerate() {
            check_op(module, &fields, func, pc, op).map_err(|reason| op_error(func, pc, reason))?;
        }
        let last_pc = func.code.len() - 1;
        if let Some(last) = func.code.last()
            && last.opcode.flow().falls_through()
        {
            return Err(op_error(
                func,
                last_pc,
                format!(
                    "last op `{}` can fall through past the end of the function",
                    last.opcode
                ),
            ));
        }
    }
    Ok(())
}

fn module_error(reason: String) -> VerifyError {
    VerifyError {
        function: None,
        pc: None,
        line: None,
        reason,
    }
}

fn op_error(func: &Function, pc: usize, reason: String) -> VerifyError {
    VerifyError {
        function: Some(func.name.clone()),
        pc: u32::try_from(pc).ok(),
        line: func.line_of(pc),
        reason,
    }
}

/// Parameters per bank, counted without saturation.
fn param_counts(sig: &Signature) -> [usize; 3] {
    let mut n = [0usize; 3];
    for b in &sig.params {
        n[b.index()] += 1;
    }
    n
}

fn check_signature(func: &Function) -> Result<(), String> {
    let counts = param_counts(&func.sig);
    for bank in Bank::ALL {
        let need = counts[bank.index()];
        let have = func.regs[bank.index()];
        if need > usize::from(have) {
            return Err(format!(
                "function has {need} {bank} parameters but only {have} {bank} registers"
            ));
        }
    }
    if !func.param_defaults.is_empty() {
        if func.param_defaults.len() != func.sig.params.len() {
            return Err(format!(
                "{} parameter defaults for {} parameters",
                func.param_defaults.len(),
                func.sig.params.len()
            ));
        }
        for (j, (default, bank)) in func.param_defaults.iter().zip(&func.sig.params).enumerate() {
            if default.is_some() && *bank != Bank::I {
                return Err(format!(
                    "parameter {j} is of bank {bank}; only i parameters can have defaults"
                ));
            }
        }
    }
    Ok(())
}

/// The struct rules (see the module docs).
fn check_structs(module: &Module) -> Result<(), String> {
    if module.structs.len() > MAX_STRUCTS {
        return Err(format!(
            "module has {} structs (at most {MAX_STRUCTS})",
            module.structs.len()
        ));
    }
    if module.field_count() > MAX_FIELDS {
        return Err(format!(
            "module has {} struct fields (at most {MAX_FIELDS})",
            module.field_count()
        ));
    }
    let mut names = HashSet::new();
    for (k, s) in module.structs.iter().enumerate() {
        if s.name.is_empty() {
            return Err(format!("struct {k} has an empty name"));
        }
        if !names.insert(s.name.as_str()) {
            return Err(format!("duplicate struct name `{}`", s.name));
        }
        if let Some(p) = s.parent
            && usize::from(p) >= k
        {
            return Err(format!(
                "struct `{}` (struct {k}) has parent {p}: a parent must be declared before its children",
                s.name
            ));
        }
        for (j, f) in s.fields.iter().enumerate() {
            if f.name.is_empty() {
                return Err(format!(
                    "field {j} of struct `{}` has an empty name",
                    s.name
                ));
            }
            // The text names a field `Struct.field`, split at the last `.`.
            if f.name.contains('.') {
                return Err(format!(
                    "field `{}` of struct `{}` has a `.` in its name",
                    f.name, s.name
                ));
            }
            if s.fields[..j].iter().any(|g| g.name == f.name) {
                return Err(format!(
                    "duplicate field `{}` in struct `{}`",
                    f.name, s.name
                ));
            }
            // Parents come first (checked above), so this walk ends.
            let mut up = s.parent.map(usize::from);
            while let Some(a) = up {
                let ancestor = &module.structs[a];
                if ancestor.fields.iter().any(|g| g.name == f.name) {
                    return Err(format!(
                        "field `{}` of struct `{}` repeats a field of its ancestor `{}`",
                        f.name, s.name, ancestor.name
                    ));
                }
                up = ancestor.parent.map(usize::from);
            }
        }
    }
    Ok(())
}

/// What a call op calls.
struct Callee<'m> {
    what: &'static str,
    name: &'m str,
    sig: &'m Signature,
}

fn check_op(
    module: &Module,
    struct_fields: &[(usize, Bank)],
    func: &Function,
    pc: usize,
    op: &Op,
) -> Result<(), String> {
    if op.flags != 0 {
        return Err(format!(
            "`{}` has flags {:#04x} (must be 0)",
            op.opcode, op.flags
        ));
    }
    let kinds = op.opcode.operands();
    let fields = op.fields();

    // The callee first: the result register and the window depend on it.
    let mut callee = None;
    for (&kind, &v) in kinds.iter().zip(&fields) {
        match kind {
            Operand::Func => {
                let f = module.functions.get(usize::from(v)).ok_or_else(|| {
                    format!(
                        "function index {v} out of range (module has {} functions)",
                        module.functions.len()
                    )
                })?;
                callee = Some(Callee {
                    what: "call",
                    name: &f.name,
                    sig: &f.sig,
                });
            }
            Operand::Type => {
                let t = module.types.get(usize::from(v)).ok_or_else(|| {
                    format!(
                        "type index {v} out of range (module has {} types)",
                        module.types.len()
                    )
                })?;
                callee = Some(Callee {
                    what: "indirect call",
                    name: "its reference",
                    sig: t,
                });
            }
            Operand::Host => {
                let h = module.imports.get(usize::from(v)).ok_or_else(|| {
                    format!(
                        "import index {v} out of range (module has {} imports)",
                        module.imports.len()
                    )
                })?;
                callee = Some(Callee {
                    what: "host call",
                    name: &h.name,
                    sig: &h.sig,
                });
            }
            _ => {}
        }
    }

    for (field, (&kind, &v)) in kinds.iter().zip(&fields).enumerate() {
        let field_name = FIELD_NAMES.get(field).copied().unwrap_or('?');
        match kind {
            Operand::None => {
                if v != 0 {
                    return Err(format!(
                        "unused field {field_name} of `{}` is {v} (must be 0)",
                        op.opcode
                    ));
                }
            }
            Operand::Read(bank) | Operand::Write(bank) | Operand::Update(bank) => {
                check_reg(func, bank, v)?
            }
            Operand::ReadRun(bank, n) => {
                let have = u32::from(func.regs[bank.index()]);
                let end = u32::from(v) + u32::from(n);
                if end > have {
                    return Err(format!(
                        "`{}` reads {bank} registers {v}..{end} but function has {have}",
                        op.opcode
                    ));
                }
            }
            Operand::Imm | Operand::Func | Operand::Host | Operand::Type => {}
            Operand::Global(bank) => {
                let have = module.global_counts()[bank.index()];
                if usize::from(v) >= have {
                    return Err(format!(
                        "{bank} global {v} out of range (module has {have} {bank} globals)"
                    ));
                }
            }
            Operand::Struct => check_index(v, module.structs.len(), "struct")?,
            Operand::Field(bank) => {
                let &(owner, have) = struct_fields.get(usize::from(v)).ok_or_else(|| {
                    format!(
                        "field {v} out of range (module has {} fields)",
                        struct_fields.len()
                    )
                })?;
                if have != bank {
                    return Err(format!(
                        "`{}` needs a field of bank {bank}, but field {v} (of struct `{}`) is of bank {have}",
                        op.opcode, module.structs[owner].name
                    ));
                }
            }
            Operand::Table => {
                let t = func.switch_tables.get(usize::from(v)).ok_or_else(|| {
                    format!(
                        "switch table {v} out of range (function has {} tables)",
                        func.switch_tables.len()
                    )
                })?;
                for target in t.all_targets() {
                    if usize::from(target) >= func.code.len() {
                        return Err(format!(
                            "switch target {target} out of range (function has {} ops)",
                            func.code.len()
                        ));
                    }
                    if usize::from(target) <= pc {
                        return Err(format!(
                            "switch target {target} is not after the switch (loops go through backward jumps)"
                        ));
                    }
                }
            }
            Operand::ConstI => check_index(v, module.iconsts.len(), "i64 constant")?,
            Operand::ConstF => check_index(v, module.fconsts.len(), "f64 constant")?,
            Operand::Str => check_index(v, module.strings.len(), "string")?,
            Operand::Target => {
                if usize::from(v) >= func.code.len() {
                    return Err(format!(
                        "jump target {v} out of range (function has {} ops)",
                        func.code.len()
                    ));
                }
            }
            Operand::Count => {
                if v > MAX_PRINTF_DIGITS {
                    return Err(format!(
                        "digit count {v} of `{}` out of range (at most {MAX_PRINTF_DIGITS})",
                        op.opcode
                    ));
                }
            }
            Operand::CallDst => {
                let c = callee.as_ref().ok_or_else(|| no_callee(op))?;
                match c.sig.result {
                    None if v != NO_REG => {
                        return Err(format!(
                            "{} to `{}` returns none, so it has no result register, but field {field_name} is {v}",
                            c.what, c.name
                        ));
                    }
                    None => {}
                    Some(bank) if v == NO_REG => {
                        return Err(format!(
                            "{} to `{}` returns {bank} but has no result register",
                            c.what, c.name
                        ));
                    }
                    Some(bank) => check_reg(func, bank, v)?,
                }
            }
            Operand::ArgWindow => {
                let c = callee.as_ref().ok_or_else(|| no_callee(op))?;
                let counts = param_counts(c.sig);
                for bank in Bank::ALL {
                    let n = counts[bank.index()];
                    if n == 0 {
                        continue;
                    }
                    let have = u64::from(func.regs[bank.index()]);
                    // `n` is at most the length of a Vec: no overflow in u64.
                    let end = u64::from(v).saturating_add(n as u64);
                    if end > have {
                        return Err(format!(
                            "{} to `{}` needs {bank} registers {v}..{end} but function has {have}",
                            c.what, c.name
                        ));
                    }
                }
            }
        }
    }

    if op.opcode == Opcode::Closure
        && let Some(f) = module.functions.get(usize::from(op.b))
        && !f.sig.params.contains(&Bank::R)
    {
        return Err(format!(
            "`closure` of `{}`, which has no `r` parameter for its environment",
            f.name
        ));
    }
    if op.opcode == Opcode::CallI
        && let Some(c) = &callee
        && let Some(bank) = c.sig.result
    {
        check_reg(func, bank, op.c)
            .map_err(|e| format!("the result of an indirect call goes to its window: {e}"))?;
    }
    if op.opcode.is_tail_call() {
        let c = callee.as_ref().ok_or_else(|| no_callee(op))?;
        if c.sig.result != func.sig.result {
            return Err(format!(
                "tail call to {} returning {} in a function returning {}",
                if op.opcode == Opcode::TCall {
                    format!("`{}`", c.name)
                } else {
                    "a reference".to_owned()
                },
                bank_name(c.sig.result),
                bank_name(func.sig.result)
            ));
        }
    } else if op.opcode.flow() == Flow::Return {
        let returns = match kinds[0] {
            Operand::Read(bank) => Some(bank),
            _ => None,
        };
        if returns != func.sig.result {
            return Err(format!(
                "`{}` in a function returning {}",
                op.opcode,
                bank_name(func.sig.result)
            ));
        }
    }
    Ok(())
}

fn check_reg(func: &Function, bank: Bank, v: u16) -> Result<(), String> {
    let have = func.regs[bank.index()];
    if v >= have {
        return Err(format!(
            "register {bank}{v} out of range (function has {have} {bank} registers)"
        ));
    }
    Ok(())
}

fn check_index(v: u16, len: usize, what: &str) -> Result<(), String> {
    if usize::from(v) >= len {
        return Err(format!(
            "{what} {v} out of range (module has {len} {what}s)"
        ));
    }
    Ok(())
}

fn no_callee(op: &Op) -> String {
    format!("`{}` has a call operand but no callee", op.opcode)
}

fn bank_name(b: Option<Bank>) -> String {
    match b {
        Some(b) => b.to_string(),
        None => "none".to_owned(),
    }
}
