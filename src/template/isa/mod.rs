//! The macro-assembler per ISA. Both are compiled on every host (dynasm-rs
//! encodes for any target), so both are checked against a disassembler
//! everywhere; only the host's is ever executed.

pub mod aarch64;
pub mod x64;

#[cfg(test)]
mod test_plan;
