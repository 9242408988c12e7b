//! [`X64Masm`]: the [`MacroAssembler`] for x86-64, over dynasm-rs.

use dynasmrt::x64::{Rq, Rx, X64Relocation};
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};

use super::abi::{ARG_REGS, FRAME_PADDING, RET, SAVED, sequence_moves};
use super::regs::{
    ACC, CTX, DEPTH, F_BASE, FTMP, HIGH, I_BASE, R_BASE, SCRATCH_FPRS, SCRATCH_GPRS, T0, TMP, TMP2,
    fpr, gpr,
};
use crate::bytecode::{Bank, Cmp};
use crate::runtime::float;
use crate::runtime::frame::{SLOT_SIZE, slot_offset};
use crate::template::code_buffer::CodeBuffer;
use crate::template::masm::{
    AluOp, AsmError, BitCount, Cond, Extension, FpOp, FpUnary, Fpr, Gpr, HelperArg,
    MAX_HELPER_ARGS, MacroAssembler,
};

/// `dynasm!` for x86-64.
macro_rules! x64 {
    ($ops:expr ; $($t:tt)*) => {
        dynasm!($ops ; .arch x64 ; $($t)*)
    };
}

/// One instruction with the memory operand `[base + disp]` spliced between
/// the token groups `pre` and `post`: no displacement when `disp` is 0 and
/// the base allows it, an 8-bit one when it fits, else 32 bits. `base` is an
/// [`Rq`], `disp` an `i32`.
///
/// With a dynamic base register dynasm must assume the worst (it may be rsp
/// or r12, which need a SIB byte, or rbp or r13, which need a
/// displacement), so the registers used as bases (the pinned ones, the
/// scratch ones, r11) get static arms with the shortest encodings; any other
/// register takes the always-valid dynamic form.
macro_rules! mem {
    ($ops:expr, $base:expr, $disp:expr, [$($pre:tt)*], [$($post:tt)*]) => {{
        let base: Rq = $base;
        let disp: i32 = $disp;
        match (base, i8::try_from(disp)) {
            (Rq::RSI, Ok(0)) => x64!($ops ; $($pre)* [rsi] $($post)*),
            (Rq::RSI, Ok(d8)) => x64!($ops ; $($pre)* [BYTE rsi + d8] $($post)*),
            (Rq::RSI, Err(_)) => x64!($ops ; $($pre)* [DWORD rsi + disp] $($post)*),
            (Rq::RDI, Ok(0)) => x64!($ops ; $($pre)* [rdi] $($post)*),
            (Rq::RDI, Ok(d8)) => x64!($ops ; $($pre)* [BYTE rdi + d8] $($post)*),
            (Rq::RDI, Err(_)) => x64!($ops ; $($pre)* [DWORD rdi + disp] $($post)*),
            (Rq::R8, Ok(0)) => x64!($ops ; $($pre)* [r8] $($post)*),
            (Rq::R8, Ok(d8)) => x64!($ops ; $($pre)* [BYTE r8 + d8] $($post)*),
            (Rq::R8, Err(_)) => x64!($ops ; $($pre)* [DWORD r8 + disp] $($post)*),
            (Rq::R11, Ok(0)) => x64!($ops ; $($pre)* [r11] $($post)*),
            (Rq::R12, Ok(0)) => x64!($ops ; $($pre)* [r12] $($post)*),
            (Rq::R13, Ok(d8)) => x64!($ops ; $($pre)* [BYTE r13 + d8] $($post)*),
            (Rq::R13, Err(_)) => x64!($ops ; $($pre)* [DWORD r13 + disp] $($post)*),
            (Rq::R14, Ok(0)) => x64!($ops ; $($pre)* [r14] $($post)*),
            (Rq::R14, Ok(d8)) => x64!($ops ; $($pre)* [BYTE r14 + d8] $($post)*),
            (Rq::R14, Err(_)) => x64!($ops ; $($pre)* [DWORD r14 + disp] $($post)*),
            (Rq::R15, Ok(0)) => x64!($ops ; $($pre)* [r15] $($post)*),
            (Rq::R15, Ok(d8)) => x64!($ops ; $($pre)* [BYTE r15 + d8] $($post)*),
            (Rq::R15, Err(_)) => x64!($ops ; $($pre)* [DWORD r15 + disp] $($post)*),
            (_, Ok(d8)) => x64!($ops ; $($pre)* [BYTE Rq(base) + d8] $($post)*),
            (_, Err(_)) => x64!($ops ; $($pre)* [DWORD Rq(base) + disp] $($post)*),
        }
    }};
}

/// As [`mem!`] with the operand `[base + scale * index + disp]`, `scale` a
/// literal (1 or 8, the element size).
macro_rules! mem_idx {
    ($ops:expr, $base:expr, $index:expr, $scale:tt, $disp:expr, [$($pre:tt)*], [$($post:tt)*]) => {{
        let base: Rq = $base;
        let index: Rq = $index;
        let disp: i32 = $disp;
        match i8::try_from(disp) {
            Ok(d8) => x64!($ops ; $($pre)* [BYTE Rq(base) + Rq(index) * $scale + d8] $($post)*),
            Err(_) => x64!($ops ; $($pre)* [DWORD Rq(base) + Rq(index) * $scale + disp] $($post)*),
        }
    }};
}

/// `op dst, src` on two xmm registers, with optional trailing operands.
/// dynasm emits a REX prefix for any dynamic register, a redundant byte
/// when both are xmm0..xmm7; the scratch registers get static arms without
/// it, any other pair takes the dynamic form.
macro_rules! sse_rr {
    ($ops:expr, $op:ident, $d:expr, $s:expr $(, $($post:tt)*)?) => {{
        let (d, s): (Rx, Rx) = ($d, $s);
        match (d, s) {
            (Rx::XMM0, Rx::XMM0) => x64!($ops ; $op xmm0, xmm0 $(, $($post)*)?),
            (Rx::XMM0, Rx::XMM1) => x64!($ops ; $op xmm0, xmm1 $(, $($post)*)?),
            (Rx::XMM0, Rx::XMM2) => x64!($ops ; $op xmm0, xmm2 $(, $($post)*)?),
            (Rx::XMM1, Rx::XMM0) => x64!($ops ; $op xmm1, xmm0 $(, $($post)*)?),
            (Rx::XMM1, Rx::XMM1) => x64!($ops ; $op xmm1, xmm1 $(, $($post)*)?),
            (Rx::XMM1, Rx::XMM2) => x64!($ops ; $op xmm1, xmm2 $(, $($post)*)?),
            (Rx::XMM2, Rx::XMM0) => x64!($ops ; $op xmm2, xmm0 $(, $($post)*)?),
            (Rx::XMM2, Rx::XMM1) => x64!($ops ; $op xmm2, xmm1 $(, $($post)*)?),
            (Rx::XMM2, Rx::XMM2) => x64!($ops ; $op xmm2, xmm2 $(, $($post)*)?),
            _ => x64!($ops ; $op Rx(d), Rx(s) $(, $($post)*)?),
        }
    }};
}

