//! Register assignment: register numbers as dynasm's dynamic registers take
//! them (`X(n)`, `W(n)`, `D(n)`).

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
pub fn gpr(g: Gpr) -> u8 {
    match g {
        Gpr::T0 => 9,
        Gpr::T1 => 10,
        Gpr::T2 => 11,
    }
}

/// The machine register of a scratch f64 register: d0..d7.
pub fn fpr(f: Fpr) -> u8 {
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
