//! The macro-assembler: the small, ISA-neutral instruction set that the
//! per-op templates (`emit/`) are written against, once. Each ISA
//! (`isa/x64`, `isa/aarch64`) implements it over dynasm-rs; which machine
//! register plays which role is in each ISA's `regs.rs`, the frame in its
//! `abi.rs`.
//!
//! Conventions every implementation keeps:
//! - Five callee-saved registers are pinned for the whole function: the i64,
//!   f64 and reference frame bases, the context and this activation's call
//!   depth. [`MacroAssembler::prologue`] sets them from the native entry's
//!   arguments `(ctx, i_base, f_base, r_base)` and the context's call depth.
//!   Keeping the depth in a register spares every call a read-modify-write
//!   of the context, which chained each call to the previous one through
//!   store-to-load forwarding.
//! - [`Gpr`] and [`Fpr`] name scratch registers. They are caller-saved: a
//!   helper call or a native call clobbers all of them. The templates may
//!   keep a value in one from op to op, but only as a write-through copy of
//!   a frame slot (the slots stay the truth between ops; see `emit/`'s f64
//!   cache and carried i64 result).
//! - Implementations may use further private temporaries inside one
//!   method, never across methods.
//! - Immediates (`i32`) are sign-extended to 64 bits before any comparison,
//!   the unsigned ones included.
//! - Any slot index (0..65535), any offset and any immediate is accepted:
//!   forms that do not fit an instruction's immediate are synthesised.
//! - No method panics, whatever its arguments.

pub use crate::bytecode::op::{BitCount, Extension};
use crate::bytecode::{Bank, Cmp};
pub use crate::lowering::AluOp;

/// A scratch integer register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gpr {
    /// Scratch 0; also where helper and native-call results arrive.
    T0,
    /// Scratch 1.
    T1,
    /// Scratch 2.
    T2,
}

/// A scratch floating-point register. There are more of them than of
/// [`Gpr`]: the templates keep f64 slots in them from op to op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fpr {
    /// Scratch 0.
    F0,
    /// Scratch 1.
    F1,
    /// Scratch 2.
    F2,
    /// Scratch 3.
    F3,
    /// Scratch 4.
    F4,
    /// Scratch 5.
    F5,
    /// Scratch 6.
    F6,
    /// Scratch 7.
    F7,
}

/// A condition on two integers: signed and unsigned orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Signed less.
    Lt,
    /// Signed less or equal.
    Le,
    /// Signed greater.
    Gt,
    /// Signed greater or equal.
    Ge,
    /// Unsigned less.
    Ult,
    /// Unsigned less or equal.
    Ule,
    /// Unsigned greater.
    Ugt,
    /// Unsigned greater or equal.
    Uge,
}

impl Cond {
    /// Every condition, for tests.
    pub const ALL: [Cond; 10] = [
        Cond::Eq,
        Cond::Ne,
        Cond::Lt,
        Cond::Le,
        Cond::Gt,
        Cond::Ge,
        Cond::Ult,
        Cond::Ule,
        Cond::Ugt,
        Cond::Uge,
    ];

    /// The signed condition of a bytecode comparison.
    pub fn signed(cmp: Cmp) -> Cond {
        match cmp {
            Cmp::Eq => Cond::Eq,
            Cmp::Ne => Cond::Ne,
            Cmp::Lt => Cond::Lt,
            Cmp::Le => Cond::Le,
            Cmp::Gt => Cond::Gt,
            Cmp::Ge => Cond::Ge,
        }
    }

    /// The unsigned condition of a bytecode comparison (`Eq` and `Ne` are
    /// the same either way).
    pub fn unsigned(cmp: Cmp) -> Cond {
        match cmp {
            Cmp::Eq => Cond::Eq,
            Cmp::Ne => Cond::Ne,
            Cmp::Lt => Cond::Ult,
            Cmp::Le => Cond::Ule,
            Cmp::Gt => Cond::Ugt,
            Cmp::Ge => Cond::Uge,
        }
    }
}