/// One instruction with the 32-bit register `r` spliced between `pre` and
/// `post`: static arms for the low registers (no redundant REX prefix), the
/// dynamic form for the others (whose REX prefix is needed anyway).
macro_rules! r32 {
    ($ops:expr, $r:expr, [$($pre:tt)*], [$($post:tt)*]) => {{
        let r: Rq = $r;
        match r {
            Rq::RAX => x64!($ops ; $($pre)* eax $($post)*),
            Rq::RCX => x64!($ops ; $($pre)* ecx $($post)*),
            Rq::RDX => x64!($ops ; $($pre)* edx $($post)*),
            Rq::RSI => x64!($ops ; $($pre)* esi $($post)*),
            Rq::RDI => x64!($ops ; $($pre)* edi $($post)*),
            _ => x64!($ops ; $($pre)* Rd(r) $($post)*),
        }
    }};
}

/// An x86 condition code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cc {
    B,
    Ae,
    E,
    Ne,
    Be,
    A,
    L,
    Ge,
    Le,
    G,
}

impl Cc {
    fn of(cond: Cond) -> Cc {
        match cond {
            Cond::Eq => Cc::E,
            Cond::Ne => Cc::Ne,
            Cond::Lt => Cc::L,
            Cond::Le => Cc::Le,
            Cond::Gt => Cc::G,
            Cond::Ge => Cc::Ge,
            Cond::Ult => Cc::B,
            Cond::Ule => Cc::Be,
            Cond::Ugt => Cc::A,
            Cond::Uge => Cc::Ae,
        }
    }
}

/// The frame base register of a bank.
fn bank_base(bank: Bank) -> Rq {
    match bank {
        Bank::I => I_BASE,
        Bank::F => F_BASE,
        Bank::R => R_BASE,
    }
}

/// `floor` for CPUs without SSE4.1 `roundsd`, on the bits of an f64.
extern "C" fn floor_bits(bits: u64) -> u64 {
    f64::from_bits(bits).floor().to_bits()
}

/// `ceil` for CPUs without SSE4.1 `roundsd`, on the bits of an f64.
extern "C" fn ceil_bits(bits: u64) -> u64 {
    float::ceil(f64::from_bits(bits)).to_bits()
}

/// `trunc` for CPUs without SSE4.1 `roundsd`, on the bits of an f64.
extern "C" fn trunc_bits(bits: u64) -> u64 {
    float::trunc(f64::from_bits(bits)).to_bits()
}

/// Round-to-nearest-even for CPUs without SSE4.1 `roundsd`, on the bits of
/// an f64.
extern "C" fn round_bits(bits: u64) -> u64 {
    float::round_ties_even(f64::from_bits(bits)).to_bits()
}

/// `fma` for CPUs without FMA3, on the bits of f64s: `lhs * rhs + acc`.
extern "C" fn fma_bits(acc: u64, lhs: u64, rhs: u64) -> u64 {
    float::fma(
        f64::from_bits(acc),
        f64::from_bits(lhs),
        f64::from_bits(rhs),
    )
    .to_bits()
}

/// The optional x86-64 instructions the assembler may use. Code for the
/// host uses what the host has ([`X64Features::host`]); listings use a
/// fixed set, so that they do not depend on the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct X64Features {
    /// SSE4.1 `roundsd` for floor, ceil, trunc and round (else a call).
    pub sse41: bool,
    /// `popcnt` (else a bit-twiddling sequence).
    pub popcnt: bool,
    /// `lzcnt` (ABM; else `bsr` and a fix-up for 0).
    pub lzcnt: bool,
    /// BMI1 `tzcnt` (else `bsf` and a fix-up for 0).
    pub bmi1: bool,
    /// FMA3 `vfmadd231sd` (else a call).
    pub fma: bool,
}

impl X64Features {
    /// Every optional instruction: the golden listings' set.
    pub const ALL: X64Features = X64Features {
        sse41: true,
        popcnt: true,
        lzcnt: true,
        bmi1: true,
        fma: true,
    };

    /// None of them: x86-64's baseline (SSE2).
    pub const BASELINE: X64Features = X64Features {
        sse41: false,
        popcnt: false,
        lzcnt: false,
        bmi1: false,
        fma: false,
    };

