//! Functions as values: `fref`, `closure`, the indirect call `calli` and
//! the tail calls `tcall` and `tcalli`.
//!
//! A tail call checks, copies its arguments to this frame's first slots,
//! names the callee in `ctx.tail_func` and returns [`TAIL_CALL_STATUS`]:
//! the caller's call site runs the callee on the same frame (see
//! `Stub::CallStatus`). A function compiled without tiering counters turns
//! a tail call of itself into a jump back to its start.

use crate::bytecode::{Bank, Op};
use crate::runtime::context::{TAIL_CALL_STATUS, offsets};
use crate::runtime::heap::{
    ARRAY_KIND_OFFSET, FUNC_REF_ENV_OFFSET, FUNC_REF_FUNC_OFFSET, FUNC_REF_KIND, FUNC_REF_SIZE,
    FUNC_REF_TYPE_OFFSET, func_ref_frame_offset,
};
use crate::runtime::trap::TrapKind;
use crate::template::masm::{AluOp, Cond, Gpr, HelperArg, MacroAssembler};

use Gpr::{T0, T1, T2};

use super::Emitter;
use super::stubs::{LazyCallee, Stub, TrapCode};
use crate::runtime::call_profile::site_of;
use std::sync::atomic::AtomicU64;

/// `log2(FUNC_ENTRY_SIZE / 8)`: a function index shifted left by this is
/// the index of its entry's first word in 8-byte units.
const FUNC_ENTRY_WORDS_LOG2: i32 = (offsets::FUNC_ENTRY_SIZE / 8).trailing_zeros() as i32;
const _: () = assert!(
    offsets::FUNC_ENTRY_SIZE % 8 == 0
        && (offsets::FUNC_ENTRY_SIZE / 8).count_ones() == 1
        && offsets::FUNC_ENTRY_CODE % 8 == 0
);

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    /// `r[a] =` function `b`'s entry of the store's `fref` table.
    pub(super) fn fref(&mut self, op: Op) {
        let m = &mut self.masm;
        m.load_ctx(T0, offsets::FUNC_REFS);
        m.alu_imm(AluOp::Add, T0, T0, i32::from(op.b) * FUNC_REF_SIZE as i32);
        m.store_slot(Bank::R, op.a.into(), T0);
    }

    /// `r[a] =` a new closure of function `b` over `r[c]`, made by a helper
    /// as `newr` makes arrays (the frame's references are the roots).
    pub(super) fn closure(&mut self, pc: u32, op: Op) {
        self.masm.load_slot(T0, Bank::R, op.c.into());
        let top = self.layout.regs[Bank::R.index()];
        self.call_helper(
            self.helpers.new_closure,
            &[
                HelperArg::Ctx,
                HelperArg::Imm(op.b.into()),
                HelperArg::Reg(T0),
                HelperArg::SlotAddr(Bank::R, op.a.into()),
                HelperArg::SlotAddr(Bank::R, top),
            ],
        );
        let trap = self.trap(pc, TrapCode::Dynamic);
        self.masm.branch_imm(Cond::Ne, T0, 0, trap);
    }

    /// The checks of a call through `r[reg]` expecting type `ty`, in the
    /// interpreter's order: null, a function reference (the kind is read
    /// first: a short array has no type field), its type. Leaves the
    /// reference in `T2`; clobbers `T0`.
    fn func_ref_checks(&mut self, pc: u32, ty: u16, reg: u16) {
        let null = self.trap_kind(pc, TrapKind::NullReference);
        let mismatch = self.trap_kind(pc, TrapKind::SignatureMismatch);
        let m = &mut self.masm;
        m.load_slot(T2, Bank::R, reg.into());
        m.branch_imm(Cond::Eq, T2, 0, null);
        m.load_mem_u32(T0, T2, ARRAY_KIND_OFFSET as i32);
        m.branch_imm(Cond::Ne, T0, FUNC_REF_KIND as i32, mismatch);
        m.load_mem_u32(T0, T2, FUNC_REF_TYPE_OFFSET as i32);
        m.branch_imm(Cond::Ne, T0, ty.into(), mismatch);
    }

    /// For each bank, jump to `overflow` if the frame of the reference in
    /// `T2` (its `frame_bytes`) starting at slot `from[b]` ends past the
    /// bank's stack. Clobbers `T0` and `T1`.
    fn ref_frame_checks(&mut self, from: [u32; 3], overflow: M::Label) {
        let m = &mut self.masm;
        for bank in Bank::ALL {
            let b = bank.index();
            m.slot_addr(T0, bank, from[b]);
            m.load_mem_u32(T1, T2, func_ref_frame_offset(b) as i32);
            m.alu(AluOp::Add, T0, T0, T1);
            m.load_ctx(T1, offsets::stack_end(b));
            m.branch(Cond::Ugt, T0, T1, overflow);
        }
    }

    /// Store the environment of the reference in `T2` into `r[slot]`.
    /// Clobbers `T0`.
    fn store_env(&mut self, slot: u32) {
        let m = &mut self.masm;
        m.load_mem(T0, T2, FUNC_REF_ENV_OFFSET as i32);
        m.store_slot(Bank::R, slot, T0);
    }

    /// `calli a, r[b], c`: the reference's checks, then `call`'s, the
    /// arguments of type `a` from window `c`, the environment after its `r`
    /// parameters; the result to register `c` of its bank.
    pub(super) fn call_indirect(&mut self, pc: u32, op: Op) {
        let ty = &self.module.types[usize::from(op.a)];
        let (params, result) = (ty.param_counts().map(u32::from), ty.result);
        let me = self.layout;
        self.func_ref_checks(pc, op.a, op.b);
        self.profile_call(pc, op.b);
        let overflow = self.call_site_checks(pc);
        self.ref_frame_checks(me.regs, overflow);
        self.copy_args(op.c.into(), me.regs, params);
        self.store_env(me.regs[Bank::R.index()] + params[Bank::R.index()]);
        let m = &mut self.masm;
        m.load_mem_u32(T1, T2, FUNC_REF_FUNC_OFFSET as i32);
        m.alu_imm(AluOp::Shl, T1, T1, FUNC_ENTRY_WORDS_LOG2);
        m.load_ctx(T0, offsets::FUNCTIONS);
        m.load_indexed(T0, T0, T1, offsets::FUNC_ENTRY_CODE);
        self.call_code(pc, LazyCallee::RefInT2);
        if let Some(bank) = result {
            let m = &mut self.masm;
            m.load_slot(T0, bank, me.regs[bank.index()]);
            m.store_slot(bank, op.c.into(), T0);
        }
    }

    /// With counters, record which function the `calli` at `pc` calls
    /// through the reference in `T2` (`r[reg]`): its site's profile cell
    /// (`runtime::call_profile`) is compared with it, and a cold stub
    /// records a change. Clobbers `T0` and `T1`.
    fn profile_call(&mut self, pc: u32, reg: u16) {
        let Some(cells) = self.call_profile else {
            return;
        };
        let code = &self.module.functions[self.func as usize].code;
        let Some(cell) = cells.get(site_of(code, pc as usize)) else {
            return;
        };
        let cell = cell as *const AtomicU64 as usize;
        let m = &mut self.masm;
        let (label, resume) = (m.new_label(), m.new_label());
        m.load_mem_u32(T1, T2, FUNC_REF_FUNC_OFFSET as i32);
        m.load_imm(T0, cell as i64);
        m.load_mem(T0, T0, 0);
        // The cell holds the function plus one: 0 stays "unseen".
        m.alu_imm(AluOp::Sub, T0, T0, 1);
        m.branch(Cond::Ne, T0, T1, label);
        m.bind(resume);
        self.stubs.push(Stub::CallProfile {
            label,
            resume,
            cell,
            reg,
        });
    }

    /// `tcall a, b`: function `a` replaces this activation, with arguments
    /// from window `b`.
    pub(super) fn tail_call(&mut self, pc: u32, op: Op) {
        let callee = usize::from(op.a);
        let cl = self.layouts[callee];
        let me = self.layout;
        let interrupted = self.trap_kind(pc, TrapKind::Interrupted);
        self.masm.branch_flag_set(offsets::INTERRUPT, interrupted);
        if callee == self.func as usize && !self.counters {
            // A loop: new arguments, then the start of the body, which
            // clears the other registers. (With counters the call goes
            // through the caller, whose dispatch picks up newer code.)
            self.copy_args(op.b.into(), [0; 3], cl.params);
            let body = self.body;
            self.masm.jump(body);
            return;
        }
        // This frame holds the callee's if it is no larger in a bank.
        if (0..3).any(|b| cl.regs[b] > me.regs[b]) {
            let overflow = self.trap_kind(pc, TrapKind::StackOverflow);
            let m = &mut self.masm;
            for bank in Bank::ALL {
                let b = bank.index();
                if cl.regs[b] > me.regs[b] {
                    m.slot_addr(T0, bank, cl.regs[b]);
                    m.load_ctx(T1, offsets::stack_end(b));
                    m.branch(Cond::Ugt, T0, T1, overflow);
                }
            }
        }
        self.copy_args(op.b.into(), [0; 3], cl.params);
        self.masm.load_imm(T0, callee as i64);
        self.return_tail_call();
    }

    /// `tcalli a, r[b], c`: `calli`'s reference checks, then the function
    /// it refers to replaces this activation, with arguments from window
    /// `c` and its environment after them.
    pub(super) fn tail_call_indirect(&mut self, pc: u32, op: Op) {
        let ty = &self.module.types[usize::from(op.a)];
        let params = ty.param_counts().map(u32::from);
        self.func_ref_checks(pc, op.a, op.b);
        let interrupted = self.trap_kind(pc, TrapKind::Interrupted);
        let overflow = self.trap_kind(pc, TrapKind::StackOverflow);
        self.masm.branch_flag_set(offsets::INTERRUPT, interrupted);
        self.ref_frame_checks([0; 3], overflow);
        self.copy_args(op.c.into(), [0; 3], params);
        self.store_env(params[Bank::R.index()]);
        self.masm.load_mem_u32(T0, T2, FUNC_REF_FUNC_OFFSET as i32);
        self.return_tail_call();
    }

    /// Name the callee whose index is in `T0` in the context and return
    /// [`TAIL_CALL_STATUS`].
    fn return_tail_call(&mut self) {
        let m = &mut self.masm;
        m.store_ctx(offsets::TAIL_FUNC, T0);
        m.load_imm(T0, TAIL_CALL_STATUS.into());
        m.jump(self.propagate);
    }
}
