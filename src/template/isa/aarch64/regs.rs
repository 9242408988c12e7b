//! The aarch64 register assignment of template code, as register numbers
//! the way dynasm's dynamic registers take them (`X(n)`, `W(n)`, `D(n)`).
//!
//! | role                          | register   | saved by          |
//! |-------------------------------|------------|-------------------|
//! | i64 frame base                | x19        | prologue          |
//! | f64 frame base                | x20        | prologue          |
//! | reference frame base          | x21        | prologue          |
//! | context                       | x22        | prologue          |
//! | call depth of this activation | x23        | prologue          |
//! | scratch `T0`, `T1`, `T2`      | x9..x11    | nobody (caller-saved) |
//! | scratch `F0`..`F7`            | d0..d7     | nobody (caller-saved) |
//! | private temporaries           | x16, x17 (IP0, IP1), d16, d17 | nobody |

use crate::bytecode::Bank;
use crate::template::masm::{Fpr, Gpr};

/// Pinned: base of the i64 bank of the current frame.
pub const I_BASE: u8 = 19;
/// Pinned: base of the f64 bank of the current frame.
pub const F_BASE: u8 = 20;
/// Pinned: base of the reference bank of the current frame.
pub const R_BASE: u8 = 21;
/// Pinned: the context pointer.
pub const CTX: u8 = 22;
/// Pinned: this activation's call depth.
pub const DEPTH: u8 = 23;

/// Private integer temporary (IP0), used inside one method only.
pub const TMP0: u8 = 16;
/// Private integer temporary (IP1), used inside one method only.
pub const TMP1: u8 = 17;
/// Private f64 temporary, used inside one method only.
pub const FTMP0: u8 = 16;
/// Second private f64 temporary (unused so far, reserved by the trait's
/// conventions).
pub const FTMP1: u8 = 17;

/// Frame pointer.
pub const FP: u8 = 29;
/// Link register.
pub const LR: u8 = 30;
/// The zero register in most operand positions (the stack pointer in
/// others).
pub const ZR: u8 = 31;

/// The machine register of a scratch integer register: x9, x10, x11.
pub const fn gpr(g: Gpr) -> u8 {
    match g {
        Gpr::T0 => 9,
        Gpr::T1 => 10,
        Gpr::T2 => 11,
    }
}

/// The machine register of a scratch f64 register: d0..d7.
pub const fn fpr(f: Fpr) -> u8 {
    match f {
        Fpr::F0 => 0,
        Fpr::F1 => 1,
        Fpr::F2 => 2,
        Fpr::F3 => 3,
        Fpr::F4 => 4,
        Fpr::F5 => 5,
        Fpr::F6 => 6,
        Fpr::F7 => 7,
    }
}

/// The pinned base register of a bank.
pub fn bank_base(bank: Bank) -> u8 {
    match bank {
        Bank::I => I_BASE,
        Bank::F => F_BASE,
        Bank::R => R_BASE,
    }
}

// The methods rely on these: the pinned registers are callee-saved (x19 to
// x28) and distinct; the scratch registers are caller-saved, none of the
// pinned registers, the private temporaries, x18 (the platform register),
// the frame pointer or the link register; the f64 temporaries are no
// scratch register.
const _: () = {
    let pinned = [I_BASE, F_BASE, R_BASE, CTX, DEPTH];
    let mut i = 0;
    while i < pinned.len() {
        assert!(pinned[i] >= 19 && pinned[i] <= 28);
        let mut j = i + 1;
        while j < pinned.len() {
            assert!(pinned[i] != pinned[j]);
            j += 1;
        }
        i += 1;
    }
    let scratch = [gpr(Gpr::T0), gpr(Gpr::T1), gpr(Gpr::T2)];
    let mut i = 0;
    while i < scratch.len() {
        let t = scratch[i];
        assert!(t <= 15 && t != TMP0 && t != TMP1);
        i += 1;
    }
    let mut k = 0;
    while k < Fpr::ALL.len() {
        let f = fpr(Fpr::ALL[k]);
        // d8..d15 are callee-saved (low halves): scratch must not use them.
        assert!(f < 8 && f != FTMP0 && f != FTMP1);
        k += 1;
    }
};
