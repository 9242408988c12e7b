//! The x86-64 macro-assembler, over dynasm-rs.
//!
//! - Registers: the table of pinned, scratch and private registers and the
//!   reasons for it are in [`regs`], with compile-time checks that the sets
//!   do not overlap.
//! - ABI and frame: [`abi`] (System V; what the prologue saves, and why the
//!   stack stays aligned for every call).
//! - Slots are `[base + 8 * slot]` with an 8-bit displacement when it fits,
//!   else 32 bits; a displacement beyond 32 bits is synthesised into r11.
//!   Immediates take the shortest form (imm8, imm32 sign- or zero-extended,
//!   `mov r64, imm64`).
//! - Branches to labels use rel32; branches inside one method rel8.
//! - f64 compares use `ucomisd` with conditions that are false on unordered
//!   (`a`, `ae`, with swapped operands for `<` and `<=`); `==` also requires
//!   PF = 0 and `!=` accepts PF = 1. `f2i` fixes `cvttsd2si`'s
//!   "integer indefinite" result up to Rust's saturating `as`. `floor` is
//!   `roundsd` with SSE4.1, else a call to a Rust function that saves and
//!   restores every scratch register around it.
//! - Helper calls move register arguments as a parallel move
//!   ([`abi::sequence_moves`]) before setting the others.

pub mod abi;
mod masm;
pub mod regs;

pub use masm::{X64Features, X64Masm};

#[cfg(test)]
mod tests;
