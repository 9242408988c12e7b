//! [`A64Masm`]: the [`MacroAssembler`] for aarch64, over dynasm-rs,
//! emitting into a [`CodeBuffer`]. See the module docs of [`super`] for the register
//! assignment and the encoding decisions.

// dynasm's expansion converts each dynamic register number with `.into()`.
#![allow(clippy::useless_conversion)]

use dynasmrt::aarch64::{
    Aarch64Relocation, encode_floating_point_immediate, encode_logical_immediate_64bit,
};
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi};

use crate::template::code_buffer::CodeBuffer;

use super::abi::{self, ARG_REGS, RET_REG};
use super::regs::{
    CTX, DEPTH, F_BASE, FTMP0, FTMP1, I_BASE, R_BASE, TMP0, TMP1, ZR, bank_base, fpr, gpr,
};
use crate::bytecode::{Bank, Cmp};
use crate::runtime::frame::slot_offset;
use crate::template::masm::{
    AluOp, AsmError, BitCount, Cond, Extension, FpOp, FpUnary, Fpr, Gpr, HelperArg,
    MAX_HELPER_ARGS, MacroAssembler,
};

/// A machine condition code (the subset the templates need).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cc {
    Eq,
    Ne,
    Hs,
    Lo,
    Mi,
    Pl,
    Hi,
    Ls,
    Ge,
    Lt,
    Gt,
    Le,
    /// Signed overflow.
    Vs,
    Vc,
}

impl Cc {
    /// The condition that holds exactly when `self` does not (on any flags).
    fn invert(self) -> Cc {
        match self {
            Cc::Eq => Cc::Ne,
            Cc::Ne => Cc::Eq,
            Cc::Hs => Cc::Lo,
            Cc::Lo => Cc::Hs,
            Cc::Mi => Cc::Pl,
            Cc::Pl => Cc::Mi,
            Cc::Hi => Cc::Ls,
            Cc::Ls => Cc::Hi,
            Cc::Ge => Cc::Lt,
            Cc::Lt => Cc::Ge,
            Cc::Gt => Cc::Le,
            Cc::Le => Cc::Gt,
            Cc::Vs => Cc::Vc,
            Cc::Vc => Cc::Vs,
        }
    }

    /// After `cmp lhs, rhs`.
    fn int(cond: Cond) -> Cc {
        match cond {
            Cond::Eq => Cc::Eq,
            Cond::Ne => Cc::Ne,
            Cond::Lt => Cc::Lt,
            Cond::Le => Cc::Le,
            Cond::Gt => Cc::Gt,
            Cond::Ge => Cc::Ge,
            Cond::Ult => Cc::Lo,
            Cond::Ule => Cc::Ls,
            Cond::Ugt => Cc::Hi,
            Cond::Uge => Cc::Hs,
        }
    }

    /// After `fcmp lhs, rhs`, which sets NZCV to 0110 (equal), 1000 (less),
    /// 0010 (greater) or 0011 (unordered). Every ordered compare must be
    /// false on unordered and `Ne` true: `mi` (N) rather than `lt` (N != V)
    /// and `ls` (!C || Z) rather than `le` (Z || N != V), which both hold
    /// on unordered; `gt` (!Z && N == V) and `ge` (N == V) are false there.
    fn float(cmp: Cmp) -> Cc {
        match cmp {
            Cmp::Eq => Cc::Eq,
            Cmp::Ne => Cc::Ne,
            Cmp::Lt => Cc::Mi,
            Cmp::Le => Cc::Ls,
            Cmp::Gt => Cc::Gt,
            Cmp::Ge => Cc::Ge,
        }
    }
}

/// Expand `$emit!(cond_ident)` for the machine condition `$cc` (dynasm
/// takes condition codes only as literal identifiers).
macro_rules! for_cc {
    ($cc:expr, $emit:ident) => {
        match $cc {
            Cc::Eq => $emit!(eq),
            Cc::Ne => $emit!(ne),
            Cc::Hs => $emit!(hs),
            Cc::Lo => $emit!(lo),
            Cc::Mi => $emit!(mi),
            Cc::Pl => $emit!(pl),
            Cc::Hi => $emit!(hi),
            Cc::Ls => $emit!(ls),
            Cc::Ge => $emit!(ge),
            Cc::Lt => $emit!(lt),
            Cc::Gt => $emit!(gt),
            Cc::Le => $emit!(le),
            Cc::Vs => $emit!(vs),
            Cc::Vc => $emit!(vc),
        }
    };
}

/// A load or store of one register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mem {
    /// `ldr Xt`.
    LdrX,
    /// `str Xt`.
    StrX,
    /// `ldr Wt` (zero-extends).
    LdrW,
    /// `str Wt`.
    StrW,
    /// `ldrb Wt` (zero-extends).
    LdrB,
    /// `strb Wt`.
    StrB,
    /// `ldr Dt`.
    LdrD,
    /// `str Dt`.
    StrD,
}

impl Mem {
    /// Bytes accessed, the scale of the unsigned-offset form.
    fn size(self) -> i64 {
        match self {
            Mem::LdrX | Mem::StrX | Mem::LdrD | Mem::StrD => 8,
            Mem::LdrW | Mem::StrW => 4,
            Mem::LdrB | Mem::StrB => 1,
        }
    }

    /// Whether `offset` fits the scaled unsigned 12-bit form.
    fn fits_scaled(self, offset: i64) -> bool {
        let size = self.size();
        offset >= 0 && offset % size == 0 && offset / size <= 4095
    }

    /// Whether `offset` fits the unscaled signed 9-bit form.
    fn fits_unscaled(offset: i64) -> bool {
        (-256..=255).contains(&offset)
    }
}

