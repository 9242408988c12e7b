//! Jump targets: the pre-pass's table of which ops a branch lands on, and
//! where a branch goes (straight, or through a poll and a restore).

use crate::runtime::context::offsets;
use crate::runtime::trap::TrapKind;
use crate::template::masm::{Fpr, MacroAssembler};

use super::Emitter;
use super::fp_cache::restore_fp;
use super::stubs::{Stub, TrapCode};

/// No jump lands on this op.
pub(super) const NO_TARGET: u32 = u32::MAX;

/// The jump targets of a function: per op an index into `targets` (4 bytes
/// per op, as the compiler clears this for every function), or
/// [`NO_TARGET`].
pub(super) struct OpTargets<L> {
    pub(super) of_op: Vec<u32>,
    pub(super) targets: Vec<Target<L>>,
}

impl<L> Default for OpTargets<L> {
    fn default() -> Self {
        OpTargets {
            of_op: Vec::new(),
            targets: Vec::new(),
        }
    }
}

impl<L: Copy> OpTargets<L> {
    pub(super) fn get(&self, pc: usize) -> Option<Target<L>> {
        let index = *self.of_op.get(pc)?;
        self.targets.get(index as usize).copied()
    }

    pub(super) fn get_mut(&mut self, pc: usize) -> Option<&mut Target<L>> {
        let index = *self.of_op.get(pc)?;
        self.targets.get_mut(index as usize)
    }
}

/// What the pre-pass learns of an op that is a jump target.
#[derive(Clone, Copy)]
pub(super) struct Target<L> {
    pub(super) label: L,
    /// A branch from an earlier op lands here.
    pub(super) forward_entry: bool,
    /// The last op that branches back here (the end of a loop), if any.
    pub(super) loop_end: Option<u32>,
    /// For a loop header entered only by falling in and by back-edges: the
    /// f64 slots the scratch registers hold on entry (an index into the
    /// emitter's `fp_states`: kept out of line, as one `Target` is made per
    /// op). Falling in, they hold them already; each back-edge's stub
    /// restores them (see [`restore_fp`]). So values carried around the
    /// loop, such as an accumulator, stay in registers instead of going
    /// through the frame at every iteration.
    pub(super) fp_on_entry: Option<u32>,
}

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    /// Where a branch to `target` from `pc` goes: straight to the op, or for
    /// a back-edge after a poll of the interrupt flag and a restore of the
    /// f64 registers the loop header keeps. Both go in line (emitted here,
    /// before the branch's i64 operands are loaded: they use no scratch
    /// register), unless the code counts (the stub counts down the loop
    /// budget) or the branch compares f64 registers (`fp_operands`: already
    /// loaded, a restore could overwrite them), which take a stub.
    pub(super) fn branch_target(&mut self, pc: u32, target: u16, fp_operands: bool) -> M::Label {
        // The pre-pass made a target of every op a branch lands on.
        let Some(Target {
            label: to,
            fp_on_entry,
            ..
        }) = self.op_targets.get(target as usize)
        else {
            // Unreachable for verified code; a label keeps it harmless.
            return self.masm.new_label();
        };
        if u32::from(target) > pc {
            return to;
        }
        let restore = fp_on_entry
            .map(|on_entry| self.fp_states[on_entry as usize])
            .filter(|on_entry| {
                let now = &self.fp.holds;
                on_entry.iter().zip(now).any(|(e, n)| e.is_some() && e != n)
            });
        // In line, the branch goes straight to the header: one taken branch
        // per iteration instead of two. A restore before the compare also
        // runs when the loop exits, once; the registers then hold the
        // header's slots (memory is always current, so both paths agree).
        let needs_stub = self.counters || (fp_operands && restore.is_some());
        if !needs_stub {
            let interrupted = self.trap_kind(pc, TrapKind::Interrupted);
            self.masm.branch_flag_set(offsets::INTERRUPT, interrupted);
            if let Some(on_entry) = restore {
                restore_fp(&mut *self.masm, &on_entry, Some(&self.fp.holds));
                for (&held, reg) in on_entry.iter().zip(Fpr::ALL) {
                    if let Some(slot) = held {
                        self.fp.set(reg, slot);
                    }
                }
            }
            return to;
        }
        let (label, interrupted) = (self.masm.new_label(), self.masm.new_label());
        let fp_restore = fp_on_entry.map(|on_entry| {
            self.fp_states.push(self.fp.holds);
            (on_entry, self.fp_states.len() as u32 - 1)
        });
        self.stubs.push(Stub::BackEdge {
            label,
            interrupted,
            target: to,
            header: target.into(),
            fp_restore,
        });
        // Right after the stub, as its last part.
        self.stubs.push(Stub::Trap {
            label: interrupted,
            pc,
            code: TrapCode::Kind(TrapKind::Interrupted),
        });
        label
    }
}
