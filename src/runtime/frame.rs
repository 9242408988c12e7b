//! The shared frame layout: what every engine agrees on about a function's
//! registers.
//!
//! A frame is three base pointers into the register stacks. Register `k` of
//! bank `B` lives at `base_B + 8*k`. A callee's bases are the caller's bases
//! plus the caller's register counts; its parameters are its first slots.

use crate::bytecode::{Bank, Function};

/// Per-function facts every engine needs at calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// Registers per bank (indexed by [`Bank::index`]).
    pub regs: [u32; 3],
    /// Parameters per bank.
    pub params: [u32; 3],
    /// The result bank, if any.
    pub result: Option<Bank>,
}

impl FrameLayout {
    /// The layout of a (verified) function.
    pub fn of(f: &Function) -> FrameLayout {
        let p = f.sig.param_counts();
        FrameLayout {
            regs: f.regs.map(u32::from),
            params: p.map(u32::from),
            result: f.sig.result,
        }
    }
}

/// Size in bytes of one register slot, in every bank.
pub const SLOT_SIZE: usize = 8;

/// The byte offset of register `slot` from its bank's frame base.
pub const fn slot_offset(slot: i64) -> i64 {
    slot * SLOT_SIZE as i64
}
