//! Calls through the function table: the call-site checks, the argument
//! window, the status check (with the tail calls a callee may ask for) and
//! the result.

use crate::bytecode::{Bank, NO_REG, Op};
use crate::runtime::context::offsets;
use crate::runtime::trap::TrapKind;
use crate::template::masm::{Cond, Gpr, MacroAssembler};

use Gpr::{T0, T1};

use super::Emitter;
use super::stubs::{LazyCallee, Stub};

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    /// A call through the function table: depth, native-stack and
    /// register-stack checks, arguments into the callee's first slots, the
    /// call, the status check and the result.
    pub(super) fn call(&mut self, pc: u32, op: Op) {
        let callee = op.b as usize;
        let cl = self.layouts[callee];
        let me = self.layout;
        let overflow = self.call_site_checks(pc);
        let m = &mut self.masm;
        for bank in Bank::ALL {
            let b = bank.index();
            if cl.regs[b] == 0 {
                continue;
            }
            m.slot_addr(T0, bank, me.regs[b] + cl.regs[b]);
            m.load_ctx(T1, offsets::stack_end(b));
            m.branch(Cond::Ugt, T0, T1, overflow);
        }
        self.copy_args(op.c.into(), me.regs, cl.params);
        let m = &mut self.masm;
        m.load_ctx(T0, offsets::FUNCTIONS);
        m.load_mem(
            T0,
            T0,
            callee as i32 * offsets::FUNC_ENTRY_SIZE + offsets::FUNC_ENTRY_CODE,
        );
        self.call_code(pc, LazyCallee::Func(callee as u32));
        if op.a != NO_REG
            && let Some(bank) = cl.result
        {
            let m = &mut self.masm;
            m.load_slot(T0, bank, me.regs[bank.index()]);
            m.store_slot(bank, op.a.into(), T0);
        }
    }

    /// The checks every call makes before its frame checks, in the
    /// interpreter's order: call depth, interrupt flag (the new depth goes
    /// to the context in between), native stack. Returns the label of the
    /// `StackOverflow` trap, for the frame checks. Clobbers `T0` and `T1`.
    pub(super) fn call_site_checks(&mut self, pc: u32) -> M::Label {
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
        overflow
    }

    /// Copy `params[b]` arguments of each bank from the window at slot
    /// `window` to the slots from `dst[b]` on, in ascending order (a tail
    /// call's `dst` of 0 lies at or below the window, so no argument is
    /// overwritten before it is read). Clobbers `T0`.
    pub(super) fn copy_args(&mut self, window: u32, dst: [u32; 3], params: [u32; 3]) {
        let m = &mut self.masm;
        for bank in Bank::ALL {
            let b = bank.index();
            if window == dst[b] {
                continue;
            }
            for k in 0..params[b] {
                m.load_slot(T0, bank, window + k);
                m.store_slot(bank, dst[b] + k, T0);
            }
        }
    }

    /// Call the code whose address is in `T0` (0: not compiled yet, compile
    /// `callee` in a stub first) on the frame after this one, then check
    /// the status: a tail call the callee asks for is finished in a cold
    /// stub, any other non-zero status propagates. Falls through on
    /// success, every scratch register clobbered.
    pub(super) fn call_code(&mut self, pc: u32, callee: LazyCallee) {
        let m = &mut self.masm;
        let (lazy, resume) = (m.new_label(), m.new_label());
        m.branch_imm(Cond::Eq, T0, 0, lazy);
        m.bind(resume);
        m.call_native(T0, self.layout.regs);
        // The callee clobbered every scratch register.
        self.fp.clear();
        self.status_check();
        self.stubs.push(Stub::LazyCompile {
            label: lazy,
            resume,
            pc,
            callee,
        });
    }

    /// After a call of compiled code on the frame after this one, with its
    /// status in `T0`: zero falls through; non-zero goes to a cold stub
    /// that finishes a tail call the callee asked for and comes back on
    /// success, or propagates.
    fn status_check(&mut self) {
        let m = &mut self.masm;
        let (status, resume) = (m.new_label(), m.new_label());
        m.branch_imm(Cond::Ne, T0, 0, status);
        m.bind(resume);
        self.stubs.push(Stub::CallStatus {
            label: status,
            resume,
        });
    }
}
