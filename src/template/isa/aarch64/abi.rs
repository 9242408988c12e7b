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

// dynasm's expansion converts each dynamic register number with `.into()`.
#![allow(clippy::useless_conversion)]

use dynasmrt::DynasmApi;
use dynasmrt::aarch64::Aarch64Relocation;

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