/// The aarch64 macro-assembler. Code is position independent: labels are
/// PC-relative and absolute addresses are materialised as constants.
pub struct A64Masm {
    ops: CodeBuffer<Aarch64Relocation>,
    /// The first misuse seen (e.g. too many helper arguments), reported by
    /// `finish` instead of panicking.
    error: Option<AsmError>,
}

impl Default for A64Masm {
    fn default() -> Self {
        Self::new()
    }
}

impl A64Masm {
    /// An empty assembler.
    pub fn new() -> A64Masm {
        A64Masm {
            ops: CodeBuffer::default(),
            error: None,
        }
    }

    /// Emit `words` `nop`s quickly (tests of branch ranges).
    #[cfg(test)]
    pub(super) fn pad_words(&mut self, words: usize) {
        const NOP: [u8; 4] = 0xD503_201Fu32.to_le_bytes();
        self.ops.extend(std::iter::repeat_n(NOP, words).flatten());
    }

    /// Record the first misuse; `finish` reports it.
    fn fail(&mut self, e: AsmError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    // ---- constants and address arithmetic ----

    /// `movz/movn/movk` with the halfword shift `16 * hw`.
    fn mov_wide(&mut self, kind: u8, rd: u8, imm16: u32, hw: u32) {
        let ops = &mut self.ops;
        match (kind, hw) {
            (0, 0) => a64!(ops ; movz X(rd), imm16),
            (0, 1) => a64!(ops ; movz X(rd), imm16, lsl 16),
            (0, 2) => a64!(ops ; movz X(rd), imm16, lsl 32),
            (0, _) => a64!(ops ; movz X(rd), imm16, lsl 48),
            (1, 0) => a64!(ops ; movn X(rd), imm16),
            (1, 1) => a64!(ops ; movn X(rd), imm16, lsl 16),
            (1, 2) => a64!(ops ; movn X(rd), imm16, lsl 32),
            (1, _) => a64!(ops ; movn X(rd), imm16, lsl 48),
            (_, 0) => a64!(ops ; movk X(rd), imm16),
            (_, 1) => a64!(ops ; movk X(rd), imm16, lsl 16),
            (_, 2) => a64!(ops ; movk X(rd), imm16, lsl 32),
            (_, _) => a64!(ops ; movk X(rd), imm16, lsl 48),
        }
    }

    /// `Xrd = value`, in as few instructions as `movz`/`movn` + `movk`
    /// (skipping halfwords equal to the fill) or one `orr` with a bitmask
    /// immediate allow.
    fn load_imm_raw(&mut self, rd: u8, value: u64) {
        const MOVZ: u8 = 0;
        const MOVN: u8 = 1;
        const MOVK: u8 = 2;
        let hw = |i: u32| ((value >> (16 * i)) & 0xFFFF) as u32;
        let zeros = (0..4).filter(|&i| hw(i) == 0).count();
        let ones = (0..4).filter(|&i| hw(i) == 0xFFFF).count();
        let inverted = ones > zeros;
        let fill = if inverted { 0xFFFF } else { 0 };
        let needed = 4 - zeros.max(ones);
        if needed > 1 && encode_logical_immediate_64bit(value).is_some() {
            a64!(self.ops ; orr XSP(rd), xzr, value);
            return;
        }
        let mut first = true;
        for i in 0..4 {
            let h = hw(i);
            if h == fill {
                continue;
            }
            if first {
                if inverted {
                    self.mov_wide(MOVN, rd, !h & 0xFFFF, i);
                } else {
                    self.mov_wide(MOVZ, rd, h, i);
                }
                first = false;
            } else {
                self.mov_wide(MOVK, rd, h, i);
            }
        }
        if first {
            // 0 or -1.
            self.mov_wide(if inverted { MOVN } else { MOVZ }, rd, 0, 0);
        }
    }

    /// `Xrd = Xrn` (nothing when they are the same register).
    fn mov_reg(&mut self, rd: u8, rn: u8) {
        if rd != rn {
            a64!(self.ops ; mov X(rd), X(rn));
        }
    }

    /// `add`/`sub` (immediate) of `imm12`, optionally shifted by 12.
    fn addsub_imm12(&mut self, sub: bool, rd: u8, rn: u8, imm12: u32, shifted: bool) {
        let ops = &mut self.ops;
        match (sub, shifted) {
            (false, false) => a64!(ops ; add XSP(rd), XSP(rn), imm12),
            (false, true) => a64!(ops ; add XSP(rd), XSP(rn), imm12, lsl 12),
            (true, false) => a64!(ops ; sub XSP(rd), XSP(rn), imm12),
            (true, true) => a64!(ops ; sub XSP(rd), XSP(rn), imm12, lsl 12),
        }
    }

    /// `Xrd = Xrn + value` (wrapping). Values of magnitude below 2^24 take
    /// one or two `add`/`sub` immediates; others are materialised in `tmp`,
    /// which must differ from `rn` (it may be `rd`).
    fn add_imm(&mut self, rd: u8, rn: u8, value: i64, tmp: u8) {
        let mag = value.unsigned_abs();
        if mag < 1 << 24 {
            let sub = value < 0;
            let (hi, lo) = ((mag >> 12) as u32, (mag & 0xFFF) as u32);
            if mag == 0 {
                self.mov_reg(rd, rn);
                return;
            }
            let mut src = rn;
            if hi != 0 {
                self.addsub_imm12(sub, rd, src, hi, true);
                src = rd;
            }
            if lo != 0 {
                self.addsub_imm12(sub, rd, src, lo, false);
            }
        } else {
            debug_assert_ne!(tmp, rn);
            self.load_imm_raw(tmp, value as u64);
            a64!(self.ops ; add X(rd), X(rn), X(tmp));
        }
    }

    // ---- memory ----

    /// `[Xrn, #offset]`, scaled unsigned form (the caller checked the fit).
    fn mem_scaled(&mut self, m: Mem, rt: u8, rn: u8, offset: u32) {
        let ops = &mut self.ops;
        match m {
            Mem::LdrX => a64!(ops ; ldr X(rt), [XSP(rn), offset]),
            Mem::StrX => a64!(ops ; str X(rt), [XSP(rn), offset]),
            Mem::LdrW => a64!(ops ; ldr W(rt), [XSP(rn), offset]),
            Mem::StrW => a64!(ops ; str W(rt), [XSP(rn), offset]),
            Mem::LdrB => a64!(ops ; ldrb W(rt), [XSP(rn), offset]),
            Mem::StrB => a64!(ops ; strb W(rt), [XSP(rn), offset]),
            Mem::LdrD => a64!(ops ; ldr D(rt), [XSP(rn), offset]),
            Mem::StrD => a64!(ops ; str D(rt), [XSP(rn), offset]),
        }
    }

    /// `[Xrn, #offset]`, unscaled signed 9-bit form (the caller checked).
    fn mem_unscaled(&mut self, m: Mem, rt: u8, rn: u8, offset: i32) {
        let ops = &mut self.ops;
        match m {
            Mem::LdrX => a64!(ops ; ldur X(rt), [XSP(rn), offset]),
            Mem::StrX => a64!(ops ; stur X(rt), [XSP(rn), offset]),
            Mem::LdrW => a64!(ops ; ldur W(rt), [XSP(rn), offset]),
            Mem::StrW => a64!(ops ; stur W(rt), [XSP(rn), offset]),
            Mem::LdrB => a64!(ops ; ldurb W(rt), [XSP(rn), offset]),
            Mem::StrB => a64!(ops ; sturb W(rt), [XSP(rn), offset]),
            Mem::LdrD => a64!(ops ; ldur D(rt), [XSP(rn), offset]),
            Mem::StrD => a64!(ops ; stur D(rt), [XSP(rn), offset]),
        }
    }

    /// `[Xrn, Xrm]`.
    fn mem_reg(&mut self, m: Mem, rt: u8, rn: u8, rm: u8) {
        let ops = &mut self.ops;
        match m {
            Mem::LdrX => a64!(ops ; ldr X(rt), [XSP(rn), X(rm)]),
            Mem::StrX => a64!(ops ; str X(rt), [XSP(rn), X(rm)]),
            Mem::LdrW => a64!(ops ; ldr W(rt), [XSP(rn), X(rm)]),
            Mem::StrW => a64!(ops ; str W(rt), [XSP(rn), X(rm)]),
            Mem::LdrB => a64!(ops ; ldrb W(rt), [XSP(rn), X(rm)]),
            Mem::StrB => a64!(ops ; strb W(rt), [XSP(rn), X(rm)]),
            Mem::LdrD => a64!(ops ; ldr D(rt), [XSP(rn), X(rm)]),
            Mem::StrD => a64!(ops ; str D(rt), [XSP(rn), X(rm)]),
        }
    }

    /// `[Xrn, #offset]` when an immediate form fits (returns false
    /// otherwise, emitting nothing).
    fn mem_imm(&mut self, m: Mem, rt: u8, rn: u8, offset: i64) -> bool {
        if m.fits_scaled(offset) {
            self.mem_scaled(m, rt, rn, offset as u32);
            true
        } else if Mem::fits_unscaled(offset) {
            self.mem_unscaled(m, rt, rn, offset as i32);
            true
        } else {
            false
        }
    }

    /// Access `[Xrn + offset]`, any offset. `tmp` (not `rn`; not `rt` for a
    /// store) holds the address or the offset when no immediate form fits.
    fn mem(&mut self, m: Mem, rt: u8, rn: u8, offset: i64, tmp: u8) {
        if self.mem_imm(m, rt, rn, offset) {
            return;
        }
        if offset > 0 && offset < 1 << 24 {
            // `add tmp, rn, #hi, lsl #12` then the low 12 bits in the
            // instruction, when they fit one of its forms.
            let lo = offset & 0xFFF;
            if m.fits_scaled(lo) || Mem::fits_unscaled(lo) {
                self.addsub_imm12(false, tmp, rn, (offset >> 12) as u32, true);
                self.mem_imm(m, rt, tmp, lo);
                return;
            }
        }
        self.load_imm_raw(tmp, offset as u64);
        self.mem_reg(m, rt, rn, tmp);
    }

    /// Access frame slot `slot` of `bank`.
    fn slot_mem(&mut self, m: Mem, rt: u8, bank: Bank, slot: u32) {
        self.mem(m, rt, bank_base(bank), slot_offset(slot.into()), TMP0);
    }

    /// Access `[Xbase + size * Xindex + offset]`, `size` the access's (8 or
    /// 1).
    fn indexed_mem(&mut self, m: Mem, rt: u8, base: u8, index: u8, offset: i32) {
        let ops = &mut self.ops;
        match (m, offset) {
            (Mem::LdrX, 0) => a64!(ops ; ldr X(rt), [XSP(base), X(index), lsl 3]),
            (Mem::StrX, 0) => a64!(ops ; str X(rt), [XSP(base), X(index), lsl 3]),
            (Mem::LdrD, 0) => a64!(ops ; ldr D(rt), [XSP(base), X(index), lsl 3]),
            (Mem::StrD, 0) => a64!(ops ; str D(rt), [XSP(base), X(index), lsl 3]),
            (Mem::LdrB | Mem::StrB, 0) => self.mem_reg(m, rt, base, index),
            _ => {
                if m.size() == 1 {
                    a64!(ops ; add X(TMP0), X(base), X(index));
                } else {
                    a64!(ops ; add X(TMP0), X(base), X(index), lsl 3);
                }
                self.mem(m, rt, TMP0, i64::from(offset), TMP1);
            }
        }
    }

    // ---- compares and branches ----

    /// Set the flags for `Xrn - imm`.
    fn cmp_imm(&mut self, rn: u8, imm: i32) {
        let v = i64::from(imm);
        let mag = v.unsigned_abs();
        let ops = &mut self.ops;
        if mag <= 4095 {
            let m = mag as u32;
            if v >= 0 {
                a64!(ops ; cmp XSP(rn), m);
            } else {
                // `cmn x, #k` sets exactly the flags of `cmp x, #-k` for
                // 0 < k < 2^63.
                a64!(ops ; cmn XSP(rn), m);
            }
        } else if mag & 0xFFF == 0 && mag >> 12 <= 4095 {
            let m = (mag >> 12) as u32;
            if v >= 0 {
                a64!(ops ; cmp XSP(rn), m, lsl 12);
            } else {
                a64!(ops ; cmn XSP(rn), m, lsl 12);
            }
        } else {
            self.load_imm_raw(TMP0, v as u64);
            a64!(self.ops ; cmp X(rn), X(TMP0));
        }
    }

    /// `Xrd = cc ? 1 : 0`.
    fn cset(&mut self, rd: u8, cc: Cc) {
        let ops = &mut self.ops;
        macro_rules! emit {
            ($c:ident) => {
                a64!(ops ; cset X(rd), $c)
            };
        }
        for_cc!(cc, emit);
    }

    /// Jump to `target` if `cc`. A `b.cond` reaches ±1 MiB: it is used
    /// directly only for a label already bound within that range; otherwise
    /// the inverse condition skips an unconditional `b` (±128 MiB).
    fn bcond(&mut self, cc: Cc, target: DynamicLabel) {
        let here = self.ops.offset().0 as i64;
        let near = match self.ops.label_offset(target) {
            Some(at) => (-(1 << 20)..(1 << 20)).contains(&(at as i64 - here)),
            None => false,
        };
        let ops = &mut self.ops;
        if near {
            macro_rules! emit {
                ($c:ident) => {
                    a64!(ops ; b.$c =>target)
                };
            }
            for_cc!(cc, emit);
        } else {
            let skip = ops.new_label();
            macro_rules! emit {
                ($c:ident) => {
                    a64!(ops ; b.$c =>skip ; b =>target ; =>skip)
                };
            }
            for_cc!(cc.invert(), emit);
        }
    }
}

impl MacroAssembler for A64Masm {
    type Label = DynamicLabel;