/// A two-operand f64 operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FpOp {
    /// Addition.
    Add,
    /// Subtraction.
    Sub,
    /// Multiplication.
    Mul,
    /// Division.
    Div,
}

/// A one-operand f64 operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FpUnary {
    /// Flip the sign bit (NaNs too).
    Neg,
    /// Clear the sign bit (NaNs too).
    Abs,
    /// Square root.
    Sqrt,
    /// Round toward negative infinity.
    Floor,
    /// Round toward positive infinity.
    Ceil,
    /// Round toward zero.
    Trunc,
    /// Round to nearest, ties to even.
    Round,
    /// Copy the bits (a register move; none when `dst` is `src`).
    Copy,
}

impl Gpr {
    /// Every value, for tests.
    pub const ALL: [Gpr; 3] = [Gpr::T0, Gpr::T1, Gpr::T2];
}

impl Fpr {
    /// Every value, in order.
    pub const ALL: [Fpr; 8] = [
        Fpr::F0,
        Fpr::F1,
        Fpr::F2,
        Fpr::F3,
        Fpr::F4,
        Fpr::F5,
        Fpr::F6,
        Fpr::F7,
    ];
}

impl FpOp {
    /// Every value, for tests.
    pub const ALL: [FpOp; 4] = [FpOp::Add, FpOp::Sub, FpOp::Mul, FpOp::Div];
}

impl FpUnary {
    /// Every value, for tests.
    pub const ALL: [FpUnary; 8] = [
        FpUnary::Neg,
        FpUnary::Abs,
        FpUnary::Sqrt,
        FpUnary::Floor,
        FpUnary::Copy,
        FpUnary::Ceil,
        FpUnary::Trunc,
        FpUnary::Round,
    ];

    /// Whether it rounds to an integral value (x86-64: `roundsd`, SSE4.1).
    pub fn is_rounding(self) -> bool {
        matches!(
            self,
            FpUnary::Floor | FpUnary::Ceil | FpUnary::Trunc | FpUnary::Round
        )
    }
}

/// An argument of a helper call, in the platform's integer argument
/// registers, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelperArg {
    /// The context pointer.
    Ctx,
    /// A scratch register's value.
    Reg(Gpr),
    /// A constant.
    Imm(i64),
    /// The address of a frame slot: `base_bank + 8 * slot`.
    SlotAddr(Bank, u32),
}

/// At most this many arguments to a helper.
pub const MAX_HELPER_ARGS: usize = 6;

/// Why a macro-assembler could not finish its code. A method that cannot
/// emit what it is asked records the first such error and emits nothing
/// more of its own; [`MacroAssembler::finish`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AsmError {
    /// A label was branched to but never bound.
    #[error("label {0} is never bound")]
    UnboundLabel(usize),
    /// A label was bound at two places.
    #[error("label {0} is bound twice")]
    LabelBoundTwice(usize),
    /// A branch cannot reach its label.
    #[error("label {0} is out of the branch's range")]
    OutOfRange(usize),
    /// A label reference points outside the code (a label of another
    /// assembler).
    #[error("a label reference lies outside the code")]
    ReferenceOutsideCode,
    /// A short forward jump inside one method is longer than its field.
    #[error("a short jump of {0} bytes")]
    ShortJumpTooFar(usize),
    /// A value relocation does not fit its field.
    #[error("value {0} does not fit its field")]
    ValueTooLarge(usize),
    /// A named (not dynamic) label, which the assemblers do not use.
    #[error("named label {0}: only dynamic labels are supported")]
    NamedLabel(&'static str),
    /// A helper call with more arguments than [`MAX_HELPER_ARGS`].
    #[error("call_helper with {0} arguments (at most {MAX_HELPER_ARGS})")]
    TooManyHelperArguments(usize),
    /// A helper call's argument moves need more temporaries than exist.
    #[error("call_helper: argument moves need too many temporaries")]
    HelperArgumentMoves,
}

