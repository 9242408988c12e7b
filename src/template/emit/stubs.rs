//! Out-of-line code after the function body: trap stubs, back-edge stubs
//! with counters, the tiering hooks, lazy compilation, tail calls a callee
//! asks for, and the shared exits.

use crate::bytecode::Bank;
use crate::runtime::context::{TAIL_CALL_STATUS, offsets};
use crate::runtime::heap::FUNC_REF_FUNC_OFFSET;
use crate::runtime::trap::TrapKind;
use crate::template::masm::{AluOp, Cond, Gpr, HelperArg, MacroAssembler};

use Gpr::{T0, T1, T2};

use super::Emitter;
use super::fp_cache::restore_fp;

/// What an out-of-line trap stub does.
#[derive(Clone, Copy)]
pub(super) enum TrapCode {
    /// A fixed kind.
    Kind(TrapKind),
    /// The kind is the status a helper left in `T0`.
    Dynamic,
}

/// Out-of-line code emitted after the function body.
pub(super) enum Stub<L> {
    Trap {
        label: L,
        pc: u32,
        code: TrapCode,
    },
    /// Back-edge with counters or f64 registers to restore: poll the
    /// interrupt flag, count down the loop budget (with counters), restore
    /// the registers, then continue at the loop header.
    BackEdge {
        label: L,
        /// The `Trap` stub of the interrupt.
        interrupted: L,
        target: L,
        header: u32,
        /// The header's f64 registers on entry and those at the branch, as
        /// indices into the emitter's `fp_states`.
        fp_restore: Option<(u32, u32)>,
    },
    /// The call budget ran out at entry: ask for a Cranelift version and
    /// run this call there if one is ready, else resume.
    HotCall {
        label: L,
        resume: L,
    },
    /// A store to a byte-packed i64 array of a value it cannot hold (array,
    /// index and value in `T0`, `T1`, `T2`): widen it and store.
    WidenSetI64 {
        label: L,
        resume: L,
    },
    /// First call of a callee not compiled yet: compile it, then resume
    /// with its address in `T0`.
    LazyCompile {
        label: L,
        resume: L,
        pc: u32,
        callee: LazyCallee,
    },
    /// A call's callee returned a non-zero status (in `T0`): finish the
    /// tail call it asked for ([`TAIL_CALL_STATUS`]) on the same frame and
    /// resume, or propagate any other status.
    CallStatus {
        label: L,
        resume: L,
    },
    /// An indirect call site's profile cell (at `cell`) does not say "only
    /// the function in `T1`": unless it says "polymorphic", record the
    /// call, then resume with the reference (`r[reg]`) back in `T2`.
    CallProfile {
        label: L,
        resume: L,
        cell: usize,
        reg: u16,
    },
}

