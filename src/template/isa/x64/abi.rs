//! The System V AMD64 calling convention, as template code uses it.
//!
//! - Integer arguments in rdi, rsi, rdx, rcx, r8, r9 ([`ARG_REGS`]); the
//!   result in rax ([`RET`]). The native entry
//!   `extern "C" fn(ctx, i_base, f_base, r_base) -> u32` therefore receives
//!   its four pointers in rdi, rsi, rdx, rcx and returns the status in eax.
//! - Callee-saved: rbx, rbp, r12..r15 ([`CALLEE_SAVED`]); everything else,
//!   all xmm registers included, is clobbered by a call.
//! - The stack pointer is 16-byte aligned at every `call`
//!   ([`STACK_ALIGN`]). On entry it is 8 modulo 16 (the return address); the
//!   prologue pushes rbp and five registers ([`SAVED`]) and drops
//!   [`FRAME_PADDING`] more bytes, which makes it aligned again. Template
//!   code moves the stack pointer only by multiples of 16 (the `floor`
//!   fallback without SSE4.1 saves the scratch registers in a
//!   16-byte-rounded area), so every call site inside the function is
//!   aligned without further adjustment.
//! - Frame pointer: the prologue starts `push rbp; mov rbp, rsp`, so rbp
//!   chains template frames for frame-pointer walks (`perf --call-graph
//!   fp`) and [`PROLOGUE_CFI`] describes the frame to DWARF unwinders.
//!
//! Frame of a template function (64 bytes with the return address):
//!
//! ```text
//! rbp+8   return address
//! rbp+0   rbp   (caller's); rbp = address of this slot
//! rbp-8   rbx   (caller's)
//! rbp-16  r12
//! rbp-24  r13
//! rbp-32  r14
//! rbp-40  r15
//! rbp-48  (padding: alignment) = rsp
//! ```

use std::sync::LazyLock;

use dynasmrt::x64::Rq;
use gimli::write::CallFrameInstruction;
use gimli::{Register, X86_64};

/// The integer argument registers, in order.
pub const ARG_REGS: [Rq; 6] = [Rq::RDI, Rq::RSI, Rq::RDX, Rq::RCX, Rq::R8, Rq::R9];

/// The integer result register.
pub const RET: Rq = Rq::RAX;

/// The registers a callee must preserve.
pub const CALLEE_SAVED: [Rq; 6] = [Rq::RBX, Rq::RBP, Rq::R12, Rq::R13, Rq::R14, Rq::R15];

/// The registers the prologue pushes after rbp, in push order (the
/// epilogue pops them in reverse): the pinned registers (rbx holds the call
/// depth).
pub const SAVED: [Rq; 5] = [Rq::RBX, Rq::R12, Rq::R13, Rq::R14, Rq::R15];

/// Bytes the prologue drops below the pushes to keep calls aligned.
pub const FRAME_PADDING: i32 = 8;

/// The stack alignment required at a call.
pub const STACK_ALIGN: usize = 16;

// The return address, rbp, the pushes and the padding keep the stack
// aligned for calls.
const _: () =
    assert!((8 + 8 + 8 * SAVED.len() + FRAME_PADDING as usize).is_multiple_of(STACK_ALIGN));

/// Bytes of `push rbp` and `mov rbp, rsp`, the prologue's first two
/// instructions.
const PUSH_RBP_LEN: u32 = 1;
const MOV_RBP_RSP_LEN: u32 = 3;

/// The DWARF number of `r` (System V psABI order: rax, rdx, rcx, rbx, rsi,
/// rdi, rbp, rsp, r8..r15).
pub fn dwarf_register(r: Rq) -> Register {
    match r {
        Rq::RAX => X86_64::RAX,
        Rq::RCX => X86_64::RCX,
        Rq::RDX => X86_64::RDX,
        Rq::RBX => X86_64::RBX,
        Rq::RSP => X86_64::RSP,
        Rq::RBP => X86_64::RBP,
        Rq::RSI => X86_64::RSI,
        Rq::RDI => X86_64::RDI,
        // r8..r15 are numbered as themselves.
        r => Register(u16::from(r as u8)),
    }
}

/// The prologue's call-frame information (against
/// `runtime::unwind::host_cie`: CFA = rsp + 8 on entry), by code offset
/// after each instruction: after `push rbp` the CFA is rsp + 16 and the
/// caller's rbp at CFA - 16; after `mov rbp, rsp` the CFA is rbp + 16 for
/// the rest of the function (template code moves rsp, rbp never); each push
/// of [`SAVED`] saves its register 8 bytes lower. The epilogue is not
/// described: only its final `ret`, after `pop rbp`, is misdescribed, and
/// no unwinder stops there but a sampling profiler's.
pub static PROLOGUE_CFI: LazyLock<Vec<(u32, CallFrameInstruction)>> = LazyLock::new(|| {
    let mut at = PUSH_RBP_LEN;
    let mut cfi = vec![
        (at, CallFrameInstruction::CfaOffset(16)),
        (at, CallFrameInstruction::Offset(X86_64::RBP, -16)),
    ];
    at += MOV_RBP_RSP_LEN;
    cfi.push((at, CallFrameInstruction::CfaRegister(X86_64::RBP)));
    for (k, &r) in SAVED.iter().enumerate() {
        // `push r8..r15` needs a REX prefix.
        at += if (r as u8) < 8 { 1 } else { 2 };
        cfi.push((
            at,
            CallFrameInstruction::Offset(dwarf_register(r), -16 - 8 * (k as i32 + 1)),
        ));
    }
    cfi
});

/// Order the register moves `dst <- src` of a parallel assignment so that no
/// source is overwritten before it is read. Destinations must be distinct and
/// the temporaries must be neither sources nor destinations; a source may feed
/// several destinations. A cycle (`rdi <- rsi, rsi <- rdi`) is broken by
/// saving one destination's old value in the next temporary. Returns `None`
/// if the temporaries run out (with one spare temporary per cycle they do
/// not; a permutation of `n` registers has at most `n / 2` cycles).
pub fn sequence_moves(moves: &[(Rq, Rq)], temps: &[Rq]) -> Option<Vec<(Rq, Rq)>> {
    let mut pending: Vec<(Rq, Rq)> = moves.iter().copied().filter(|(d, s)| d != s).collect();
    let mut out = Vec::with_capacity(pending.len() + 1);
    let mut temps = temps.iter().copied();
    while !pending.is_empty() {
        let free = pending
            .iter()
            .position(|&(d, _)| !pending.iter().any(|&(_, s)| s == d));
        match free {
            Some(i) => out.push(pending.remove(i)),
            None => {
                // Every destination is still to be read: the rest are cycles.
                // Save the first destination; its readers read the copy.
                let (d, _) = pending[0];
                let t = temps.next()?;
                out.push((t, d));
                for m in &mut pending {
                    if m.1 == d {
                        m.1 = t;
                    }
                }
            }
        }
    }
    Some(out)
}
