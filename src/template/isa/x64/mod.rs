//! The x86-64 macro-assembler, over dynasm-rs.
//!
//! - Registers ([`regs`]): the frame bases and the context are pinned in the
//!   callee-saved r12 (i64 bank), r13 (f64 bank), r14 (reference bank) and
//!   r15 (context). The scratch registers `T0..T2` are rsi, rdi and r8 and
//!   `F0..F2` are xmm0..xmm2, all caller-saved. rax, rcx, rdx, r10, r11,
//!   xmm14 and xmm15 are private temporaries inside one method: with rax, rcx
//!   and rdx outside the scratch set, `idiv` (rdx:rax) and shifts by `cl`
//!   need no shuffling whatever the operands.
//! - ABI ([`abi`]): System V. The prologue pushes rbx and r12..r15 (five
//!   pushes after the return address: the stack is 16-byte aligned for every
//!   call, and template code never pushes) and moves the entry's arguments
//!   `(ctx, i_base, f_base, r_base)` from rdi, rsi, rdx, rcx into the pinned
//!   registers; the epilogue pops them and returns the status in eax.
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

pub use masm::X64Masm;

#[cfg(test)]
mod tests;
