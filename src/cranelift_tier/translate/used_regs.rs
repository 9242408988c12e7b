//! Which registers a function's code touches.
//!
//! The translator keeps a Variable only for a register that some op of the
//! function reads or writes (or a parameter). A register no op names keeps
//! the value its frame slot had, which the function never reads: it needs
//! neither a Variable nor a store before a call. Declaring, defining and
//! flushing every register of a 65,535-register frame at each call made
//! cranelift-frontend's block sealing take minutes and megabytes of code
//! (issue 20); what a function touches is bounded by its ops.
//!
//! The collector scans every reference slot of a frame, so an untouched
//! reference register's slot must still hold null: a function that may
//! collect (see [`may_collect`]) clears those slots once, at its start.

use crate::bytecode::{Bank, Module, NO_REG, Op, Opcode, Operand, Signature};
use crate::runtime::frame::FrameLayout;

/// The registers of one bank that a function touches, ascending.
pub(super) type RegList = Vec<u16>;

/// Per bank, the registers that function `func`'s code touches, ascending:
/// its parameters, every register an op reads, writes or updates (whole
/// runs), a call's result register and every register of its argument
/// window (in the banks where the callee has parameters), and an indirect
/// call's result register (its window's first register).
pub(super) fn used_registers(module: &Module, func: usize, layout: FrameLayout) -> [RegList; 3] {
    let mut used = Bank::ALL.map(|bank| vec![false; layout.regs[bank.index()] as usize]);
    let mut mark = |bank: Bank, first: u32, n: u32| {
        let regs = &mut used[bank.index()];
        let end = (first.saturating_add(n) as usize).min(regs.len());
        let start = (first as usize).min(end);
        regs[start..end].fill(true);
    };
    for bank in Bank::ALL {
        mark(bank, 0, layout.params[bank.index()]);
    }
    for op in &module.functions[func].code {
        let callee = callee_signature(module, op);
        for (kind, v) in op.opcode.operands().into_iter().zip(op.fields()) {
            match kind {
                Operand::Read(bank) | Operand::Write(bank) | Operand::Update(bank) => {
                    mark(bank, v.into(), 1)
                }
                Operand::ReadRun(bank, n) => mark(bank, v.into(), n.into()),
                Operand::CallDst if v != NO_REG => {
                    if let Some(bank) = callee.and_then(|sig| sig.result) {
                        mark(bank, v.into(), 1);
                    }
                }
                Operand::ArgWindow => {
                    let Some(sig) = callee else { continue };
                    for bank in Bank::ALL {
                        mark(bank, v.into(), sig.param_counts()[bank.index()].into());
                    }
                    // `calli` writes its result to its window's first
                    // register.
                    if op.opcode == Opcode::CallI
                        && let Some(bank) = sig.result
                    {
                        mark(bank, v.into(), 1);
                    }
                }
                _ => {}
            }
        }
    }
    used.map(|regs| {
        regs.iter()
            .enumerate()
            .filter(|&(_, &u)| u)
            .map(|(k, _)| k as u16)
            .collect()
    })
}

/// The signature of what `op` calls (a function, an indirect call's type
/// or a host import), if it calls.
pub(super) fn callee_signature<'m>(module: &'m Module, op: &Op) -> Option<&'m Signature> {
    let kinds = op.opcode.operands();
    kinds
        .iter()
        .zip(op.fields())
        .find_map(|(kind, v)| match kind {
            Operand::Func if op.opcode != Opcode::FRef && op.opcode != Opcode::Closure => {
                module.functions.get(usize::from(v)).map(|f| &f.sig)
            }
            Operand::Type => module.types.get(usize::from(v)),
            Operand::Host => module.imports.get(usize::from(v)).map(|h| &h.sig),
            _ => None,
        })
}

/// Whether the collector may run while `code` runs (an allocation, or a
/// call whose callee may allocate), and so scan its frame's reference
/// slots. Errs on the side of yes: every call counts.
pub(super) fn may_collect(code: &[Op]) -> bool {
    use Opcode::*;
    code.iter().any(|op| {
        matches!(
            op.opcode,
            Call | CallI | TCall | TCallI | HostCall | NewI | NewF | NewR | NewB | SNew | Closure
        )
    })
}

/// The runs `(first, count)` of registers below `regs` that are not in
/// `used` (ascending).
pub(super) fn unused_runs(used: &[u16], regs: u32) -> Vec<(u32, u32)> {
    let mut runs = Vec::new();
    let mut next = 0u32;
    for &k in used {
        let k = u32::from(k);
        if k > next {
            runs.push((next, k - next));
        }
        next = k + 1;
    }
    if regs > next {
        runs.push((next, regs - next));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::text::parse;

    #[test]
    fn a_function_uses_its_operands_windows_and_parameters_only() {
        let module = parse(
            "func g(i, r) -> f\n    fconst f0, 1.5\n    retf f0\nend\n\
             func main(i) -> none regs i=100 f=50 r=40\n    addi i7, i0, 1\n    \
             call f9, g, 20\n    newi r3, i7\n    ret\nend\n",
        )
        .unwrap();
        let layouts = FrameLayout::all(&module);
        let used = used_registers(&module, 1, layouts[1]);
        assert_eq!(used[Bank::I.index()], vec![0, 7, 20]);
        assert_eq!(used[Bank::F.index()], vec![9]);
        assert_eq!(used[Bank::R.index()], vec![3, 20]);
        assert!(may_collect(&module.functions[1].code));
        assert!(!may_collect(&module.functions[0].code));
    }

    #[test]
    fn unused_runs_are_the_gaps() {
        assert_eq!(unused_runs(&[], 0), vec![]);
        assert_eq!(unused_runs(&[], 5), vec![(0, 5)]);
        assert_eq!(unused_runs(&[0, 1, 4], 5), vec![(2, 2)]);
        assert_eq!(unused_runs(&[2], 3), vec![(0, 2)]);
    }
}