    fn new_label(&mut self) -> DynamicLabel {
        self.ops.new_label()
    }

    fn bind(&mut self, label: DynamicLabel) {
        a64!(self.ops ; =>label);
    }

    fn offset(&self) -> usize {
        self.ops.offset().0
    }

    fn reserve(&mut self, bytes: usize) {
        self.ops.reserve(bytes);
    }

    // ---- function structure ----

    fn prologue(&mut self, call_depth: i32) {
        abi::prologue(&mut self.ops);
        self.mem(Mem::LdrX, DEPTH, CTX, i64::from(call_depth), TMP0);
    }

    fn epilogue(&mut self, status: Gpr) {
        abi::epilogue(&mut self.ops, gpr(status));
    }

    // ---- frame slots and constants ----

    fn load_slot(&mut self, dst: Gpr, bank: Bank, slot: u32) {
        self.slot_mem(Mem::LdrX, gpr(dst), bank, slot);
    }

    fn store_slot(&mut self, bank: Bank, slot: u32, src: Gpr) {
        self.slot_mem(Mem::StrX, gpr(src), bank, slot);
    }

    fn load_fslot(&mut self, dst: Fpr, slot: u32) {
        self.slot_mem(Mem::LdrD, fpr(dst), Bank::F, slot);
    }

