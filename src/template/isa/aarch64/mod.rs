//! The aarch64 macro-assembler, over dynasm-rs.
//!
//! - Registers: the table of pinned, scratch and private registers is in
//!   [`regs`], with compile-time checks that the sets do not overlap.
//! - ABI and frame: [`abi`] (AAPCS64; the frame the prologue builds).
//! - Immediates, slot indices and offsets of any size are accepted: forms
//!   that do not fit an instruction's immediate field are synthesised with
//!   `movz`/`movn`/`movk` or `add ..., lsl #12` into a private temporary.
//! - Branches to labels: `b` reaches ±128 MiB. A conditional branch to an
//!   already bound label within ±1 MiB is one `b.cond`; any other conditional
//!   branch (forward, or far backward) is `b.<inverse> skip; b target;
//!   skip:`, so functions of any size up to 128 MiB assemble. Beyond that,
//!   [`MacroAssembler::finish`](crate::template::masm::MacroAssembler::finish)
//!   reports the impossible relocation as an error.
//! - f64 compares: after `fcmp`, an unordered result sets C and V. The
//!   conditions used are `eq`, `ne`, `mi` (less), `ls` (less or equal), `gt`
//!   and `ge`: each is false on unordered except `ne`, matching IEEE (and
//!   Rust) semantics. (`lt` and `le` would be true on unordered.)

/// `dynasm!` for aarch64, whatever the host.
macro_rules! a64 {
    ($ops:expr ; $($t:tt)*) => {
        dynasmrt::dynasm!($ops ; .arch aarch64 ; $($t)*)
    };
}

pub mod abi;
pub mod masm;
pub mod regs;

pub use masm::A64Masm;

#[cfg(test)]
mod tests;
