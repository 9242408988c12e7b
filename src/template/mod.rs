//! The template tier: one emit function per op, single pass, no IR, machine
//! code for x86-64 and aarch64 through one macro-assembler trait.

pub mod code_memory;
pub mod emit;
pub mod golden;
pub mod helpers;
pub mod isa;
pub mod masm;
pub mod runtime;

#[cfg(test)]
mod tests;
