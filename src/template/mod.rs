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

/// How frames of template code unwind on the machine we run on: the CFI of
/// the host ISA's fixed prologue (see `isa::*::abi::PROLOGUE_CFI`).
pub fn frame_unwind() -> &'static crate::runtime::unwind::FrameUnwind {
    use crate::runtime::unwind::FrameUnwind;
    use std::sync::LazyLock;
    static UNWIND: LazyLock<FrameUnwind> = LazyLock::new(|| {
        #[cfg(target_arch = "x86_64")]
        return FrameUnwind::Cfi(LazyLock::force(&isa::x64::abi::PROLOGUE_CFI).as_slice());
        #[cfg(target_arch = "aarch64")]
        return FrameUnwind::Cfi(LazyLock::force(&isa::aarch64::abi::PROLOGUE_CFI).as_slice());
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        FrameUnwind::None
    });
    &UNWIND
}