    fn store_fslot(&mut self, slot: u32, src: Fpr) {
        self.slot_mem(Mem::StrD, fpr(src), Bank::F, slot);
    }

    fn zero_slots(&mut self, bank: Bank, first: u32, count: u32) {
        if count == 0 {
            return;
        }
        let base = bank_base(bank);
        let start = slot_offset(first.into());
        let end = start + slot_offset(count.into());
        let pairs = count / 2;
        if count == 1 {
            self.mem(Mem::StrX, ZR, base, start, TMP0);
        } else if count <= 16 {
            // Unrolled `stp xzr, xzr` (signed 7-bit scaled offset: up to
            // 504) from the base, or from x16 = the first slot's address.
            let (reg, off0) = if end <= 512 {
                (base, start)
            } else {
                self.add_imm(TMP0, base, start, TMP0);
                (TMP0, 0)
            };
            for k in 0..i64::from(pairs) {
                let off = (off0 + 16 * k) as i32;
                a64!(self.ops ; stp xzr, xzr, [XSP(reg), off]);
            }
            if count % 2 == 1 {
                let off = (off0 + 16 * i64::from(pairs)) as u32;
                a64!(self.ops ; str xzr, [XSP(reg), off]);
            }
        } else {
            // x16 walks the slots eight at a time (64 bytes: four pairs
            // a round, so the loop's own instructions do not halve the
            // store rate of a large frame's clearing), x17 counts the
            // rounds (at least 2: count > 16); then the last pairs and
            // slot.
            self.add_imm(TMP0, base, start, TMP0);
            self.load_imm_raw(TMP1, u64::from(pairs / 4));
            let zero_loop = self.ops.new_label();
            a64!(self.ops
                ; =>zero_loop
                ; stp xzr, xzr, [x16, #16]
                ; stp xzr, xzr, [x16, #32]
                ; stp xzr, xzr, [x16, #48]
                ; stp xzr, xzr, [x16], #64
                ; subs x17, x17, #1
                ; b.ne =>zero_loop
            );
            for k in 0..(pairs % 4) as i32 {
                let off = 16 * k;
                a64!(self.ops ; stp xzr, xzr, [x16, off]);
            }
            if count % 2 == 1 {
                let off = 16 * (pairs % 4);
                a64!(self.ops ; str xzr, [x16, off]);
            }
        }
    }

    fn slot_addr(&mut self, dst: Gpr, bank: Bank, slot: u32) {
        let d = gpr(dst);
        self.add_imm(d, bank_base(bank), slot_offset(slot.into()), d);
    }

    fn load_imm(&mut self, dst: Gpr, value: i64) {
        self.load_imm_raw(gpr(dst), value as u64);
    }

    fn load_fimm(&mut self, dst: Fpr, bits: u64) {
        let d = fpr(dst);
        let value = f64::from_bits(bits);
        let narrow = value as f32;
        if bits == 0 {
            a64!(self.ops ; fmov D(d), xzr);
        } else if value.is_finite()
            && f64::from(narrow).to_bits() == bits
            && encode_floating_point_immediate(narrow).is_some()
        {
            a64!(self.ops ; fmov D(d), narrow);
        } else {
            self.load_imm_raw(TMP0, bits);
            a64!(self.ops ; fmov D(d), X(TMP0));
        }
    }

    fn mov(&mut self, dst: Gpr, src: Gpr) {
        self.mov_reg(gpr(dst), gpr(src));
    }

    fn call_depth(&mut self, dst: Gpr, delta: i32) {
        self.add_imm(gpr(dst), DEPTH, i64::from(delta), TMP0);
    }

    // ---- integer arithmetic ----

    fn alu(&mut self, op: AluOp, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        let (d, l, r) = (gpr(dst), gpr(lhs), gpr(rhs));
        let ops = &mut self.ops;
        match op {
            AluOp::Add => a64!(ops ; add X(d), X(l), X(r)),
            AluOp::Sub => a64!(ops ; sub X(d), X(l), X(r)),
            AluOp::Mul => a64!(ops ; mul X(d), X(l), X(r)),
            AluOp::And => a64!(ops ; and X(d), X(l), X(r)),
            AluOp::Or => a64!(ops ; orr X(d), X(l), X(r)),
            AluOp::Xor => a64!(ops ; eor X(d), X(l), X(r)),
            // The register shifts take the count modulo 64.
            AluOp::Shl => a64!(ops ; lsl X(d), X(l), X(r)),
            AluOp::Sar => a64!(ops ; asr X(d), X(l), X(r)),
            AluOp::Shr => a64!(ops ; lsr X(d), X(l), X(r)),
            // `ror` takes the count modulo 64; left by n is right by -n.
            AluOp::Rotr => a64!(ops ; ror X(d), X(l), X(r)),
            AluOp::Rotl => a64!(ops
                ; neg X(TMP0), X(r)
                ; ror X(d), X(l), X(TMP0)
            ),
        }
    }

    fn alu_imm(&mut self, op: AluOp, dst: Gpr, lhs: Gpr, imm: i32) {
        let (d, l) = (gpr(dst), gpr(lhs));
        let v = i64::from(imm);
        match op {
            AluOp::Add => self.add_imm(d, l, v, TMP0),
            AluOp::Sub => self.add_imm(d, l, -v, TMP0),
            AluOp::Mul => {
                self.load_imm_raw(TMP0, v as u64);
                a64!(self.ops ; mul X(d), X(l), X(TMP0));
            }
            AluOp::And | AluOp::Or | AluOp::Xor => {
                let bits = v as u64;
                match (op, v) {
                    (AluOp::And, -1) | (AluOp::Or | AluOp::Xor, 0) => self.mov_reg(d, l),
                    (AluOp::And, 0) => self.load_imm_raw(d, 0),
                    (AluOp::Or, -1) => self.load_imm_raw(d, u64::MAX),
                    (AluOp::Xor, -1) => a64!(self.ops ; mvn X(d), X(l)),
                    _ if encode_logical_immediate_64bit(bits).is_some() => {
                        let ops = &mut self.ops;
                        match op {
                            AluOp::And => a64!(ops ; and XSP(d), X(l), bits),
                            AluOp::Or => a64!(ops ; orr XSP(d), X(l), bits),
                            _ => a64!(ops ; eor XSP(d), X(l), bits),
                        }
                    }
                    _ => {
                        self.load_imm_raw(TMP0, bits);
                        let ops = &mut self.ops;
                        match op {
                            AluOp::And => a64!(ops ; and X(d), X(l), X(TMP0)),
                            AluOp::Or => a64!(ops ; orr X(d), X(l), X(TMP0)),
                            _ => a64!(ops ; eor X(d), X(l), X(TMP0)),
                        }
                    }
                }
            }
            AluOp::Rotl | AluOp::Rotr => {
                let n = (imm & 63) as u32;
                let right = if op == AluOp::Rotr { n } else { (64 - n) & 63 };
                if right == 0 {
                    self.mov_reg(d, l);
                } else {
                    a64!(self.ops ; ror X(d), X(l), right);
                }
            }
            AluOp::Shl | AluOp::Sar | AluOp::Shr => {
                let n = (imm & 63) as u32;
                if n == 0 {
                    self.mov_reg(d, l);
                    return;
                }
                let ops = &mut self.ops;
                match op {
                    AluOp::Shl => a64!(ops ; lsl X(d), X(l), n),
                    AluOp::Sar => a64!(ops ; asr X(d), X(l), n),
                    _ => a64!(ops ; lsr X(d), X(l), n),
                }
            }
        }
    }

    fn neg(&mut self, dst: Gpr, src: Gpr) {
        a64!(self.ops ; neg X(gpr(dst)), X(gpr(src)));
    }

    fn not(&mut self, dst: Gpr, src: Gpr) {
        a64!(self.ops ; mvn X(gpr(dst)), X(gpr(src)));
    }

    fn sdiv(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr, overflow: DynamicLabel) {
        // `sdiv` wraps i64::MIN / -1 to i64::MIN; the bytecode traps. With
        // divisor -1, compare the dividend with 1: that overflows (V) only
        // for i64::MIN. Any other divisor sets no flag.
        let (d, l, r) = (gpr(dst), gpr(lhs), gpr(rhs));
        a64!(self.ops
            ; cmn XSP(r), 1
            ; ccmp X(l), 1, 0, eq
        );
        self.bcond(Cc::Vs, overflow);
        a64!(self.ops ; sdiv X(d), X(l), X(r));
    }

    fn mul_high(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        a64!(self.ops ; smulh X(gpr(dst)), X(gpr(lhs)), X(gpr(rhs)));
    }

    fn srem(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        // i64::MIN % -1 needs no check: `sdiv` wraps the quotient to
        // i64::MIN and `msub` gives i64::MIN - i64::MIN * -1 = 0.
        // The quotient goes to x16, so `dst` may alias either operand:
        // `msub` reads all its sources before writing.
        let (d, l, r) = (gpr(dst), gpr(lhs), gpr(rhs));
        a64!(self.ops
            ; sdiv X(TMP0), X(l), X(r)
            ; msub X(d), X(TMP0), X(r), X(l)
        );
    }

    fn udiv(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        a64!(self.ops ; udiv X(gpr(dst)), X(gpr(lhs)), X(gpr(rhs)));
    }

    fn urem(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        // As `srem`: the quotient in x16, so `dst` may alias an operand.
        let (d, l, r) = (gpr(dst), gpr(lhs), gpr(rhs));
        a64!(self.ops
            ; udiv X(TMP0), X(l), X(r)
            ; msub X(d), X(TMP0), X(r), X(l)
        );
    }

    fn bit_count(&mut self, op: BitCount, dst: Gpr, src: Gpr) {
        let (d, s) = (gpr(dst), gpr(src));
        match op {
            // No scalar popcount before FEAT_CSSC: count the bits of each
            // byte in a vector register and add the bytes.
            BitCount::Popcnt => a64!(self.ops
                ; fmov D(FTMP0), X(s)
                ; cnt V(FTMP0).B8, V(FTMP0).B8
                ; addv B(FTMP0), V(FTMP0).B8
                ; fmov X(d), D(FTMP0)
            ),
            BitCount::Clz => a64!(self.ops ; clz X(d), X(s)),
            BitCount::Ctz => a64!(self.ops
                ; rbit X(d), X(s)
                ; clz X(d), X(d)
            ),
        }
    }

    fn extend(&mut self, ext: Extension, dst: Gpr, src: Gpr) {
        let (d, s) = (gpr(dst), gpr(src));
        match ext {
            Extension::S8 => a64!(self.ops ; sxtb X(d), W(s)),
            Extension::S16 => a64!(self.ops ; sxth X(d), W(s)),
            Extension::S32 => a64!(self.ops ; sxtw X(d), W(s)),
            Extension::U8 => a64!(self.ops ; uxtb W(d), W(s)),
            Extension::U16 => a64!(self.ops ; uxth W(d), W(s)),
            // A 32-bit move clears the upper half, even onto itself.
            Extension::U32 => a64!(self.ops ; mov W(d), W(s)),
        }
    }

    fn select(&mut self, cond: Cond, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        let (d, l, r) = (gpr(dst), gpr(lhs), gpr(rhs));
        a64!(self.ops ; cmp X(l), X(r));
        let ops = &mut self.ops;
        macro_rules! emit {
            ($c:ident) => {
                a64!(ops ; csel X(d), X(l), X(r), $c)
            };
        }
        for_cc!(Cc::int(cond), emit);
    }

    fn move_if_nonzero(&mut self, dst: Gpr, src: Gpr, test: Gpr) {
        let (d, s, t) = (gpr(dst), gpr(src), gpr(test));
        a64!(self.ops
            ; cmp XSP(t), 0
            ; csel X(d), X(s), X(d), ne
        );
    }

    // ---- integer compares and branches ----

    fn set_cond(&mut self, cond: Cond, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        a64!(self.ops ; cmp X(gpr(lhs)), X(gpr(rhs)));
        self.cset(gpr(dst), Cc::int(cond));
    }

    fn set_cond_imm(&mut self, cond: Cond, dst: Gpr, lhs: Gpr, imm: i32) {
        self.cmp_imm(gpr(lhs), imm);
        self.cset(gpr(dst), Cc::int(cond));
    }

    fn branch(&mut self, cond: Cond, lhs: Gpr, rhs: Gpr, target: DynamicLabel) {
        a64!(self.ops ; cmp X(gpr(lhs)), X(gpr(rhs)));
        self.bcond(Cc::int(cond), target);
    }

    fn branch_imm(&mut self, cond: Cond, lhs: Gpr, imm: i32, target: DynamicLabel) {
        self.cmp_imm(gpr(lhs), imm);
        self.bcond(Cc::int(cond), target);
    }

    fn jump(&mut self, target: DynamicLabel) {
        a64!(self.ops ; b =>target);
    }

    fn jump_table(&mut self, index: Gpr, targets: &[DynamicLabel], default: DynamicLabel) {
        let i = gpr(index);
        if targets.is_empty() {
            self.jump(default);
            return;
        }
        // Unsigned: a negative index is a huge one.
        match i32::try_from(targets.len()) {
            Ok(n) => self.cmp_imm(i, n),
            Err(_) => {
                self.load_imm_raw(TMP0, targets.len() as u64);
                a64!(self.ops ; cmp X(i), X(TMP0));
            }
        }
        self.bcond(Cc::Hs, default);
        // Entries are offsets from the table, which follows the jump.
        let table = self.ops.new_label();
        a64!(self.ops
            ; adr X(TMP0), =>table
            ; ldrsw X(TMP1), [XSP(TMP0), X(i), lsl 2]
            ; add X(TMP0), X(TMP0), X(TMP1)
            ; br X(TMP0)
            ; =>table
        );
        let base = self.ops.offset().0;
        self.ops.label_offsets(base, targets);
    }

    // ---- f64 ----

    fn fp_op(&mut self, op: FpOp, dst: Fpr, lhs: Fpr, rhs: Fpr) {
        let (d, l, r) = (fpr(dst), fpr(lhs), fpr(rhs));
        let ops = &mut self.ops;
        match op {
            FpOp::Add => a64!(ops ; fadd D(d), D(l), D(r)),
            FpOp::Sub => a64!(ops ; fsub D(d), D(l), D(r)),
            FpOp::Mul => a64!(ops ; fmul D(d), D(l), D(r)),
            FpOp::Div => a64!(ops ; fdiv D(d), D(l), D(r)),
        }
    }

    fn fp_unary(&mut self, op: FpUnary, dst: Fpr, src: Fpr) {
        let (d, s) = (fpr(dst), fpr(src));
        let ops = &mut self.ops;
        match op {
            FpUnary::Neg => a64!(ops ; fneg D(d), D(s)),
            FpUnary::Abs => a64!(ops ; fabs D(d), D(s)),
            FpUnary::Sqrt => a64!(ops ; fsqrt D(d), D(s)),
            FpUnary::Floor => a64!(ops ; frintm D(d), D(s)),
            FpUnary::Ceil => a64!(ops ; frintp D(d), D(s)),
            FpUnary::Trunc => a64!(ops ; frintz D(d), D(s)),
            FpUnary::Round => a64!(ops ; frintn D(d), D(s)),
            FpUnary::Copy if d == s => {}
            FpUnary::Copy => a64!(ops ; fmov D(d), D(s)),
        }
    }

    fn fp_fma(&mut self, dst: Fpr, acc: Fpr, lhs: Fpr, rhs: Fpr) {
        let (d, a, l, r) = (fpr(dst), fpr(acc), fpr(lhs), fpr(rhs));
        // Both forms, then the unfused one if the fused one is a NaN
        // (unordered with itself: V set), without a branch.
        a64!(self.ops
            ; fmadd D(FTMP0), D(l), D(r), D(a)
            ; fmul D(FTMP1), D(l), D(r)
            ; fadd D(FTMP1), D(FTMP1), D(a)
            ; fcmp D(FTMP0), D(FTMP0)
            ; fcsel D(d), D(FTMP1), D(FTMP0), vs
        );
    }

    fn fp_min_max(&mut self, max: bool, dst: Fpr, lhs: Fpr, rhs: Fpr) {
        // IEEE 754-2019 minimum and maximum, -0.0 below +0.0; a NaN
        // operand gives what `fadd` gives (both process NaNs alike).
        let (d, l, r) = (fpr(dst), fpr(lhs), fpr(rhs));
        if max {
            a64!(self.ops ; fmax D(d), D(l), D(r));
        } else {
            a64!(self.ops ; fmin D(d), D(l), D(r));
        }
    }

    fn fp_copysign(&mut self, dst: Fpr, mag: Fpr, sign: Fpr) {
        let (d, m, s) = (fpr(dst), fpr(mag), fpr(sign));
        a64!(self.ops
            ; fmov X(TMP0), D(m)
            ; fmov X(TMP1), D(s)
            ; lsr X(TMP1), X(TMP1), 63
            ; bfi X(TMP0), X(TMP1), 63, 1
            ; fmov D(d), X(TMP0)
        );
    }

    fn fp_set_cond(&mut self, cmp: Cmp, dst: Gpr, lhs: Fpr, rhs: Fpr) {
        a64!(self.ops ; fcmp D(fpr(lhs)), D(fpr(rhs)));
        self.cset(gpr(dst), Cc::float(cmp));
    }

    fn fp_branch(&mut self, cmp: Cmp, lhs: Fpr, rhs: Fpr, target: DynamicLabel) {
        a64!(self.ops ; fcmp D(fpr(lhs)), D(fpr(rhs)));
        self.bcond(Cc::float(cmp), target);
    }

    fn i2f(&mut self, dst: Fpr, src: Gpr) {
        a64!(self.ops ; scvtf D(fpr(dst)), X(gpr(src)));
    }

    fn f2i(&mut self, dst: Gpr, src: Fpr) {
        // Saturates, and NaN gives 0: exactly Rust's `as`.
        a64!(self.ops ; fcvtzs X(gpr(dst)), D(fpr(src)));
    }

    // ---- memory through a register ----

    fn load_mem(&mut self, dst: Gpr, base: Gpr, offset: i32) {
        self.mem(Mem::LdrX, gpr(dst), gpr(base), i64::from(offset), TMP0);
    }

    fn store_mem(&mut self, base: Gpr, offset: i32, src: Gpr) {
        self.mem(Mem::StrX, gpr(src), gpr(base), i64::from(offset), TMP0);
    }

    fn load_mem_u32(&mut self, dst: Gpr, base: Gpr, offset: i32) {
        self.mem(Mem::LdrW, gpr(dst), gpr(base), i64::from(offset), TMP0);
    }

    fn load_mem_u8(&mut self, dst: Gpr, base: Gpr, offset: i32) {
        self.mem(Mem::LdrB, gpr(dst), gpr(base), i64::from(offset), TMP0);
    }

    fn load_indexed(&mut self, dst: Gpr, base: Gpr, index: Gpr, offset: i32) {
        self.indexed_mem(Mem::LdrX, gpr(dst), gpr(base), gpr(index), offset);
    }

    fn store_indexed(&mut self, base: Gpr, index: Gpr, offset: i32, src: Gpr) {
        self.indexed_mem(Mem::StrX, gpr(src), gpr(base), gpr(index), offset);
    }

    fn load_indexed_u8(&mut self, dst: Gpr, base: Gpr, index: Gpr, offset: i32) {
        self.indexed_mem(Mem::LdrB, gpr(dst), gpr(base), gpr(index), offset);
    }

    fn store_indexed_u8(&mut self, base: Gpr, index: Gpr, offset: i32, src: Gpr) {
        self.indexed_mem(Mem::StrB, gpr(src), gpr(base), gpr(index), offset);
    }

    fn load_findexed(&mut self, dst: Fpr, base: Gpr, index: Gpr, offset: i32) {
        self.indexed_mem(Mem::LdrD, fpr(dst), gpr(base), gpr(index), offset);
    }

    fn store_findexed(&mut self, base: Gpr, index: Gpr, offset: i32, src: Fpr) {
        self.indexed_mem(Mem::StrD, fpr(src), gpr(base), gpr(index), offset);
    }

    fn load_ctx(&mut self, dst: Gpr, offset: i32) {
        self.mem(Mem::LdrX, gpr(dst), CTX, i64::from(offset), TMP0);
    }

    fn store_ctx(&mut self, offset: i32, src: Gpr) {
        self.mem(Mem::StrX, gpr(src), CTX, i64::from(offset), TMP0);
    }

    fn store_ctx_u32(&mut self, offset: i32, value: u32) {
        let src = if value == 0 {
            ZR
        } else {
            self.load_imm_raw(TMP1, u64::from(value));
            TMP1
        };
        self.mem(Mem::StrW, src, CTX, i64::from(offset), TMP0);
    }

    fn store_ctx_reg_u32(&mut self, offset: i32, src: Gpr) {
        self.mem(Mem::StrW, gpr(src), CTX, i64::from(offset), TMP0);
    }

    fn branch_stack_below(&mut self, offset: i32, target: DynamicLabel) {
        a64!(self.ops ; mov x16, sp);
        self.mem(Mem::LdrX, TMP1, CTX, i64::from(offset), TMP1);
        a64!(self.ops ; cmp x16, x17);
        self.bcond(Cc::Lo, target);
    }

    fn branch_flag_set(&mut self, offset: i32, target: DynamicLabel) {
        self.mem(Mem::LdrX, TMP0, CTX, i64::from(offset), TMP0);
        self.mem(Mem::LdrB, TMP0, TMP0, 0, TMP0);
        self.cmp_imm(TMP0, 0);
        self.bcond(Cc::Ne, target);
    }

    // ---- calls ----

    fn call_native(&mut self, entry: Gpr, frame: [u32; 3]) {
        // The entry moves to x16 first: the argument registers are then
        // free to be written in any order (the scratch registers are not
        // argument registers anyway).
        self.mov_reg(TMP0, gpr(entry));
        self.mov_reg(ARG_REGS[0], CTX);
        for (k, base) in [I_BASE, F_BASE, R_BASE].into_iter().enumerate() {
            let rd = ARG_REGS[k + 1];
            self.add_imm(rd, base, slot_offset(frame[k].into()), rd);
        }
        a64!(self.ops
            ; blr x16
            ; mov W(gpr(Gpr::T0)), W(RET_REG)
        );
    }

    fn call_helper(&mut self, addr: usize, args: &[HelperArg]) {
        if args.len() > MAX_HELPER_ARGS {
            self.fail(AsmError::TooManyHelperArguments(args.len()));
            return;
        }
        // The sources (x9..x11, x19..x22, constants) are never argument
        // registers, so writing x0..x5 in order clobbers nothing still
        // needed, whatever the permutation.
        for (&arg, &rd) in args.iter().zip(ARG_REGS.iter()) {
            match arg {
                HelperArg::Ctx => self.mov_reg(rd, CTX),
                HelperArg::Reg(g) => self.mov_reg(rd, gpr(g)),
                HelperArg::Imm(v) => self.load_imm_raw(rd, v as u64),
                HelperArg::SlotAddr(bank, slot) => {
                    self.add_imm(rd, bank_base(bank), slot_offset(slot.into()), rd)
                }
            }
        }
        self.load_imm_raw(TMP0, addr as u64);
        a64!(self.ops
            ; blr x16
            ; mov X(gpr(Gpr::T0)), X(RET_REG)
        );
    }

    fn data(&self) -> &[std::ops::Range<usize>] {
        self.ops.data()
    }

    fn clear(&mut self) {
        self.ops.clear();
        self.error = None;
    }

    fn finish(&mut self) -> Result<&[u8], AsmError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.ops.finish()
    }
}
