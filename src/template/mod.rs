//! The template tier: one emit function per op, single pass, no IR, machine
//! code for x86-64 and aarch64 through one macro-assembler trait.

pub mod code_buffer;
pub mod emit;
pub mod golden;
pub mod isa;
pub mod masm;

#[cfg(test)]
mod tests;

/// The macro-assembler of the machine we run on.
#[cfg(target_arch = "x86_64")]
pub type HostMasm = isa::x64::X64Masm;
/// The macro-assembler of the machine we run on.
#[cfg(target_arch = "aarch64")]
pub type HostMasm = isa::aarch64::A64Masm;

/// Whether this build can run template code.
pub const AVAILABLE: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));