/// The macro-assembler. See the module docs for the conventions.
pub trait MacroAssembler {
    /// A position in the code, bound once, referenced any number of times
    /// before or after.
    type Label: Copy;

    /// A fresh, unbound label.
    fn new_label(&mut self) -> Self::Label;
    /// Bind `label` to the current position.
    fn bind(&mut self, label: Self::Label);
    /// Bytes emitted so far.
    fn offset(&self) -> usize;
    /// Expect about `bytes` more bytes of code (a capacity hint).
    fn reserve(&mut self, bytes: usize);

    // ---- function structure ----

    /// Save the callee-saved registers the function uses, keep the stack
    /// aligned for calls, and load the pinned registers from the native
    /// entry's arguments `(ctx, i_base, f_base, r_base)` and the call depth
    /// from `ctx + call_depth`.
    fn prologue(&mut self, call_depth: i32);
    /// Return `status` (as `u32`) to the caller, restoring what the prologue
    /// saved.
    fn epilogue(&mut self, status: Gpr);

    // ---- frame slots and constants ----

    /// `dst = slot` of `bank` (any bank: f64 slots load as their bits).
    fn load_slot(&mut self, dst: Gpr, bank: Bank, slot: u32);
    /// `slot` of `bank` = `src`.
    fn store_slot(&mut self, bank: Bank, slot: u32, src: Gpr);
    /// `dst` = f64 slot.
    fn load_fslot(&mut self, dst: Fpr, slot: u32);
    /// f64 slot = `src`.
    fn store_fslot(&mut self, slot: u32, src: Fpr);
    /// Store zero into `count` consecutive slots of `bank` from `first`.
    fn zero_slots(&mut self, bank: Bank, first: u32, count: u32);
    /// `dst = base_bank + 8 * slot` (an address).
    fn slot_addr(&mut self, dst: Gpr, bank: Bank, slot: u32);
    /// `dst = value`.
    fn load_imm(&mut self, dst: Gpr, value: i64);
    /// `dst = f64::from_bits(bits)`.
    fn load_fimm(&mut self, dst: Fpr, bits: u64);
    /// `dst = src`.
    fn mov(&mut self, dst: Gpr, src: Gpr);
    /// `dst = call depth + delta` (the pinned depth register).
    fn call_depth(&mut self, dst: Gpr, delta: i32);

    // ---- integer arithmetic ----

    /// `dst = lhs op rhs` (wrapping; any of the three may be equal).
    fn alu(&mut self, op: AluOp, dst: Gpr, lhs: Gpr, rhs: Gpr);
    /// `dst = lhs op imm` (wrapping; any `i32`).
    fn alu_imm(&mut self, op: AluOp, dst: Gpr, lhs: Gpr, imm: i32);
    /// `dst = -src` (wrapping).
    fn neg(&mut self, dst: Gpr, src: Gpr);
    /// `dst = !src`.
    fn not(&mut self, dst: Gpr, src: Gpr);
    /// `dst = lhs / rhs`, truncating; `i64::MIN / -1` jumps to `overflow`
    /// instead (x86 would fault, aarch64 wrap). The template guarantees
    /// `rhs != 0`.
    fn sdiv(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr, overflow: Self::Label);
    /// `dst = lhs % rhs` (sign of `lhs`); `i64::MIN % -1` is 0. The
    /// template guarantees `rhs != 0`.
    fn srem(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr);
    /// `dst` = the high 64 bits of the signed 128-bit product `lhs * rhs`
    /// (division by a constant multiplies by its reciprocal).
    fn mul_high(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr);
    /// `dst = lhs / rhs` as `u64`. The template guarantees `rhs != 0`.
    fn udiv(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr);
    /// `dst = lhs % rhs` as `u64`. The template guarantees `rhs != 0`.
    fn urem(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr);
    /// `dst = op(src)`: population count, leading or trailing zeros (64
    /// for 0), whatever the CPU's features.
    fn bit_count(&mut self, op: BitCount, dst: Gpr, src: Gpr);
    /// `dst` = the low 8, 16 or 32 bits of `src`, sign- or zero-extended.
    fn extend(&mut self, ext: Extension, dst: Gpr, src: Gpr);
    /// `dst = if lhs cond rhs { lhs } else { rhs }`, without a branch
    /// (signed `Lt`: the minimum).
    fn select(&mut self, cond: Cond, dst: Gpr, lhs: Gpr, rhs: Gpr);
    /// `if test != 0 { dst = src }`, without a branch.
    fn move_if_nonzero(&mut self, dst: Gpr, src: Gpr, test: Gpr);

