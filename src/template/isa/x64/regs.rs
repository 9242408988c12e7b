//! The x86-64 register assignment of template code.
//!
//! | role                         | register            | saved by        |
//! |------------------------------|---------------------|-----------------|
//! | i64 frame base               | r12                 | prologue (push) |
//! | f64 frame base               | r13                 | prologue (push) |
//! | reference frame base         | r14                 | prologue (push) |
//! | context                      | r15                 | prologue (push) |
//! | call depth of this activation | rbx                | prologue (push) |
//! | frame pointer (frame chain)  | rbp                 | prologue (push) |
//! | scratch `T0`, `T1`, `T2`     | rsi, rdi, r8        | nobody (caller-saved) |
//! | scratch `F0`..`F7`           | xmm0..xmm7          | nobody (caller-saved) |
//! | private temporaries          | rax, rcx, rdx, r10, r11, xmm14, xmm15 | nobody |
//!
//! The scratch registers avoid rax, rcx and rdx on purpose: `idiv` needs
//! rdx:rax, shifts by a register need the count in cl, and `setcc` wants a
//! byte register that needs no REX prefix. With those three free inside every
//! method, division is `mov rax, lhs; cqo; idiv rhs` and a shift is
//! `mov ecx, rhs; shl dst, cl` for every combination of operands, with no
//! saving and restoring. The price is that `T0..T2` are argument registers
//! (rsi, rdi, r8), so helper calls solve a small parallel move
//! ([`super::abi::sequence_moves`]).

use dynasmrt::x64::{Rq, Rx};

use crate::template::masm::{Fpr, Gpr};

/// The i64 frame base (`i_base`), pinned for the whole function.
pub const I_BASE: Rq = Rq::R12;
/// The f64 frame base (`f_base`), pinned for the whole function.
pub const F_BASE: Rq = Rq::R13;
/// The reference frame base (`r_base`), pinned for the whole function.
pub const R_BASE: Rq = Rq::R14;
/// The context pointer, pinned for the whole function.
pub const CTX: Rq = Rq::R15;
/// This activation's call depth, pinned for the whole function.
pub const DEPTH: Rq = Rq::RBX;

/// Scratch register `T0`.
pub const T0: Rq = Rq::RSI;
/// Scratch register `T1`.
pub const T1: Rq = Rq::RDI;
/// Scratch register `T2`.
pub const T2: Rq = Rq::R8;

/// Scratch register `F0`.
pub const F0: Rx = Rx::XMM0;
/// Scratch register `F1`.
pub const F1: Rx = Rx::XMM1;
/// Scratch register `F2`.
pub const F2: Rx = Rx::XMM2;

/// Private temporary: the accumulator (`idiv` dividend and quotient, the
/// `setcc` byte, call targets and results).
pub const ACC: Rq = Rq::RAX;
/// Private temporary: the shift count (`cl`) and a second `setcc` byte.
pub const COUNT: Rq = Rq::RCX;
/// Private temporary: the high half of the `idiv` dividend and the remainder.
pub const HIGH: Rq = Rq::RDX;
/// Private temporary: synthesised addresses and constants.
pub const TMP: Rq = Rq::R11;
/// Private temporary: a second one (loop counters, parallel-move cycles).
pub const TMP2: Rq = Rq::R10;
/// Private f64 temporary.
pub const FTMP: Rx = Rx::XMM15;
/// Private f64 temporary: a second one.
pub const FTMP2: Rx = Rx::XMM14;

/// The machine register of a scratch [`Gpr`].
pub const fn gpr(r: Gpr) -> Rq {
    match r {
        Gpr::T0 => T0,
        Gpr::T1 => T1,
        Gpr::T2 => T2,
    }
}

/// The machine register of a scratch [`Fpr`].
pub const fn fpr(r: Fpr) -> Rx {
    match r {
        Fpr::F0 => F0,
        Fpr::F1 => F1,
        Fpr::F2 => F2,
        Fpr::F3 => Rx::XMM3,
        Fpr::F4 => Rx::XMM4,
        Fpr::F5 => Rx::XMM5,
        Fpr::F6 => Rx::XMM6,
        Fpr::F7 => Rx::XMM7,
    }
}

/// Every scratch integer register, in `Gpr` order.
pub const SCRATCH_GPRS: [Rq; 3] = [T0, T1, T2];
/// Every scratch f64 register, in `Fpr` order.
pub const SCRATCH_FPRS: [Rx; 8] = [F0, F1, F2, Rx::XMM3, Rx::XMM4, Rx::XMM5, Rx::XMM6, Rx::XMM7];

// The methods rely on these: the scratch registers are none of the private
// temporaries (so `idiv`, shifts by cl, `setcc al` and r10/r11 never clobber
// one) and none of the pinned registers; the f64 temporaries are no
// scratch register.
const _: () = {
    let private = [ACC, COUNT, HIGH, TMP, TMP2];
    let pinned = [I_BASE, F_BASE, R_BASE, CTX];
    let mut i = 0;
    while i < SCRATCH_GPRS.len() {
        let t = SCRATCH_GPRS[i] as u8;
        let mut j = 0;
        while j < private.len() {
            assert!(t != private[j] as u8);
            j += 1;
        }
        let mut j = 0;
        while j < pinned.len() {
            assert!(t != pinned[j] as u8);
            j += 1;
        }
        i += 1;
    }
    let mut i = 0;
    while i < SCRATCH_FPRS.len() {
        assert!(SCRATCH_FPRS[i] as u8 != FTMP as u8 && SCRATCH_FPRS[i] as u8 != FTMP2 as u8);
        i += 1;
    }
};