    /// What the host has. Everything is assumed on other hosts (the code
    /// is never run there).
    pub fn host() -> X64Features {
        #[cfg(target_arch = "x86_64")]
        {
            X64Features {
                sse41: std::arch::is_x86_feature_detected!("sse4.1"),
                popcnt: std::arch::is_x86_feature_detected!("popcnt"),
                lzcnt: std::arch::is_x86_feature_detected!("lzcnt"),
                bmi1: std::arch::is_x86_feature_detected!("bmi1"),
                fma: std::arch::is_x86_feature_detected!("fma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            X64Features::ALL
        }
    }
}

/// Opcodes of the short (rel8) jumps patched by [`CodeBuffer::land_short`].
const JNO: u8 = 0x71;
const JB: u8 = 0x72;
const JNE: u8 = 0x75;
const JP: u8 = 0x7A;
const JNP: u8 = 0x7B;
const JMP8: u8 = 0xEB;

/// The x86-64 macro-assembler. See the [module docs](super) for the register
/// assignment and the encodings chosen.
pub struct X64Masm {
    ops: CodeBuffer<X64Relocation>,
    features: X64Features,
    /// The first misuse seen (too many helper arguments), reported by
    /// [`MacroAssembler::finish`].
    error: Option<AsmError>,
}

impl Default for X64Masm {
    fn default() -> X64Masm {
        X64Masm::new()
    }
}

impl X64Masm {
    /// A new assembler for the host's CPU: it uses the optional
    /// instructions the host has (when the host is not x86-64, all).
    pub fn new() -> X64Masm {
        X64Masm::with_features(X64Features::host())
    }

    /// A new assembler that uses the optional instructions of `features`
    /// and replaces the others.
    pub fn with_features(features: X64Features) -> X64Masm {
        X64Masm {
            ops: CodeBuffer::default(),
            features,
            error: None,
        }
    }

    fn fail(&mut self, e: AsmError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    // ---- small building blocks ----

    fn mov_rr(&mut self, dst: Rq, src: Rq) {
        if dst != src {
            x64!(self.ops ; mov Rq(dst), Rq(src));
        }
    }

    /// `dst = src + imm` into another register: `mov`, or one `lea`.
    fn add_into(&mut self, dst: Rq, src: Rq, imm: i32) {
        if imm == 0 {
            self.mov_rr(dst, src);
        } else {
            mem!(self.ops, src, imm, [lea Rq(dst),], []);
        }
    }

    /// `dst = 0` (`xor r32, r32`: writing a 32-bit register zero-extends).
    fn zero(&mut self, dst: Rq) {
        match dst {
            Rq::RAX => x64!(self.ops ; xor eax, eax),
            Rq::RSI => x64!(self.ops ; xor esi, esi),
            Rq::RDI => x64!(self.ops ; xor edi, edi),
            _ => x64!(self.ops ; xor Rd(dst), Rd(dst)),
        }
    }

    /// `call target` (an absolute address in a register).
    fn call_reg(&mut self, target: Rq) {
        match target {
            Rq::RAX => x64!(self.ops ; call rax),
            _ => x64!(self.ops ; call Rq(target)),
        }
    }

    fn movaps(&mut self, dst: Rx, src: Rx) {
        if dst != src {
            sse_rr!(self.ops, movaps, dst, src);
        }
    }

    /// `dst = value`, in the shortest form.
    fn load_imm_into(&mut self, dst: Rq, value: i64) {
        if value == 0 {
            self.zero(dst);
        } else if let Ok(v) = u32::try_from(value) {
            // Writing a 32-bit register zero-extends.
            let v = v as i32;
            r32!(self.ops, dst, [mov], [, DWORD v]);
        } else if let Ok(v) = i32::try_from(value) {
            // Sign-extended imm32.
            x64!(self.ops ; mov Rq(dst), DWORD v);
        } else {
            x64!(self.ops ; mov Rq(dst), QWORD value);
        }
    }

    /// The memory operand of a frame slot: `(base, disp)`.
    fn slot_mem(&mut self, bank: Bank, slot: u32) -> (Rq, i32) {
        self.bank_mem(bank, slot_offset(slot.into()))
    }

    /// The memory operand `base_bank + disp`: `(base, disp)`. A displacement
    /// beyond 32 bits (slot >= 2^28) is synthesised into [`TMP`].
    fn bank_mem(&mut self, bank: Bank, disp: i64) -> (Rq, i32) {
        let base = bank_base(bank);
        match i32::try_from(disp) {
            Ok(d) => (base, d),
            Err(_) => {
                x64!(self.ops ; mov Rq(TMP), QWORD disp ; add Rq(TMP), Rq(base));
                (TMP, 0)
            }
        }
    }

    /// `dst = base_bank + 8 * slot`, using no other register.
    fn slot_addr_into(&mut self, dst: Rq, bank: Bank, slot: u32) {
        let base = bank_base(bank);
        let disp = slot_offset(slot.into());
        match i32::try_from(disp) {
            Ok(0) => self.mov_rr(dst, base),
            Ok(d) => mem!(self.ops, base, d, [lea Rq(dst),], []),
            Err(_) => x64!(self.ops ; mov Rq(dst), QWORD disp ; add Rq(dst), Rq(base)),
        }
    }

    fn jcc(&mut self, cc: Cc, target: DynamicLabel) {
        match cc {
            Cc::B => x64!(self.ops ; jb =>target),
            Cc::Ae => x64!(self.ops ; jae =>target),
            Cc::E => x64!(self.ops ; je =>target),
            Cc::Ne => x64!(self.ops ; jne =>target),
            Cc::Be => x64!(self.ops ; jbe =>target),
            Cc::A => x64!(self.ops ; ja =>target),
            Cc::L => x64!(self.ops ; jl =>target),
            Cc::Ge => x64!(self.ops ; jge =>target),
            Cc::Le => x64!(self.ops ; jle =>target),
            Cc::G => x64!(self.ops ; jg =>target),
        }
    }

    /// `al = cc` (0 or 1); the rest of rax is left as it was.
    fn setcc_al(&mut self, cc: Cc) {
        match cc {
            Cc::B => x64!(self.ops ; setb al),
            Cc::Ae => x64!(self.ops ; setae al),
            Cc::E => x64!(self.ops ; sete al),
            Cc::Ne => x64!(self.ops ; setne al),
            Cc::Be => x64!(self.ops ; setbe al),
            Cc::A => x64!(self.ops ; seta al),
            Cc::L => x64!(self.ops ; setl al),
            Cc::Ge => x64!(self.ops ; setge al),
            Cc::Le => x64!(self.ops ; setle al),
            Cc::G => x64!(self.ops ; setg al),
        }
    }

    /// `dst = al` zero-extended to 64 bits.
    fn movzx_al(&mut self, dst: Rq) {
        r32!(self.ops, dst, [movzx], [, al]);
    }

    /// Flags of `lhs - imm` (the immediate sign-extended to 64 bits).
    fn cmp_imm(&mut self, lhs: Rq, imm: i32) {
        if imm == 0 {
            // Same flags as `cmp lhs, 0` (CF = OF = 0), one byte shorter.
            x64!(self.ops ; test Rq(lhs), Rq(lhs));
        } else if let Ok(i) = i8::try_from(imm) {
            self.cmp_imm8(lhs, i);
        } else {
            x64!(self.ops ; cmp Rq(lhs), DWORD imm);
        }
    }

    /// `cmp lhs, imm8` (sign-extended), `REX.W 83 /7 ib`. Encoded by hand:
    /// dynasm 5.1 lists the imm32 form of `cmp` first and so never picks
    /// this one.
    fn cmp_imm8(&mut self, lhs: Rq, imm: i8) {
        let r = u8::from(lhs);
        self.ops
            .extend([0x48 | (r >> 3), 0x83, 0xF8 | (r & 7), imm as u8]);
    }

    /// `dst = lhs / rhs` or `lhs % rhs` as `u64` (`div`: rdx:rax by
    /// rhs, which is never rax or rdx).
    fn unsigned_divide(&mut self, dst: Rq, lhs: Rq, rhs: Rq, rem: bool) {
        self.mov_rr(ACC, lhs);
        self.zero(HIGH);
        x64!(self.ops ; div Rq(rhs));
        self.mov_rr(dst, if rem { HIGH } else { ACC });
    }

    /// `dst = popcount(src)` without the `popcnt` instruction: the
    /// classic SWAR sum of bit pairs, nibbles and bytes.
    fn popcnt_baseline(&mut self, dst: Rq, src: Rq) {
        x64!(self.ops
            ; mov Rq(ACC), Rq(src)
            ; mov rcx, rax
            ; shr rcx, 1
            ; mov rdx, QWORD 0x5555_5555_5555_5555
            ; and rcx, rdx
            ; sub rax, rcx
            ; mov rdx, QWORD 0x3333_3333_3333_3333
            ; mov rcx, rax
            ; and rax, rdx
            ; shr rcx, 2
            ; and rcx, rdx
            ; add rax, rcx
            ; mov rcx, rax
            ; shr rcx, 4
            ; add rax, rcx
            ; mov rdx, QWORD 0x0f0f_0f0f_0f0f_0f0f
            ; and rax, rdx
            ; mov rdx, QWORD 0x0101_0101_0101_0101
            ; imul rax, rdx
            ; shr rax, 56
        );
        self.mov_rr(dst, ACC);
    }

    /// `dst op= src` for the two-operand ALU forms (not the shifts).
    fn alu_rr(&mut self, op: AluOp, dst: Rq, src: Rq) {
        match op {
            AluOp::Add => x64!(self.ops ; add Rq(dst), Rq(src)),
            AluOp::Sub => x64!(self.ops ; sub Rq(dst), Rq(src)),
            AluOp::Mul => x64!(self.ops ; imul Rq(dst), Rq(src)),
            AluOp::And => x64!(self.ops ; and Rq(dst), Rq(src)),
            AluOp::Or => x64!(self.ops ; or Rq(dst), Rq(src)),
            AluOp::Xor => x64!(self.ops ; xor Rq(dst), Rq(src)),
            AluOp::Shl | AluOp::Sar | AluOp::Shr | AluOp::Rotl | AluOp::Rotr => {
                // Shifts and rotates take their count in cl.
                r32!(self.ops, src, [mov ecx,], []);
                self.shift_cl(op, dst);
            }
        }
    }

    /// `dst = dst shift cl` (the count is masked to 6 bits by the CPU).
    fn shift_cl(&mut self, op: AluOp, dst: Rq) {
        match op {
            AluOp::Shl => x64!(self.ops ; shl Rq(dst), cl),
            AluOp::Sar => x64!(self.ops ; sar Rq(dst), cl),
            AluOp::Rotl => x64!(self.ops ; rol Rq(dst), cl),
            AluOp::Rotr => x64!(self.ops ; ror Rq(dst), cl),
            _ => x64!(self.ops ; shr Rq(dst), cl),
        }
    }

    /// `dst op= imm` (sign-extended) for add, sub, and, or, xor.
    fn alu_ri(&mut self, op: AluOp, dst: Rq, imm: i32) {
        match (op, i8::try_from(imm)) {
            (AluOp::Add, Ok(i)) => x64!(self.ops ; add Rq(dst), BYTE i),
            (AluOp::Add, Err(_)) => x64!(self.ops ; add Rq(dst), DWORD imm),
            (AluOp::Sub, Ok(i)) => x64!(self.ops ; sub Rq(dst), BYTE i),
            (AluOp::Sub, Err(_)) => x64!(self.ops ; sub Rq(dst), DWORD imm),
            (AluOp::And, Ok(i)) => x64!(self.ops ; and Rq(dst), BYTE i),
            (AluOp::And, Err(_)) => x64!(self.ops ; and Rq(dst), DWORD imm),
            (AluOp::Or, Ok(i)) => x64!(self.ops ; or Rq(dst), BYTE i),
            (AluOp::Or, Err(_)) => x64!(self.ops ; or Rq(dst), DWORD imm),
            (_, Ok(i)) => x64!(self.ops ; xor Rq(dst), BYTE i),
            (_, Err(_)) => x64!(self.ops ; xor Rq(dst), DWORD imm),
        }
    }

    /// `dst op= src` for the SSE2 scalar double operations.
    fn fp_rr(&mut self, op: FpOp, dst: Rx, src: Rx) {
        match op {
            FpOp::Add => sse_rr!(self.ops, addsd, dst, src),
            FpOp::Sub => sse_rr!(self.ops, subsd, dst, src),
            FpOp::Mul => sse_rr!(self.ops, mulsd, dst, src),
            FpOp::Div => sse_rr!(self.ops, divsd, dst, src),
        }
    }

    /// `dst = lhs / rhs` (`rem == false`) or `lhs % rhs`, through rdx:rax.
    fn divide(&mut self, dst: Rq, lhs: Rq, rhs: Rq, rem: bool) {
        // rhs is a scratch register, never rax or rdx (see `regs`), so it
        // survives the setup of the dividend.
        self.mov_rr(ACC, lhs);
        x64!(self.ops
            ; cqo
            ; idiv Rq(rhs)
        );
        self.mov_rr(dst, if rem { HIGH } else { ACC });
    }

    /// `dst = f(srcs)` by a call to the Rust function `f` at `addr`, an
    /// `extern "C" fn(u64, ...) -> u64` on f64 bits ([`floor_bits`] and
    /// the like), saving every scratch register around it (the call
    /// clobbers them all).
    fn fp_call(&mut self, addr: usize, dst: Rx, srcs: &[Rx]) {
        /// Bytes saved: every scratch register, rounded up so the stack
        /// stays 16-byte aligned for the call.
        const SAVE: i32 = (8 * (SCRATCH_GPRS.len() + SCRATCH_FPRS.len()) as i32 + 15) & !15;
        let addr = addr as i64;
        x64!(self.ops ; sub rsp, BYTE SAVE as i8);
        for (k, &g) in SCRATCH_GPRS.iter().enumerate() {
            x64!(self.ops ; mov [rsp + 8 * k as i32], Rq(g));
        }
        for (k, &f) in SCRATCH_FPRS.iter().enumerate() {
            let at = 8 * (SCRATCH_GPRS.len() + k) as i32;
            x64!(self.ops ; movsd QWORD [rsp + at], Rx(f));
        }
        // The sources are f64 registers: no integer move clobbers them.
        for (&arg, &src) in ARG_REGS.iter().zip(srcs) {
            x64!(self.ops ; movq Rq(arg), Rx(src));
        }
        x64!(self.ops ; mov Rq(ACC), QWORD addr);
        self.call_reg(ACC);
        x64!(self.ops ; movq Rx(FTMP), Rq(RET));
        for (k, &g) in SCRATCH_GPRS.iter().enumerate() {
            x64!(self.ops ; mov Rq(g), [rsp + 8 * k as i32]);
        }
        for (k, &f) in SCRATCH_FPRS.iter().enumerate() {
            let at = 8 * (SCRATCH_GPRS.len() + k) as i32;
            x64!(self.ops ; movsd Rx(f), QWORD [rsp + at]);
        }
        x64!(self.ops ; add rsp, BYTE SAVE as i8);
        self.movaps(dst, FTMP);
    }
}

impl MacroAssembler for X64Masm {
    type Label = DynamicLabel;

    fn new_label(&mut self) -> DynamicLabel {
        self.ops.new_label()
    }

    fn bind(&mut self, label: DynamicLabel) {
        // A label bound twice is reported by `finish`.
        x64!(self.ops ; =>label);
    }

    fn offset(&self) -> usize {
        self.ops.offset().0
    }

    fn reserve(&mut self, bytes: usize) {
        self.ops.reserve(bytes);
    }

    // ---- function structure ----

    fn prologue(&mut self, call_depth: i32) {
        // The frame record first: rbp chains the frames (see `abi`).
        x64!(self.ops
            ; push rbp
            ; mov rbp, rsp
        );
        for r in SAVED {
            match r {
                Rq::RBX => x64!(self.ops ; push rbx),
                _ => x64!(self.ops ; push Rq(r)),
            }
        }
        let [ctx, i, f, r, _, _] = ARG_REGS;
        x64!(self.ops
            ; sub rsp, BYTE FRAME_PADDING as i8
            ; mov Rq(CTX), Rq(ctx)
            ; mov Rq(I_BASE), Rq(i)
            ; mov Rq(F_BASE), Rq(f)
            ; mov Rq(R_BASE), Rq(r)
        );
        mem!(self.ops, CTX, call_depth, [mov Rq(DEPTH), QWORD], []);
    }

    fn epilogue(&mut self, status: Gpr) {
        r32!(self.ops, gpr(status), [mov eax,], []);
        x64!(self.ops ; add rsp, BYTE FRAME_PADDING as i8);
        for r in SAVED.into_iter().rev() {
            match r {
                Rq::RBX => x64!(self.ops ; pop rbx),
                _ => x64!(self.ops ; pop Rq(r)),
            }
        }
        x64!(self.ops
            ; pop rbp
            ; ret
        );
    }

    // ---- frame slots and constants ----

    fn load_slot(&mut self, dst: Gpr, bank: Bank, slot: u32) {
        let d = gpr(dst);
        let (base, disp) = self.slot_mem(bank, slot);
        mem!(self.ops, base, disp, [mov Rq(d), QWORD], []);
    }

    fn store_slot(&mut self, bank: Bank, slot: u32, src: Gpr) {
        let s = gpr(src);
        let (base, disp) = self.slot_mem(bank, slot);
        mem!(self.ops, base, disp, [mov QWORD], [, Rq(s)]);
    }

    fn load_fslot(&mut self, dst: Fpr, slot: u32) {
        let d = fpr(dst);
        let (base, disp) = self.slot_mem(Bank::F, slot);
        mem!(self.ops, base, disp, [movsd Rx(d), QWORD], []);
    }

    fn store_fslot(&mut self, slot: u32, src: Fpr) {
        let s = fpr(src);
        let (base, disp) = self.slot_mem(Bank::F, slot);
        mem!(self.ops, base, disp, [movsd QWORD], [, Rx(s)]);
    }

    fn zero_slots(&mut self, bank: Bank, first: u32, count: u32) {
        /// Up to this many slots the stores are unrolled.
        const UNROLL: u32 = 8;
        /// From this many slots on, `rep stosq` stores them: the string
        /// store writes a cache line or more per cycle once started, where
        /// the loop writes one slot (a 32,768-register frame cleared at
        /// each call ran 3.4x slower than the interpreter's `memset`).
        const REP_STOS_MIN: u32 = 64;
        if count == 0 {
            return;
        }
        self.zero(ACC);
        if count >= REP_STOS_MIN {
            // rdi is T1, which the method keeps: r10 holds it meanwhile.
            // The ABI keeps the direction flag clear.
            x64!(self.ops ; mov Rq(TMP2), rdi);
            self.slot_addr_into(Rq::RDI, bank, first);
            x64!(self.ops
                ; mov ecx, DWORD count as i32
                ; rep stosq
                ; mov rdi, Rq(TMP2)
            );
        } else if count <= UNROLL {
            for k in 0..count {
                let (base, disp) =
                    self.bank_mem(bank, slot_offset(i64::from(first) + i64::from(k)));
                mem!(self.ops, base, disp, [mov QWORD], [, Rq(ACC)]);
            }
        } else {
            // r11 walks the slots, r10 counts them down.
            self.slot_addr_into(TMP, bank, first);
            let zero_loop = self.ops.new_label();
            x64!(self.ops
                ; mov Rd(TMP2), DWORD count as i32
                ; =>zero_loop
            );
            mem!(self.ops, TMP, 0, [mov QWORD], [, Rq(ACC)]);
            x64!(self.ops
                ; add Rq(TMP), BYTE SLOT_SIZE as i8
                ; sub Rq(TMP2), BYTE 1
                ; jnz BYTE =>zero_loop
            );
        }
    }

    fn slot_addr(&mut self, dst: Gpr, bank: Bank, slot: u32) {
        self.slot_addr_into(gpr(dst), bank, slot);
    }

    fn load_imm(&mut self, dst: Gpr, value: i64) {
        self.load_imm_into(gpr(dst), value);
    }

    fn load_fimm(&mut self, dst: Fpr, bits: u64) {
        let d = fpr(dst);
        if bits == 0 {
            sse_rr!(self.ops, xorps, d, d);
        } else {
            self.load_imm_into(TMP, bits as i64);
            x64!(self.ops ; movq Rx(d), Rq(TMP));
        }
    }

    fn mov(&mut self, dst: Gpr, src: Gpr) {
        self.mov_rr(gpr(dst), gpr(src));
    }

    fn call_depth(&mut self, dst: Gpr, delta: i32) {
        self.add_into(gpr(dst), DEPTH, delta);
    }

    // ---- integer arithmetic ----

    fn alu(&mut self, op: AluOp, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        let (d, l, r) = (gpr(dst), gpr(lhs), gpr(rhs));
        match op {
            AluOp::Shl | AluOp::Sar | AluOp::Shr | AluOp::Rotl | AluOp::Rotr => {
                // The count goes to cl (rcx is no scratch register) before
                // dst, which may be rhs, is written.
                r32!(self.ops, r, [mov ecx,], []);
                self.mov_rr(d, l);
                self.shift_cl(op, d);
            }
            _ if d == l => self.alu_rr(op, d, r),
            AluOp::Add if d != r => x64!(self.ops ; lea Rq(d), [Rq(l) + Rq(r)]),
            AluOp::Add | AluOp::Mul | AluOp::And | AluOp::Or | AluOp::Xor if d == r => {
                // Commutative: dst = rhs op lhs.
                self.alu_rr(op, d, l);
            }
            AluOp::Sub if d == r => {
                // dst = -rhs + lhs.
                x64!(self.ops ; neg Rq(d) ; add Rq(d), Rq(l));
            }
            _ => {
                self.mov_rr(d, l);
                self.alu_rr(op, d, r);
            }
        }
    }

    fn alu_imm(&mut self, op: AluOp, dst: Gpr, lhs: Gpr, imm: i32) {
        let (d, l) = (gpr(dst), gpr(lhs));
        match op {
            AluOp::Shl | AluOp::Sar | AluOp::Shr | AluOp::Rotl | AluOp::Rotr => {
                let n = (imm & 63) as i8;
                self.mov_rr(d, l);
                match op {
                    _ if n == 0 => {}
                    AluOp::Shl => x64!(self.ops ; shl Rq(d), BYTE n),
                    AluOp::Sar => x64!(self.ops ; sar Rq(d), BYTE n),
                    AluOp::Rotl => x64!(self.ops ; rol Rq(d), BYTE n),
                    AluOp::Rotr => x64!(self.ops ; ror Rq(d), BYTE n),
                    _ => x64!(self.ops ; shr Rq(d), BYTE n),
                }
            }
            AluOp::Mul => match imm {
                0 => self.zero(d),
                1 => self.mov_rr(d, l),
                _ => match i8::try_from(imm) {
                    Ok(i) => x64!(self.ops ; imul Rq(d), Rq(l), BYTE i),
                    Err(_) => x64!(self.ops ; imul Rq(d), Rq(l), DWORD imm),
                },
            },
            AluOp::And if imm == 0 => self.zero(d),
            AluOp::And if imm == -1 => self.mov_rr(d, l),
            AluOp::Add | AluOp::Sub | AluOp::Or | AluOp::Xor if imm == 0 => self.mov_rr(d, l),
            AluOp::Add if d != l => self.add_into(d, l, imm),
            AluOp::Sub if d != l && imm != i32::MIN => {
                mem!(self.ops, l, imm.wrapping_neg(), [lea Rq(d),], [])
            }
            _ => {
                self.mov_rr(d, l);
                self.alu_ri(op, d, imm);
            }
        }
    }

    fn neg(&mut self, dst: Gpr, src: Gpr) {
        let d = gpr(dst);
        self.mov_rr(d, gpr(src));
        x64!(self.ops ; neg Rq(d));
    }

    fn not(&mut self, dst: Gpr, src: Gpr) {
        let d = gpr(dst);
        self.mov_rr(d, gpr(src));
        x64!(self.ops ; not Rq(d));
    }

    fn sdiv(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr, overflow: DynamicLabel) {
        // `idiv` faults on i64::MIN / -1: with divisor -1, a dividend whose
        // `cmp 1` overflows (i64::MIN only) traps instead.
        let (d, l, r) = (gpr(dst), gpr(lhs), gpr(rhs));
        self.cmp_imm8(r, -1);
        let general = self.ops.short_forward(JNE);
        self.cmp_imm8(l, 1);
        x64!(self.ops ; jo =>overflow);
        self.ops.land_short(general);
        self.divide(d, l, r, false);
    }

    fn srem(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        // `idiv` faults on i64::MIN % -1, which is 0: with divisor -1 the
        // dividend becomes 0, whose remainder is the same 0.
        let (d, l, r) = (gpr(dst), gpr(lhs), gpr(rhs));
        self.mov_rr(ACC, l);
        self.cmp_imm8(r, -1);
        let general = self.ops.short_forward(JNE);
        self.zero(ACC);
        self.ops.land_short(general);
        self.divide(d, ACC, r, true);
    }

    fn mul_high(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        // One-operand imul: rdx:rax = rax * rhs; rhs is never rax or rdx.
        x64!(self.ops
            ; mov Rq(ACC), Rq(gpr(lhs))
            ; imul Rq(gpr(rhs))
        );
        self.mov_rr(gpr(dst), HIGH);
    }

    fn udiv(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        self.unsigned_divide(gpr(dst), gpr(lhs), gpr(rhs), false);
    }

    fn urem(&mut self, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        self.unsigned_divide(gpr(dst), gpr(lhs), gpr(rhs), true);
    }

    fn bit_count(&mut self, op: BitCount, dst: Gpr, src: Gpr) {
        let (d, s) = (gpr(dst), gpr(src));
        let f = self.features;
        match op {
            BitCount::Popcnt if f.popcnt => x64!(self.ops ; popcnt Rq(d), Rq(s)),
            BitCount::Clz if f.lzcnt => x64!(self.ops ; lzcnt Rq(d), Rq(s)),
            BitCount::Ctz if f.bmi1 => x64!(self.ops ; tzcnt Rq(d), Rq(s)),
            BitCount::Popcnt => self.popcnt_baseline(d, s),
            // bsr gives the index of the highest one bit, 63 - clz, and
            // sets ZF for 0 (leaving its destination undefined): 127 then,
            // and 127 ^ 63 = 64.
            BitCount::Clz => x64!(self.ops
                ; mov ecx, 127
                ; bsr Rq(ACC), Rq(s)
                ; cmovz Rq(ACC), rcx
                ; xor Rq(ACC), BYTE 63
                ; mov Rq(d), Rq(ACC)
            ),
            // bsf gives the index of the lowest one bit; 64 for 0.
            BitCount::Ctz => x64!(self.ops
                ; mov ecx, 64
                ; bsf Rq(ACC), Rq(s)
                ; cmovz Rq(ACC), rcx
                ; mov Rq(d), Rq(ACC)
            ),
        }
    }

    fn extend(&mut self, ext: Extension, dst: Gpr, src: Gpr) {
        let (d, s) = (gpr(dst), gpr(src));
        match ext {
            Extension::S8 => x64!(self.ops ; movsx Rq(d), Rb(s)),
            Extension::S16 => x64!(self.ops ; movsx Rq(d), Rw(s)),
            Extension::S32 => x64!(self.ops ; movsxd Rq(d), Rd(s)),
            Extension::U8 => x64!(self.ops ; movzx Rd(d), Rb(s)),
            Extension::U16 => x64!(self.ops ; movzx Rd(d), Rw(s)),
            // A 32-bit move clears the upper half, even onto itself.
            Extension::U32 => x64!(self.ops ; mov Rd(d), Rd(s)),
        }
    }

    fn select(&mut self, cond: Cond, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        let (d, l, r) = (gpr(dst), gpr(lhs), gpr(rhs));
        // Through rax: dst may be either operand.
        x64!(self.ops
            ; mov Rq(ACC), Rq(r)
            ; cmp Rq(l), Rq(r)
        );
        match Cc::of(cond) {
            Cc::B => x64!(self.ops ; cmovb Rq(ACC), Rq(l)),
            Cc::Ae => x64!(self.ops ; cmovae Rq(ACC), Rq(l)),
            Cc::E => x64!(self.ops ; cmove Rq(ACC), Rq(l)),
            Cc::Ne => x64!(self.ops ; cmovne Rq(ACC), Rq(l)),
            Cc::Be => x64!(self.ops ; cmovbe Rq(ACC), Rq(l)),
            Cc::A => x64!(self.ops ; cmova Rq(ACC), Rq(l)),
            Cc::L => x64!(self.ops ; cmovl Rq(ACC), Rq(l)),
            Cc::Ge => x64!(self.ops ; cmovge Rq(ACC), Rq(l)),
            Cc::Le => x64!(self.ops ; cmovle Rq(ACC), Rq(l)),
            Cc::G => x64!(self.ops ; cmovg Rq(ACC), Rq(l)),
        }
        self.mov_rr(d, ACC);
    }

    fn move_if_nonzero(&mut self, dst: Gpr, src: Gpr, test: Gpr) {
        let (d, s, t) = (gpr(dst), gpr(src), gpr(test));
        x64!(self.ops
            ; test Rq(t), Rq(t)
            ; cmovne Rq(d), Rq(s)
        );
    }

    // ---- integer compares and branches ----

    fn set_cond(&mut self, cond: Cond, dst: Gpr, lhs: Gpr, rhs: Gpr) {
        x64!(self.ops ; cmp Rq(gpr(lhs)), Rq(gpr(rhs)));
        self.setcc_al(Cc::of(cond));
        self.movzx_al(gpr(dst));
    }

    fn set_cond_imm(&mut self, cond: Cond, dst: Gpr, lhs: Gpr, imm: i32) {
        self.cmp_imm(gpr(lhs), imm);
        self.setcc_al(Cc::of(cond));
        self.movzx_al(gpr(dst));
    }

    fn branch(&mut self, cond: Cond, lhs: Gpr, rhs: Gpr, target: DynamicLabel) {
        x64!(self.ops ; cmp Rq(gpr(lhs)), Rq(gpr(rhs)));
        self.jcc(Cc::of(cond), target);
    }

    fn branch_imm(&mut self, cond: Cond, lhs: Gpr, imm: i32, target: DynamicLabel) {
        self.cmp_imm(gpr(lhs), imm);
        self.jcc(Cc::of(cond), target);
    }

    fn jump(&mut self, target: DynamicLabel) {
        x64!(self.ops ; jmp =>target);
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
                self.load_imm_into(ACC, targets.len() as i64);
                x64!(self.ops ; cmp Rq(i), Rq(ACC));
            }
        }
        self.jcc(Cc::Ae, default);
        // Entries are offsets from the table, which `finish` places after
        // the code: a variable-length decoder that reads the code in order
        // never meets it, and `rip`-relative data at the end is where
        // disassemblers look for it.
        // TMP (r11) and ACC (rax) are written statically: with a dynamic
        // base dynasm adds a zero displacement.
        const _: () = assert!(TMP as u8 == Rq::R11 as u8 && ACC as u8 == Rq::RAX as u8);
        let table = self.ops.new_label();
        x64!(self.ops
            ; lea r11, [=>table]
            ; movsxd rax, DWORD [r11 + Rq(i) * 4]
            ; add rax, r11
            ; jmp rax
        );
        self.ops.defer_label_offsets(table, targets);
    }

    // ---- f64 ----

    fn fp_op(&mut self, op: FpOp, dst: Fpr, lhs: Fpr, rhs: Fpr) {
        let (d, l, r) = (fpr(dst), fpr(lhs), fpr(rhs));
        if d == l {
            self.fp_rr(op, d, r);
        } else if d == r {
            // Never swap the operands, even of add and mul: with two NaN
            // operands x86 returns the first one, as Rust's `lhs op rhs` does.
            self.movaps(FTMP, l);
            self.fp_rr(op, FTMP, r);
            self.movaps(d, FTMP);
        } else {
            self.movaps(d, l);
            self.fp_rr(op, d, r);
        }
    }

    fn fp_unary(&mut self, op: FpUnary, dst: Fpr, src: Fpr) {
        let (d, s) = (fpr(dst), fpr(src));
        match op {
            FpUnary::Neg => x64!(self.ops
                ; movq Rq(TMP), Rx(s)
                ; btc Rq(TMP), BYTE 63
                ; movq Rx(d), Rq(TMP)
            ),
            FpUnary::Abs => x64!(self.ops
                ; movq Rq(TMP), Rx(s)
                ; btr Rq(TMP), BYTE 63
                ; movq Rx(d), Rq(TMP)
            ),
            FpUnary::Sqrt => sse_rr!(self.ops, sqrtsd, d, s),
            // Mode 9: toward negative infinity, inexact not signalled.
            // Modes: 0 nearest even, 1 down, 2 up, 3 toward zero; bit 3:
            // inexact not signalled.
            FpUnary::Floor if self.features.sse41 => sse_rr!(self.ops, roundsd, d, s, BYTE 9),
            FpUnary::Ceil if self.features.sse41 => sse_rr!(self.ops, roundsd, d, s, BYTE 10),
            FpUnary::Trunc if self.features.sse41 => sse_rr!(self.ops, roundsd, d, s, BYTE 11),
            FpUnary::Round if self.features.sse41 => sse_rr!(self.ops, roundsd, d, s, BYTE 8),
            FpUnary::Floor => self.fp_call(floor_bits as *const () as usize, d, &[s]),
            FpUnary::Ceil => self.fp_call(ceil_bits as *const () as usize, d, &[s]),
            FpUnary::Trunc => self.fp_call(trunc_bits as *const () as usize, d, &[s]),
            FpUnary::Round => self.fp_call(round_bits as *const () as usize, d, &[s]),
            FpUnary::Copy => self.movaps(d, s),
        }
    }

    fn fp_fma(&mut self, dst: Fpr, acc: Fpr, lhs: Fpr, rhs: Fpr) {
        let (d, a, l, r) = (fpr(dst), fpr(acc), fpr(lhs), fpr(rhs));
        if !self.features.fma {
            self.fp_call(fma_bits as *const () as usize, d, &[a, l, r]);
            return;
        }
        // In FTMP: any of the four may be the same register.
        self.movaps(FTMP, a);
        x64!(self.ops
            ; vfmadd231sd Rx(FTMP), Rx(l), Rx(r)
            ; ucomisd Rx(FTMP), Rx(FTMP)
        );
        // A NaN: the NaN of the unfused `lhs * rhs + acc`.
        let ordered = self.ops.short_forward(JNP);
        self.movaps(FTMP, l);
        sse_rr!(self.ops, mulsd, FTMP, r);
        sse_rr!(self.ops, addsd, FTMP, a);
        self.ops.land_short(ordered);
        self.movaps(d, FTMP);
    }

    fn fp_min_max(&mut self, max: bool, dst: Fpr, lhs: Fpr, rhs: Fpr) {
        let (d, l, r) = (fpr(dst), fpr(lhs), fpr(rhs));
        // minsd/maxsd return the second operand for equal operands (so
        // for zeros of either sign) and for NaNs: only unequal ordered
        // operands go to them. Equal ones differ in the sign of zeros at
        // most: their `or` is the minimum, their `and` the maximum.
        self.movaps(FTMP, l);
        sse_rr!(self.ops, ucomisd, l, r);
        let unordered = self.ops.short_forward(JP);
        let unequal = self.ops.short_forward(JNE);
        if max {
            sse_rr!(self.ops, andpd, FTMP, r);
        } else {
            sse_rr!(self.ops, orpd, FTMP, r);
        }
        let equal_done = self.ops.short_forward(JMP8);
        self.ops.land_short(unequal);
        if max {
            sse_rr!(self.ops, maxsd, FTMP, r);
        } else {
            sse_rr!(self.ops, minsd, FTMP, r);
        }
        let unequal_done = self.ops.short_forward(JMP8);
        self.ops.land_short(unordered);
        sse_rr!(self.ops, addsd, FTMP, r);
        self.ops.land_short(equal_done);
        self.ops.land_short(unequal_done);
        self.movaps(d, FTMP);
    }

    fn fp_copysign(&mut self, dst: Fpr, mag: Fpr, sign: Fpr) {
        let (d, m, s) = (fpr(dst), fpr(mag), fpr(sign));
        x64!(self.ops
            ; movq Rq(ACC), Rx(m)
            ; movq rcx, Rx(s)
            ; btr Rq(ACC), BYTE 63
            ; shr rcx, BYTE 63
            ; shl rcx, BYTE 63
            ; or Rq(ACC), rcx
            ; movq Rx(d), Rq(ACC)
        );
    }

    fn fp_set_cond(&mut self, cmp: Cmp, dst: Gpr, lhs: Fpr, rhs: Fpr) {
        let (l, r) = (fpr(lhs), fpr(rhs));
        // ucomisd a, b: unordered ZF=PF=CF=1; a < b CF=1; a == b ZF=1.
        // `a` (CF=0 and ZF=0) and `ae` (CF=0) are false on unordered, so
        // lhs < rhs is tested as rhs > lhs.
        match cmp {
            Cmp::Lt | Cmp::Le => sse_rr!(self.ops, ucomisd, r, l),
            _ => sse_rr!(self.ops, ucomisd, l, r),
        }
        match cmp {
            Cmp::Gt | Cmp::Lt => x64!(self.ops ; seta al),
            Cmp::Ge | Cmp::Le => x64!(self.ops ; setae al),
            Cmp::Eq => x64!(self.ops ; sete al ; setnp cl ; and al, cl),
            Cmp::Ne => x64!(self.ops ; setne al ; setp cl ; or al, cl),
        }
        self.movzx_al(gpr(dst));
    }

    fn fp_branch(&mut self, cmp: Cmp, lhs: Fpr, rhs: Fpr, target: DynamicLabel) {
        let (l, r) = (fpr(lhs), fpr(rhs));
        match cmp {
            Cmp::Lt | Cmp::Le => sse_rr!(self.ops, ucomisd, r, l),
            _ => sse_rr!(self.ops, ucomisd, l, r),
        }
        match cmp {
            Cmp::Gt | Cmp::Lt => x64!(self.ops ; ja =>target),
            Cmp::Ge | Cmp::Le => x64!(self.ops ; jae =>target),
            // Equal and ordered: skip on PF=1.
            Cmp::Eq => {
                let unordered = self.ops.new_label();
                x64!(self.ops ; jp BYTE =>unordered ; je =>target ; =>unordered)
            }
            // Unequal or unordered.
            Cmp::Ne => x64!(self.ops ; jp =>target ; jne =>target),
        }
    }

    fn i2f(&mut self, dst: Fpr, src: Gpr) {
        let d = fpr(dst);
        // The xor breaks the dependency on dst's old upper half.
        sse_rr!(self.ops, xorps, d, d);
        x64!(self.ops ; cvtsi2sd Rx(d), Rq(gpr(src)));
    }

    fn f2i(&mut self, dst: Gpr, src: Fpr) {
        let (d, s) = (gpr(dst), fpr(src));
        // cvttsd2si gives i64::MIN for NaN and out-of-range values; Rust
        // gives 0 for NaN and saturates. `cmp d, 1` overflows exactly when
        // d == i64::MIN.
        x64!(self.ops
            ; cvttsd2si Rq(d), Rx(s)
        );
        self.cmp_imm8(d, 1);
        // Short jumps patched in place: no labels for a sequence this common.
        let no_overflow = self.ops.short_forward(JNO);
        x64!(self.ops
            ; xorps Rx(FTMP), Rx(FTMP)
            ; ucomisd Rx(s), Rx(FTMP)
        );
        let nan = self.ops.short_forward(JP);
        let negative = self.ops.short_forward(JB);
        // Positive and too large: i64::MAX == !i64::MIN.
        x64!(self.ops ; not Rq(d));
        let saturated = self.ops.short_forward(JMP8);
        self.ops.land_short(nan);
        self.zero(d);
        for jump in [no_overflow, negative, saturated] {
            self.ops.land_short(jump);
        }
    }

    // ---- memory through a register ----

    fn load_mem(&mut self, dst: Gpr, base: Gpr, offset: i32) {
        let d = gpr(dst);
        mem!(self.ops, gpr(base), offset, [mov Rq(d), QWORD], []);
    }

    fn store_mem(&mut self, base: Gpr, offset: i32, src: Gpr) {
        let s = gpr(src);
        mem!(self.ops, gpr(base), offset, [mov QWORD], [, Rq(s)]);
    }

    fn load_mem_u32(&mut self, dst: Gpr, base: Gpr, offset: i32) {
        let d = gpr(dst);
        mem!(self.ops, gpr(base), offset, [mov Rd(d), DWORD], []);
    }

    fn load_mem_u8(&mut self, dst: Gpr, base: Gpr, offset: i32) {
        let d = gpr(dst);
        mem!(self.ops, gpr(base), offset, [movzx Rd(d), BYTE], []);
    }

    fn load_indexed(&mut self, dst: Gpr, base: Gpr, index: Gpr, offset: i32) {
        let d = gpr(dst);
        mem_idx!(self.ops, gpr(base), gpr(index), 8, offset, [mov Rq(d), QWORD], []);
    }

    fn store_indexed(&mut self, base: Gpr, index: Gpr, offset: i32, src: Gpr) {
        let s = gpr(src);
        mem_idx!(self.ops, gpr(base), gpr(index), 8, offset, [mov QWORD], [, Rq(s)]);
    }

    fn load_indexed_u8(&mut self, dst: Gpr, base: Gpr, index: Gpr, offset: i32) {
        let d = gpr(dst);
        mem_idx!(self.ops, gpr(base), gpr(index), 1, offset, [movzx Rd(d), BYTE], []);
    }

    fn store_indexed_u8(&mut self, base: Gpr, index: Gpr, offset: i32, src: Gpr) {
        let s = gpr(src);
        mem_idx!(self.ops, gpr(base), gpr(index), 1, offset, [mov BYTE], [, Rb(s)]);
    }

    fn load_findexed(&mut self, dst: Fpr, base: Gpr, index: Gpr, offset: i32) {
        let d = fpr(dst);
        mem_idx!(self.ops, gpr(base), gpr(index), 8, offset, [movsd Rx(d), QWORD], []);
    }

    fn store_findexed(&mut self, base: Gpr, index: Gpr, offset: i32, src: Fpr) {
        let s = fpr(src);
        mem_idx!(self.ops, gpr(base), gpr(index), 8, offset, [movsd QWORD], [, Rx(s)]);
    }

    fn load_ctx(&mut self, dst: Gpr, offset: i32) {
        let d = gpr(dst);
        mem!(self.ops, CTX, offset, [mov Rq(d), QWORD], []);
    }

    fn store_ctx(&mut self, offset: i32, src: Gpr) {
        let s = gpr(src);
        mem!(self.ops, CTX, offset, [mov QWORD], [, Rq(s)]);
    }

    fn store_ctx_u32(&mut self, offset: i32, value: u32) {
        let v = value as i32;
        mem!(self.ops, CTX, offset, [mov DWORD], [, DWORD v]);
    }

    fn store_ctx_reg_u32(&mut self, offset: i32, src: Gpr) {
        let s = gpr(src);
        mem!(self.ops, CTX, offset, [mov DWORD], [, Rd(s)]);
    }

    fn branch_stack_below(&mut self, offset: i32, target: DynamicLabel) {
        mem!(self.ops, CTX, offset, [cmp rsp, QWORD], []);
        self.jcc(Cc::B, target);
    }

    fn branch_flag_set(&mut self, offset: i32, target: DynamicLabel) {
        mem!(self.ops, CTX, offset, [mov Rq(TMP), QWORD], []);
        mem!(self.ops, TMP, 0, [cmp BYTE], [, 0]);
        self.jcc(Cc::Ne, target);
    }

    // ---- calls ----

    fn call_native(&mut self, entry: Gpr, frame: [u32; 3]) {
        let [a_ctx, a_i, a_f, a_r, _, _] = ARG_REGS;
        // The entry may sit in an argument register: park it in r11 first.
        self.mov_rr(TMP, gpr(entry));
        self.mov_rr(a_ctx, CTX);
        self.slot_addr_into(a_i, Bank::I, frame[0]);
        self.slot_addr_into(a_f, Bank::F, frame[1]);
        self.slot_addr_into(a_r, Bank::R, frame[2]);
        // The u32 status: the upper half of rax is undefined, writing the
        // 32-bit register clears it.
        x64!(self.ops ; call Rq(TMP));
        r32!(self.ops, T0, [mov], [, eax]);
    }

    fn call_helper(&mut self, addr: usize, args: &[HelperArg]) {
        if args.len() > MAX_HELPER_ARGS {
            self.fail(AsmError::TooManyHelperArguments(args.len()));
            return;
        }
        // First the register arguments, as one parallel move (a scratch
        // register may be both a source and another argument's register).
        let moves: Vec<(Rq, Rq)> = args
            .iter()
            .zip(ARG_REGS)
            .filter_map(|(a, reg)| match *a {
                HelperArg::Reg(g) => Some((reg, gpr(g))),
                _ => None,
            })
            .collect();
        match sequence_moves(&moves, &[TMP, TMP2, ACC]) {
            Some(seq) => {
                for (d, s) in seq {
                    self.mov_rr(d, s);
                }
            }
            None => {
                self.fail(AsmError::HelperArgumentMoves);
                return;
            }
        }
        // Then the rest, which read pinned registers only.
        for (a, reg) in args.iter().zip(ARG_REGS) {
            match *a {
                HelperArg::Reg(_) => {}
                HelperArg::Ctx => self.mov_rr(reg, CTX),
                HelperArg::Imm(v) => self.load_imm_into(reg, v),
                HelperArg::SlotAddr(bank, slot) => self.slot_addr_into(reg, bank, slot),
            }
        }
        self.load_imm_into(ACC, addr as i64);
        self.call_reg(ACC);
        self.mov_rr(T0, RET);
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
