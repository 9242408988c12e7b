//! The f64 register cache: which scratch f64 registers hold which slots,
//! kept across loop headers for short loops and restored on back-edges.

use crate::bytecode::{Bank, Operand};
use crate::template::masm::{FpUnary, Fpr, MacroAssembler};

use super::Emitter;

/// The f64 slot each scratch f64 register holds, if any.
pub(super) type FpHolds = [Option<u32>; Fpr::ALL.len()];

/// Only loops of fewer ops keep f64 registers across their header (see
/// [`Target::fp_on_entry`]). Inner loops, where it pays, are short; a long
/// body evicts the inputs from the 8 registers anyway, and the scan for
/// them, the preloads and the restores cost compile time in proportion to
/// the loop (on the generated 10,000-op function of `benches/compile.rs`,
/// 50-op loops, about 4 ns per op).
pub(super) const MAX_KEPT_LOOP_OPS: usize = 32;

/// Which f64 slots the scratch f64 registers hold. The copies are
/// write-through (every op still stores its result to the frame, so the
/// frame stays the truth and any op may end a run of cached values): later
/// ops read the register instead of reloading a slot just stored, which
/// would wait for store-to-load forwarding on every step of a chain.
/// Emptied where paths join (labels) and by calls, which clobber the
/// registers.
#[derive(Clone, Copy, Default)]
pub(super) struct FpCache {
    pub(super) holds: FpHolds,
    /// The register the next allocation evicts if none is free
    /// (round-robin: the oldest allocation goes first).
    pub(super) next: usize,
}

impl FpCache {
    pub(super) fn find(&self, slot: u32) -> Option<Fpr> {
        let k = self.holds.iter().position(|&h| h == Some(slot))?;
        Some(Fpr::ALL[k])
    }

    /// A register for a new value, none of `busy`: a free one if any,
    /// else the round-robin victim.
    pub(super) fn pick(&mut self, busy: &[Fpr]) -> Fpr {
        let n = Fpr::ALL.len();
        let free = (0..n).find(|&k| self.holds[k].is_none() && !busy.contains(&Fpr::ALL[k]));
        let k = free.unwrap_or_else(|| {
            let mut k = self.next;
            while busy.contains(&Fpr::ALL[k]) {
                k = (k + 1) % n;
            }
            self.next = (k + 1) % n;
            k
        });
        self.holds[k] = None;
        Fpr::ALL[k]
    }

    /// `reg` now holds `slot`'s current value; any other copy is stale.
    pub(super) fn set(&mut self, reg: Fpr, slot: u32) {
        self.forget_slot(slot);
        self.holds[reg as usize] = Some(slot);
    }

    /// `slot` was written behind the cache's back.
    pub(super) fn forget_slot(&mut self, slot: u32) {
        for h in &mut self.holds {
            if *h == Some(slot) {
                *h = None;
            }
        }
    }

    pub(super) fn clear(&mut self) {
        self.holds = [None; Fpr::ALL.len()];
    }
}

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    /// Falling into the header `pc` of a loop ending at `end`: keep the f64
    /// registers that hold the loop's inputs (the slots it reads before it
    /// writes them, scanning its ops in order), forget the others, and load
    /// the inputs no register holds into free ones. Back-edges then restore
    /// only those, and an input the loop updates in place (an accumulator)
    /// needs nothing restored.
    pub(super) fn keep_loop_inputs(&mut self, pc: usize, end: usize) {
        const N: usize = Fpr::ALL.len();
        let code = &self.module.functions[self.func as usize].code;
        // Up to N inputs in order of first read; written slots up to N.
        let (mut inputs, mut n_inputs) = ([0u32; N], 0);
        let (mut written, mut n_written) = ([0u32; N], 0);
        'scan: for op in &code[pc..=end] {
            let kinds = op.opcode.operands();
            if !kinds.iter().any(|&k| {
                matches!(
                    k,
                    Operand::Read(Bank::F) | Operand::Write(Bank::F) | Operand::Update(Bank::F)
                )
            }) {
                continue;
            }
            let fields = [op.a, op.b, op.c].map(u32::from);
            for (&slot, kind) in fields.iter().zip(kinds) {
                // An updated slot (`fma`, `fsel`) is read before it is written.
                if matches!(kind, Operand::Read(Bank::F) | Operand::Update(Bank::F))
                    && !inputs[..n_inputs].contains(&slot)
                    && !written[..n_written].contains(&slot)
                {
                    if n_inputs == N {
                        break 'scan;
                    }
                    inputs[n_inputs] = slot;
                    n_inputs += 1;
                }
            }
            for (&slot, kind) in fields.iter().zip(kinds) {
                if matches!(kind, Operand::Write(Bank::F) | Operand::Update(Bank::F))
                    && !written[..n_written].contains(&slot)
                {
                    if n_written == N {
                        break 'scan;
                    }
                    written[n_written] = slot;
                    n_written += 1;
                }
            }
        }
        let inputs = &inputs[..n_inputs];
        for h in &mut self.fp.holds {
            if h.is_some_and(|s| !inputs.contains(&s)) {
                *h = None;
            }
        }
        for &slot in inputs {
            if self.fp.find(slot).is_some() {
                continue;
            }
            let Some(k) = self.fp.holds.iter().position(Option::is_none) else {
                break;
            };
            self.masm.load_fslot(Fpr::ALL[k], slot);
            self.fp.holds[k] = Some(slot);
        }
    }
}

/// Before a jump to a loop header that expects the f64 registers
/// `on_entry`: put each slot in its register, from the register that
/// holds it in `now` (the state at the branch; `None` after a helper
/// call) or else from the frame, which is the truth (the registers are
/// write-through copies). A register is overwritten only when no other
/// wants what it holds; a cycle of such wants is broken by a load.
pub(crate) fn restore_fp<M: MacroAssembler>(m: &mut M, on_entry: &FpHolds, now: Option<&FpHolds>) {
    const N: usize = Fpr::ALL.len();
    let mut cur = now.copied().unwrap_or([None; N]);
    let mut pending: FpHolds = [None; N];
    for k in 0..N {
        if on_entry[k].is_some() && cur[k] != on_entry[k] {
            pending[k] = on_entry[k];
        }
    }
    while let Some(first) = pending.iter().position(Option::is_some) {
        let free = (0..N).find(|&k| {
            pending[k].is_some() && cur[k].is_none_or(|held| !pending.contains(&Some(held)))
        });
        let k = free.unwrap_or(first);
        let Some(slot) = pending[k] else { break };
        match cur.iter().position(|&h| h == Some(slot)) {
            Some(from) if free.is_some() => m.fp_unary(FpUnary::Copy, Fpr::ALL[k], Fpr::ALL[from]),
            _ => m.load_fslot(Fpr::ALL[k], slot),
        }
        cur[k] = Some(slot);
        pending[k] = None;
    }
}
