//! Calls through the function table: the call-site checks, the argument
//! window, the status check and the result.

use crate::bytecode::{Bank, NO_REG, Op};
use crate::runtime::context::offsets;
use crate::runtime::trap::TrapKind;
use crate::template::masm::{Cond, Gpr, MacroAssembler};

use Gpr::{T0, T1};

use super::Emitter;
use super::stubs::Stub;

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    /// A call through the function table: depth, native-stack and
    /// register-stack checks, arguments into the callee's first slots, the
    /// call, the status check and the result.
    pub(super) fn call(&mut self, pc: u32, op: Op) {
        let callee = op.b as usize;
        let cl = self.layouts[callee];
        let me = self.layout;
        let overflow = self.trap_kind(pc, TrapKind::StackOverflow);
        let interrupted = self.trap_kind(pc, TrapKind::Interrupted);
        let m = &mut self.masm;
        // The callee's depth goes to the context, where its prologue reads
        // it; ours stays in the pinned register, so nothing is restored.
        m.call_depth(T0, 1);
        m.load_ctx(T1, offsets::MAX_CALL_DEPTH);
        m.branch(Cond::Ugt, T0, T1, overflow);
        // Calls poll the interrupt flag, as in the interpreter: recursion
        // without loops stops too.
        m.branch_flag_set(offsets::INTERRUPT, interrupted);
        m.store_ctx(offsets::CALL_DEPTH, T0);
        m.branch_stack_below(offsets::NATIVE_STACK_LIMIT, overflow);
        for bank in Bank::ALL {
            let b = bank.index();
            if cl.regs[b] == 0 {
                continue;
            }
            m.slot_addr(T0, bank, me.regs[b] + cl.regs[b]);
            m.load_ctx(T1, offsets::stack_end(b));
            m.branch(Cond::Ugt, T0, T1, overflow);
        }
        let window = u32::from(op.c);
        for bank in Bank::ALL {
            let b = bank.index();
            for k in 0..cl.params[b] {
                m.load_slot(T0, bank, window + k);
                m.store_slot(bank, me.regs[b] + k, T0);
            }
        }
        m.load_ctx(T0, offsets::FUNCTIONS);
        m.load_mem(
            T0,
            T0,
            callee as i32 * offsets::FUNC_ENTRY_SIZE + offsets::FUNC_ENTRY_CODE,
        );
        let (lazy, resume) = (m.new_label(), m.new_label());
        m.branch_imm(Cond::Eq, T0, 0, lazy);
        m.bind(resume);
        m.call_native(T0, me.regs);
        // The callee clobbered every scratch register.
        self.fp.clear();
        let m = &mut self.masm;
        let propagate = self.propagate;
        m.branch_imm(Cond::Ne, T0, 0, propagate);
        if op.a != NO_REG
            && let Some(bank) = cl.result
        {
            m.load_slot(T0, bank, me.regs[bank.index()]);
            m.store_slot(bank, op.a.into(), T0);
        }
        self.stubs.push(Stub::LazyCompile {
            label: lazy,
            resume,
            pc,
            callee: callee as u32,
        });
    }
}
