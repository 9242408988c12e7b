//! AAPCS64 as the template tier uses it: integer arguments in x0..x7, the
//! result in x0 (w0 for the `u32` status), x19..x28 and x29/x30 callee-saved,
//! the stack 16-byte aligned at calls.
//!
//! Frame of a template function (64 bytes, so sp stays 16-byte aligned):
//!
//! ```text
//! sp+56  (unused: alignment)
//! sp+48  x23   (caller's)
//! sp+40  x22
//! sp+32  x21
//! sp+24  x20
//! sp+16  x19
//! sp+8   x30   (return address)
//! sp+0   x29   (caller's frame pointer); x29 = sp
//! ```
//!
//! x29 stays at the frame record for the whole function, so frame-pointer
//! walks link every frame; [`PROLOGUE_CFI`] describes the frame to DWARF
//! unwinders.

// dynasm's expansion converts each dynamic register number with `.into()`.
#![allow(clippy::useless_conversion)]

use std::sync::LazyLock;

use dynasmrt::DynasmApi;
use dynasmrt::aarch64::Aarch64Relocation;

use gimli::write::CallFrameInstruction;
use gimli::{AArch64, Register};

use crate::template::code_buffer::CodeBuffer;

use super::regs::{CTX, DEPTH, F_BASE, I_BASE, R_BASE};

/// The integer argument registers, in order.
pub const ARG_REGS: [u8; 8] = [0, 1, 2, 3, 4, 5, 6, 7];
/// The integer return register.
pub const RET_REG: u8 = 0;
/// Bytes the prologue reserves below the caller's stack pointer.
pub const FRAME_SIZE: u32 = 64;

/// Where the prologue saves the pinned registers: x19/x20 and x21/x22 as
/// pairs, the call depth alone (see the frame above).
const SAVE_PAIRS_AT: [i32; 2] = [16, 32];
const SAVE_DEPTH_AT: i32 = 48;

// The stack stays 16-byte aligned at calls, and every save lies inside the
// frame, above the frame record (x29, x30).
const _: () = {
    assert!(FRAME_SIZE.is_multiple_of(16));
    assert!(SAVE_PAIRS_AT[0] >= 16 && SAVE_PAIRS_AT[1] == SAVE_PAIRS_AT[0] + 16);
    assert!(SAVE_DEPTH_AT >= SAVE_PAIRS_AT[1] + 16);
    assert!(SAVE_DEPTH_AT + 8 <= FRAME_SIZE as i32);
};

/// The prologue's call-frame information (against
/// `runtime::unwind::host_cie`: CFA = sp on entry, the return address in
/// x30), by code offset after each instruction: after `stp x29, x30, [sp,
/// -FRAME_SIZE]!` the CFA is sp + FRAME_SIZE with x29/x30 at its bottom;
/// after `mov x29, sp` it is x29 + FRAME_SIZE for the rest of the function
/// (template code never moves x29); then the pinned registers' saves. The
/// epilogue is not described: only its final `ret`, after the `ldp` that
/// restores x29, is misdescribed, and no unwinder stops there but a
/// sampling profiler's.
pub static PROLOGUE_CFI: LazyLock<Vec<(u32, CallFrameInstruction)>> = LazyLock::new(|| {
    use CallFrameInstruction::{CfaOffset, CfaRegister, Offset};
    let frame = FRAME_SIZE as i32;
    let reg = |r: u8| Register(u16::from(r));
    // Each instruction is 4 bytes; the CFI takes effect after it.
    vec![
        (4, CfaOffset(frame)),
        (4, Offset(AArch64::X29, -frame)),
        (4, Offset(AArch64::X30, 8 - frame)),
        (8, CfaRegister(AArch64::X29)),
        (12, Offset(reg(I_BASE), SAVE_PAIRS_AT[0] - frame)),
        (12, Offset(reg(F_BASE), SAVE_PAIRS_AT[0] + 8 - frame)),
        (16, Offset(reg(R_BASE), SAVE_PAIRS_AT[1] - frame)),
        (16, Offset(reg(CTX), SAVE_PAIRS_AT[1] + 8 - frame)),
        (20, Offset(reg(DEPTH), SAVE_DEPTH_AT - frame)),
    ]
});

/// Emit the prologue: save x29/x30 and the pinned registers, then load the
/// pinned registers from the native entry's arguments
/// `(ctx, i_base, f_base, r_base)` in x0..x3 (the masm loads the depth).
pub fn prologue(ops: &mut CodeBuffer<Aarch64Relocation>) {
    a64!(ops
        ; stp x29, x30, [sp, -(FRAME_SIZE as i32)]!
        ; mov x29, sp
        ; stp X(I_BASE), X(F_BASE), [sp, SAVE_PAIRS_AT[0]]
        ; stp X(R_BASE), X(CTX), [sp, SAVE_PAIRS_AT[1]]
        ; str X(DEPTH), [sp, SAVE_DEPTH_AT as u32]
        ; mov X(CTX), x0
        ; mov X(I_BASE), x1
        ; mov X(F_BASE), x2
        ; mov X(R_BASE), x3
    );
}

/// Emit the epilogue: `w0 = status`, restore what the prologue saved,
/// return.
pub fn epilogue(ops: &mut CodeBuffer<Aarch64Relocation>, status: u8) {
    a64!(ops
        ; mov w0, W(status)
        ; ldp X(I_BASE), X(F_BASE), [sp, SAVE_PAIRS_AT[0]]
        ; ldp X(R_BASE), X(CTX), [sp, SAVE_PAIRS_AT[1]]
        ; ldr X(DEPTH), [sp, SAVE_DEPTH_AT as u32]
        ; ldp x29, x30, [sp], FRAME_SIZE as i32
        ; ret
    );
}