/// Which function a [`Stub::LazyCompile`] compiles.
#[derive(Clone, Copy)]
pub(super) enum LazyCallee {
    /// A function known when compiling (`call`).
    Func(u32),
    /// The function of the function reference in `T2` (`calli`).
    RefInT2,
}

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    /// A trap stub for `pc`, returning its label.
    pub(super) fn trap(&mut self, pc: u32, code: TrapCode) -> M::Label {
        let label = self.masm.new_label();
        self.stubs.push(Stub::Trap { label, pc, code });
        label
    }

    pub(super) fn trap_kind(&mut self, pc: u32, kind: TrapKind) -> M::Label {
        self.trap(pc, TrapCode::Kind(kind))
    }

    /// Decrement this function's budget at `field` (a `FuncEntry` offset)
    /// in the function table; branch to `hot` when it goes negative.
    /// Clobbers `T0` and `T1`.
    pub(super) fn count_down(&mut self, field: i32, hot: M::Label) {
        let at = self.func as i32 * offsets::FUNC_ENTRY_SIZE + field;
        let m = &mut self.masm;
        m.load_ctx(T0, offsets::FUNCTIONS);
        m.load_mem(T1, T0, at);
        m.alu_imm(AluOp::Sub, T1, T1, 1);
        m.store_mem(T0, at, T1);
        m.branch_imm(Cond::Lt, T1, 0, hot);
    }

    /// Continue this activation in the Cranelift code whose address a
    /// tiering hook left in `T0` (0: resume at `resume` instead), on this
    /// very frame, and return what it returns.
    pub(super) fn continue_in_cranelift(&mut self, resume: M::Label) {
        let m = &mut self.masm;
        m.branch_imm(Cond::Eq, T0, 0, resume);
        // The same activation: same frame, same call depth (which earlier
        // calls left deeper in the context).
        m.call_depth(T1, 0);
        m.store_ctx(offsets::CALL_DEPTH, T1);
        m.call_native(T0, [0; 3]);
        m.jump(self.propagate);
    }

    /// The shared exits and the out-of-line stubs.
    pub(super) fn tail(&mut self) {
        let mut stubs = std::mem::take(self.stubs);
        let m = &mut self.masm;
        m.bind(self.return_ok);
        m.load_imm(T0, 0);
        m.bind(self.propagate);
        m.epilogue(T0);

        for stub in stubs.drain(..) {
            let m = &mut self.masm;
            match stub {
                Stub::Trap { label, pc, code } => {
                    m.bind(label);
                    m.store_ctx_u32(offsets::TRAP_PC, pc);
                    if let TrapCode::Kind(kind) = code {
                        m.load_imm(T0, kind.code().into());
                    }
                    m.jump(self.trap_exit);
                }
                Stub::BackEdge {
                    label,
                    interrupted,
                    target,
                    header,
                    fp_restore,
                } => {
                    let fp = fp_restore.map(|(on_entry, at_branch)| {
                        (
                            self.fp_states[on_entry as usize],
                            self.fp_states[at_branch as usize],
                        )
                    });
                    m.bind(label);
                    // The poll falls through: no taken branch but the one
                    // back to the header.
                    m.branch_flag_set(offsets::INTERRUPT, interrupted);
                    if self.counters {
                        let hot = m.new_label();
                        self.count_down(offsets::FUNC_ENTRY_LOOP_BUDGET, hot);
                        let m = &mut self.masm;
                        if let Some((on_entry, at_branch)) = &fp {
                            restore_fp(&mut **m, on_entry, Some(at_branch));
                        }
                        m.jump(target);
                        m.bind(hot);
                        m.call_helper(
                            self.helpers.hot_loop,
                            &[
                                HelperArg::Ctx,
                                HelperArg::Imm(self.func.into()),
                                HelperArg::Imm(header.into()),
                            ],
                        );
                        // The helper call clobbered the f64 registers.
                        match &fp {
                            Some((on_entry, _)) => {
                                let resume = self.masm.new_label();
                                self.continue_in_cranelift(resume);
                                let m = &mut self.masm;
                                m.bind(resume);
                                restore_fp(&mut **m, on_entry, None);
                                m.jump(target);
                            }
                            None => self.continue_in_cranelift(target),
                        }
                    } else {
                        if let Some((on_entry, at_branch)) = &fp {
                            restore_fp(&mut **m, on_entry, Some(at_branch));
                        }
                        m.jump(target);
                    }
                }
                Stub::WidenSetI64 { label, resume } => {
                    m.bind(label);
                    m.call_helper(
                        self.helpers.widen_set_i64,
                        &[
                            HelperArg::Ctx,
                            HelperArg::Reg(T0),
                            HelperArg::Reg(T1),
                            HelperArg::Reg(T2),
                        ],
                    );
                    m.jump(resume);
                }
                Stub::HotCall { label, resume } => {
                    m.bind(label);
                    m.call_helper(
                        self.helpers.hot_call,
                        &[HelperArg::Ctx, HelperArg::Imm(self.func.into())],
                    );
                    self.continue_in_cranelift(resume);
                }
                Stub::LazyCompile {
                    label,
                    resume,
                    pc,
                    callee,
                } => {
                    m.bind(label);
                    let func = match callee {
                        LazyCallee::Func(f) => HelperArg::Imm(f.into()),
                        LazyCallee::RefInT2 => {
                            m.load_mem_u32(T1, T2, FUNC_REF_FUNC_OFFSET as i32);
                            HelperArg::Reg(T1)
                        }
                    };
                    m.call_helper(self.helpers.compile, &[HelperArg::Ctx, func]);
                    let failed = m.new_label();
                    m.branch_imm(Cond::Eq, T0, 0, failed);
                    m.jump(resume);
                    m.bind(failed);
                    m.store_ctx_u32(offsets::TRAP_PC, pc);
                    m.load_imm(T0, TrapKind::OutOfMemory.code().into());
                    m.jump(self.trap_exit);
                }
                Stub::CallStatus { label, resume } => {
                    m.bind(label);
                    m.branch_imm(Cond::Ne, T0, TAIL_CALL_STATUS as i32, self.propagate);
                    // The callee asked for a tail call: the dispatcher
                    // runs it (and any it asks for) on the callee's frame,
                    // at the callee's depth, as a compiled callee.
                    m.call_depth(T1, 1);
                    m.store_ctx(offsets::CALL_DEPTH, T1);
                    m.load_imm(T0, self.helpers.tail_call_dispatch as i64);
                    m.call_native(T0, self.layout.regs);
                    m.branch_imm(Cond::Ne, T0, 0, self.propagate);
                    m.jump(resume);
                }
                Stub::CallProfile {
                    label,
                    resume,
                    cell,
                    reg,
                } => {
                    m.bind(label);
                    m.load_imm(T0, cell as i64);
                    m.load_mem(T0, T0, 0);
                    m.branch_imm(Cond::Eq, T0, -1, resume);
                    m.call_helper(
                        self.helpers.record_call_target,
                        &[
                            HelperArg::Ctx,
                            HelperArg::Imm(cell as i64),
                            HelperArg::Reg(T1),
                        ],
                    );
                    // The helper clobbered the scratch registers; nothing
                    // between here and the call reads an f64 register.
                    m.load_slot(T2, Bank::R, reg.into());
                    m.jump(resume);
                }
            }
        }
        // Back, empty, for the next function.
        *self.stubs = stubs;

        let m = &mut self.masm;
        m.bind(self.trap_exit);
        m.store_ctx_reg_u32(offsets::TRAP_KIND, T0);
        m.store_ctx_u32(offsets::TRAP_FUNC, self.func);
        m.epilogue(T0);
    }
}