    // ---- integer compares and branches ----

    /// `dst = (lhs cond rhs) as i64` (0 or 1).
    fn set_cond(&mut self, cond: Cond, dst: Gpr, lhs: Gpr, rhs: Gpr);
    /// `dst = (lhs cond imm) as i64`.
    fn set_cond_imm(&mut self, cond: Cond, dst: Gpr, lhs: Gpr, imm: i32);
    /// Jump to `target` if `lhs cond rhs`.
    fn branch(&mut self, cond: Cond, lhs: Gpr, rhs: Gpr, target: Self::Label);
    /// Jump to `target` if `lhs cond imm`.
    fn branch_imm(&mut self, cond: Cond, lhs: Gpr, imm: i32, target: Self::Label);
    /// Jump to `target`.
    fn jump(&mut self, target: Self::Label);
    /// Jump to `targets[index]` if `index` (as `u64`) is below
    /// `targets.len()`, else to `default`: a bounds check, then an indirect
    /// jump through a table of 32-bit offsets (little-endian, each from the
    /// table's start to its label) in the code: right after the jump, or
    /// after all the code (emitted by [`MacroAssembler::finish`]), as the
    /// ISA prefers; [`MacroAssembler::data`] lists it. `index` is left as
    /// it was.
    fn jump_table(&mut self, index: Gpr, targets: &[Self::Label], default: Self::Label);

    // ---- f64 ----

    /// `dst = lhs op rhs` (IEEE; any of the three may be equal).
    fn fp_op(&mut self, op: FpOp, dst: Fpr, lhs: Fpr, rhs: Fpr);
    /// `dst = op src`.
    fn fp_unary(&mut self, op: FpUnary, dst: Fpr, src: Fpr);
    /// `dst = lhs * rhs + acc` rounded once; a NaN result is replaced by
    /// the NaN of `lhs * rhs + acc` rounded twice (`runtime::float::fma`).
    /// Any of the four may be equal.
    fn fp_fma(&mut self, dst: Fpr, acc: Fpr, lhs: Fpr, rhs: Fpr);
    /// `dst` = IEEE 754-2019 `maximum(lhs, rhs)` if `max`, else `minimum`
    /// (-0.0 below +0.0); with a NaN operand, the NaN of `lhs + rhs`
    /// (`runtime::float::{minimum, maximum}`).
    fn fp_min_max(&mut self, max: bool, dst: Fpr, lhs: Fpr, rhs: Fpr);
    /// `dst` = the magnitude of `mag` with the sign of `sign` (bits).
    fn fp_copysign(&mut self, dst: Fpr, mag: Fpr, sign: Fpr);
    /// `dst = (lhs cmp rhs) as i64`: ordered compares with a NaN are false,
    /// `Ne` with a NaN is true.
    fn fp_set_cond(&mut self, cmp: Cmp, dst: Gpr, lhs: Fpr, rhs: Fpr);
    /// Jump to `target` if `lhs cmp rhs` (NaN rules as [`Self::fp_set_cond`]).
    fn fp_branch(&mut self, cmp: Cmp, lhs: Fpr, rhs: Fpr, target: Self::Label);
    /// `dst = src as f64` (round to nearest).
    fn i2f(&mut self, dst: Fpr, src: Gpr);
    /// `dst = src as i64`: saturating, NaN gives 0 (Rust `as`).
    fn f2i(&mut self, dst: Gpr, src: Fpr);

