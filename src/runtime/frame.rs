//! The shared frame layout: what every engine agrees on about a function's
//! registers.
//!
//! A frame is three base pointers into the register stacks. Register `k` of
//! bank `B` lives at `base_B + 8*k`. A callee's bases are the caller's bases
//! plus the caller's register counts; its parameters are its first slots.

use crate::bytecode::{Bank, Function, Module};

/// Per-function facts every engine needs at calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// Registers per bank (indexed by [`Bank::index`]).
    pub regs: [u32; 3],
    /// Parameters per bank.
    pub params: [u32; 3],
    /// The result bank, if any.
    pub result: Option<Bank>,
    /// The type of a reference to the function (`fref`): its signature's
    /// index in the module's type table, or [`NO_TYPE`](crate::bytecode::NO_TYPE).
    pub ref_type: u32,
    /// The type of a closure of the function: its signature without the
    /// last `r` parameter, or `NO_TYPE`.
    pub closure_type: u32,
}

impl FrameLayout {
    /// The layout of function `f` of a (verified) `module`.
    pub fn of(module: &Module, f: &Function) -> FrameLayout {
        let p = f.sig.param_counts();
        let (ref_type, closure_type) = module.ref_types(f);
        FrameLayout {
            regs: f.regs.map(u32::from),
            params: p.map(u32::from),
            result: f.sig.result,
            ref_type,
            closure_type,
        }
    }

    /// The layouts of every function of `module`, by index.
    pub fn all(module: &Module) -> Vec<FrameLayout> {
        module
            .functions
            .iter()
            .map(|f| FrameLayout::of(module, f))
            .collect()
    }

    /// The registers per bank an indirect call (`calli`, `tcalli`) makes
    /// room for: the function's own, and in the `r` bank at least one past
    /// its `r` parameters, where the call writes the reference's
    /// environment (null for a plain `fref`; a closure's function has that
    /// slot as its last parameter).
    pub fn indirect_regs(&self) -> [u32; 3] {
        let [i, f, r] = self.regs;
        [i, f, r.max(self.params[2] + 1)]
    }
}

/// Size in bytes of one register slot, in every bank.
pub const SLOT_SIZE: usize = 8;

/// The byte offset of register `slot` from its bank's frame base.
pub const fn slot_offset(slot: i64) -> i64 {
    slot * SLOT_SIZE as i64
}