    // ---- memory through a register (heap objects, the context) ----

    /// `dst = *(base + offset) as u64` (8 bytes).
    fn load_mem(&mut self, dst: Gpr, base: Gpr, offset: i32);
    /// `*(base + offset) = src` (8 bytes).
    fn store_mem(&mut self, base: Gpr, offset: i32, src: Gpr);
    /// `dst = *(base + offset) as u32` (4 bytes, zero-extended).
    fn load_mem_u32(&mut self, dst: Gpr, base: Gpr, offset: i32);
    /// `dst = *(base + offset) as u8` (1 byte, zero-extended).
    fn load_mem_u8(&mut self, dst: Gpr, base: Gpr, offset: i32);
    /// `dst = *(base + 8 * index + offset)`.
    fn load_indexed(&mut self, dst: Gpr, base: Gpr, index: Gpr, offset: i32);
    /// `*(base + 8 * index + offset) = src`.
    fn store_indexed(&mut self, base: Gpr, index: Gpr, offset: i32, src: Gpr);
    /// `dst = *(base + index + offset) as u8` (1 byte, zero-extended).
    fn load_indexed_u8(&mut self, dst: Gpr, base: Gpr, index: Gpr, offset: i32);
    /// `*(base + index + offset) = src as u8` (the low byte).
    fn store_indexed_u8(&mut self, base: Gpr, index: Gpr, offset: i32, src: Gpr);
    /// `dst = *(base + 8 * index + offset)` as f64.
    fn load_findexed(&mut self, dst: Fpr, base: Gpr, index: Gpr, offset: i32);
    /// `*(base + 8 * index + offset) = src` (f64).
    fn store_findexed(&mut self, base: Gpr, index: Gpr, offset: i32, src: Fpr);

    /// `dst = *(ctx + offset)` (8 bytes).
    fn load_ctx(&mut self, dst: Gpr, offset: i32);
    /// `*(ctx + offset) = src` (8 bytes).
    fn store_ctx(&mut self, offset: i32, src: Gpr);
    /// `*(ctx + offset) = value` (4 bytes).
    fn store_ctx_u32(&mut self, offset: i32, value: u32);
    /// `*(ctx + offset) = src as u32` (4 bytes).
    fn store_ctx_reg_u32(&mut self, offset: i32, src: Gpr);
    /// Jump to `target` if the native stack pointer is below the address
    /// stored at `ctx + offset`.
    fn branch_stack_below(&mut self, offset: i32, target: Self::Label);
    /// Jump to `target` if the byte at the address stored at `ctx + offset`
    /// is not 0 (the interrupt flag), using no scratch register.
    fn branch_flag_set(&mut self, offset: i32, target: Self::Label);

    // ---- calls ----

    /// Call the native entry at address `entry` with the platform ABI:
    /// `(ctx, i_base + 8*frame[0], f_base + 8*frame[1], r_base + 8*frame[2])`.
    /// The `u32` status comes back in `T0` (zero-extended).
    fn call_native(&mut self, entry: Gpr, frame: [u32; 3]);
    /// Call the `extern "C"` function at `addr` with up to
    /// [`MAX_HELPER_ARGS`] integer arguments; its 64-bit result comes back
    /// in `T0`.
    fn call_helper(&mut self, addr: usize, args: &[HelperArg]);

    /// The byte ranges of the code that hold data (the tables of
    /// [`MacroAssembler::jump_table`]), not instructions, in order: for
    /// disassemblers, complete after [`MacroAssembler::finish`].
    fn data(&self) -> &[std::ops::Range<usize>];

    /// Forget everything emitted: start the next function, reusing the
    /// buffers.
    fn clear(&mut self);
    /// Finish: resolve labels and return the position-independent code,
    /// kept until [`MacroAssembler::clear`].
    fn finish(&mut self) -> Result<&[u8], AsmError>;
}
