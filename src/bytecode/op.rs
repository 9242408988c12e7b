//! The instruction set: fixed 8-byte ops over three typed register banks.
//!
//! An op is `opcode: u8, flags: u8, a: u16, b: u16, c: u16`, little-endian.
//! What each of A, B and C means is given per opcode by [`Opcode::operands`]:
//! the parser, the printer, the verifier and every engine read that one table.

use std::fmt;

/// A register bank. Register `k` of bank `B` lives at `base_B + 8*k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Bank {
    /// 64-bit two's-complement integers.
    I = 0,
    /// IEEE 754 doubles.
    F = 1,
    /// References: null or a heap object.
    R = 2,
}

impl Bank {
    /// All banks, in frame order.
    pub const ALL: [Bank; 3] = [Bank::I, Bank::F, Bank::R];

    /// The one-letter name used in the text format (`i`, `f`, `r`).
    pub fn letter(self) -> char {
        match self {
            Bank::I => 'i',
            Bank::F => 'f',
            Bank::R => 'r',
        }
    }

    /// The bank named by a text-format letter.
    pub fn from_letter(c: char) -> Option<Bank> {
        match c {
            'i' => Some(Bank::I),
            'f' => Some(Bank::F),
            'r' => Some(Bank::R),
            _ => None,
        }
    }

    /// Index 0..3, for per-bank arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Bank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

/// What one of the fields A, B, C of an op holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// Field unused; must be 0.
    None,
    /// A register of the bank that the op reads.
    Read(Bank),
    /// A register of the bank that the op writes.
    Write(Bank),
    /// A register of the bank that the op both reads and writes
    /// (read-modify-write: `sel`, `fma`).
    Update(Bank),
    /// A signed 16-bit immediate (the field's bits as `i16`).
    Imm,
    /// An index into the module's i64 constant pool.
    ConstI,
    /// An index into the module's f64 constant pool.
    ConstF,
    /// An index into the module's string constants.
    Str,
    /// An op index in the same function (a jump target).
    Target,
    /// A function index.
    Func,
    /// A host-import index.
    Host,
    /// The result register of a call: a register of the callee's result bank,
    /// or [`NO_REG`] when the callee returns nothing.
    CallDst,
    /// The first register of the argument window of a call: the callee's
    /// parameters of bank X are taken from the caller's registers
    /// `window, window+1, ...` of bank X.
    ArgWindow,
    /// A small unsigned number (the digits of `printf`).
    Count,
    /// An index into the module's table of function types
    /// ([`Module::types`](super::Module::types)): the signature an indirect
    /// call expects of its callee.
    Type,
    /// A global of this bank: an index among the module's globals of the
    /// bank ([`Module::global`](super::Module::global)).
    Global(Bank),
    /// A switch table of the function
    /// ([`Function::switch_tables`](super::Function::switch_tables)).
    Table,
    /// A run of `n` registers of a bank that the op reads: the field holds
    /// the first, `c`, and the op reads `c, c+1, .., c+n-1` (the verifier
    /// checks the whole run; the text format writes the first register).
    ReadRun(Bank, u8),

    /// A struct field whose values are of this bank: a module-wide field
    /// index, every struct's own fields numbered in declaration order
    /// ([`Module::field`](super::Module::field)).
    Field(Bank),
    /// A struct type: an index into [`Module::structs`](super::Module::structs).
    Struct,
}

/// The `CallDst` value of a call whose callee returns nothing.
pub const NO_REG: u16 = u16::MAX;

/// How an op continues, for the verifier, the jump-target pre-pass and engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Falls through to the next op.
    Next,
    /// May jump to its target or fall through.
    Branch,
    /// Always jumps to its target.
    Jump,
    /// Leaves the function.
    Return,
    /// Ends the whole call into the engine with a trap: never continues.
    Trap,
    /// Jumps to one of the targets of its switch table (all forward):
    /// never falls through.
    Switch,
}

impl Flow {
    /// Whether the op may continue with the next op.
    pub fn falls_through(self) -> bool {
        matches!(self, Flow::Next | Flow::Branch)
    }
}

/// A comparison, shared by the compare ops and the fused compare-and-branch ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// Equal: `x == y`.
    Eq,
    /// Not equal: `x != y`.
    Ne,
    /// Less than: `x < y`.
    Lt,
    /// Less than or equal: `x <= y`.
    Le,
    /// Greater than: `x > y`.
    Gt,
    /// Greater than or equal: `x >= y`.
    Ge,
}

impl Cmp {
    /// Signed integer comparison.
    #[inline(always)]
    pub fn int(self, x: i64, y: i64) -> bool {
        match self {
            Cmp::Eq => x == y,
            Cmp::Ne => x != y,
            Cmp::Lt => x < y,
            Cmp::Le => x <= y,
            Cmp::Gt => x > y,
            Cmp::Ge => x >= y,
        }
    }

    /// Unsigned integer comparison (of the two's-complement bits).
    #[inline(always)]
    pub fn uint(self, x: i64, y: i64) -> bool {
        self.int((x as u64 ^ (1 << 63)) as i64, (y as u64 ^ (1 << 63)) as i64)
    }

    /// IEEE comparison: ordered compares with a NaN are false, `Ne` is true.
    #[inline(always)]
    pub fn float(self, x: f64, y: f64) -> bool {
        match self {
            Cmp::Eq => x == y,
            Cmp::Ne => x != y,
            Cmp::Lt => x < y,
            Cmp::Le => x <= y,
            Cmp::Gt => x > y,
            Cmp::Ge => x >= y,
        }
    }
}

/// A two-operand i64 arithmetic or logic operation, shared by the
/// register-register and register-immediate forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntBinOp {
    /// Wrapping addition.
    Add,
    /// Wrapping subtraction.
    Sub,
    /// Wrapping multiplication.
    Mul,
    /// Signed division, truncating toward zero.
    Div,
    /// Signed remainder (sign of the dividend).
    Rem,
    /// Bitwise and.
    And,
    /// Bitwise or.
    Or,
    /// Bitwise exclusive or.
    Xor,
    /// Shift left.
    Shl,
    /// Arithmetic shift right.
    Shr,
    /// Logical shift right.
    Ushr,
}

/// A two-operand f64 operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatBinOp {
    /// Addition.
    Add,
    /// Subtraction.
    Sub,
    /// Multiplication.
    Mul,
    /// Division (IEEE: by zero gives an infinity or NaN, no trap).
    Div,
}

/// A one-operand f64 operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatUnOp {
    /// Negation (flips the sign bit).
    Neg,
    /// Absolute value.
    Abs,
    /// Square root (NaN for operands below zero).
    Sqrt,
    /// Round toward negative infinity.
    Floor,
    /// Round toward positive infinity.
    Ceil,
    /// Round toward zero.
    Trunc,
    /// Round to the nearest integer, ties to even.
    Round,
}

/// A bit-counting i64 operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BitCount {
    /// The number of one bits.
    Popcnt,
    /// The number of leading zero bits (64 for 0).
    Clz,
    /// The number of trailing zero bits (64 for 0).
    Ctz,
}

impl BitCount {
    /// Every value, for tests.
    pub const ALL: [BitCount; 3] = [BitCount::Popcnt, BitCount::Clz, BitCount::Ctz];

    /// The count of `x`.
    #[inline(always)]
    pub fn apply(self, x: i64) -> i64 {
        i64::from(match self {
            BitCount::Popcnt => x.count_ones(),
            BitCount::Clz => x.leading_zeros(),
            BitCount::Ctz => x.trailing_zeros(),
        })
    }
}

/// A sign or zero extension of the low 8, 16 or 32 bits of an i64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Extension {
    /// Sign-extend the low 8 bits.
    S8,
    /// Sign-extend the low 16 bits.
    S16,
    /// Sign-extend the low 32 bits.
    S32,
    /// Zero-extend the low 8 bits.
    U8,
    /// Zero-extend the low 16 bits.
    U16,
    /// Zero-extend the low 32 bits.
    U32,
}

impl Extension {
    /// Every value, for tests.
    pub const ALL: [Extension; 6] = [
        Extension::S8,
        Extension::S16,
        Extension::S32,
        Extension::U8,
        Extension::U16,
        Extension::U32,
    ];

    /// The number of low bits kept (8, 16 or 32).
    pub fn bits(self) -> u32 {
        match self {
            Extension::S8 | Extension::U8 => 8,
            Extension::S16 | Extension::U16 => 16,
            Extension::S32 | Extension::U32 => 32,
        }
    }

    /// Whether the extension copies the sign bit (else it fills zeros).
    pub fn signed(self) -> bool {
        matches!(self, Extension::S8 | Extension::S16 | Extension::S32)
    }

    /// `x` extended.
    #[inline(always)]
    pub fn apply(self, x: i64) -> i64 {
        match self {
            Extension::S8 => x as i8 as i64,
            Extension::S16 => x as i16 as i64,
            Extension::S32 => x as i32 as i64,
            Extension::U8 => x as u8 as i64,
            Extension::U16 => x as u16 as i64,
            Extension::U32 => x as u32 as i64,
        }
    }
}

/// Which of three fields is the jump target.
const fn target_field_of(fields: [Operand; 3]) -> Option<usize> {
    let mut i = 0;
    while i < 3 {
        if matches!(fields[i], Operand::Target) {
            return Some(i);
        }
        i += 1;
    }
    None
}

macro_rules! opcodes {
    ($( $(#[$doc:meta])* $name:ident = $mn:literal, [$a:expr, $b:expr, $c:expr], $flow:ident; )*) => {
        /// Every opcode of the instruction set.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Opcode {
            $( $(#[$doc])* $name, )*
        }

        impl Opcode {
            /// Every opcode, in encoding order.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$name),*];

            /// The text-format mnemonic.
            pub fn mnemonic(self) -> &'static str {
                match self { $(Opcode::$name => $mn,)* }
            }

            /// What the fields A, B and C hold.
            #[inline]
            pub fn operands(self) -> [Operand; 3] {
                // A table lookup: the template compiler asks it of every op
                // of every loop (see `template::emit`).
                const OPERANDS: &[[Operand; 3]] = {
                    use Operand::*;
                    use Bank::*;
                    #[allow(unused_imports)]
                    let _ = (I, F, R);
                    &[$([$a, $b, $c],)*]
                };
                OPERANDS[self as usize]
            }

            /// The jump-target field of a branch or jump (0 = A, 1 = B,
            /// 2 = C): a table lookup, as every compiler's pre-pass asks
            /// it of every op.
            #[inline]
            pub fn target_field(self) -> Option<usize> {
                const TARGET_FIELDS: &[Option<usize>] = {
                    use Operand::*;
                    use Bank::*;
                    #[allow(unused_imports)]
                    let _ = (I, F, R);
                    &[$(target_field_of([$a, $b, $c]),)*]
                };
                TARGET_FIELDS[self as usize]
            }

            /// How the op continues.
            pub fn flow(self) -> Flow {
                match self { $(Opcode::$name => Flow::$flow,)* }
            }
        }
    };
}

opcodes! {
    /// Does nothing.
    Nop = "nop", [None, None, None], Next;

    // ---- constants and moves ----
    /// `i[a] = b as i16 as i64`.
    IConst = "iconst", [Write(I), Imm, None], Next;
    /// `i[a] = iconsts[b]` (printed as `iconst` with the value).
    IConstK = "iconst", [Write(I), ConstI, None], Next;
    /// `f[a] = fconsts[b]`.
    FConst = "fconst", [Write(F), ConstF, None], Next;
    /// `r[a] = null`.
    RNull = "rnull", [Write(R), None, None], Next;
    /// `i[a] = i[b]`.
    Mov = "mov", [Write(I), Read(I), None], Next;
    /// `f[a] = f[b]`.
    FMov = "fmov", [Write(F), Read(F), None], Next;
    /// `r[a] = r[b]`.
    RMov = "rmov", [Write(R), Read(R), None], Next;

    // ---- i64 arithmetic, register-register: i[a] = i[b] op i[c] ----
    /// `i[a] = i[b] + i[c]`, wrapping.
    Add = "add", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b] - i[c]`, wrapping.
    Sub = "sub", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b] * i[c]`, wrapping.
    Mul = "mul", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b] / i[c]`, truncating; traps on a zero divisor and on
    /// `i64::MIN / -1`.
    Div = "div", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b] % i[c]`; traps on a zero divisor; `i64::MIN % -1` is 0.
    Rem = "rem", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b] & i[c]`.
    And = "and", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b] | i[c]`.
    Or = "or", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b] ^ i[c]`.
    Xor = "xor", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b] << i[c]`; shift count masked to 6 bits.
    Shl = "shl", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b] >> i[c]`, arithmetic; shift count masked to 6 bits.
    Shr = "shr", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b] >> i[c]`, logical; shift count masked to 6 bits.
    Ushr = "ushr", [Write(I), Read(I), Read(I)], Next;

    // ---- i64 arithmetic, register-immediate: i[a] = i[b] op imm(c) ----
    /// `i[a] = i[b] + imm(c)`, wrapping.
    AddI = "addi", [Write(I), Read(I), Imm], Next;
    /// `i[a] = i[b] - imm(c)`, wrapping.
    SubI = "subi", [Write(I), Read(I), Imm], Next;
    /// `i[a] = i[b] * imm(c)`, wrapping.
    MulI = "muli", [Write(I), Read(I), Imm], Next;
    /// `i[a] = i[b] / imm(c)`; traps like `div`.
    DivI = "divi", [Write(I), Read(I), Imm], Next;
    /// `i[a] = i[b] % imm(c)`; traps like `rem`.
    RemI = "remi", [Write(I), Read(I), Imm], Next;
    /// `i[a] = i[b] & imm(c)`.
    AndI = "andi", [Write(I), Read(I), Imm], Next;
    /// `i[a] = i[b] | imm(c)`.
    OrI = "ori", [Write(I), Read(I), Imm], Next;
    /// `i[a] = i[b] ^ imm(c)`.
    XorI = "xori", [Write(I), Read(I), Imm], Next;
    /// `i[a] = i[b] << imm(c)`; shift count masked to 6 bits.
    ShlI = "shli", [Write(I), Read(I), Imm], Next;
    /// `i[a] = i[b] >> imm(c)`, arithmetic; shift count masked to 6 bits.
    ShrI = "shri", [Write(I), Read(I), Imm], Next;
    /// `i[a] = i[b] >> imm(c)`, logical; shift count masked to 6 bits.
    UshrI = "ushri", [Write(I), Read(I), Imm], Next;

    // ---- i64 unary ----
    /// Wrapping negation.
    Neg = "neg", [Write(I), Read(I), None], Next;
    /// Bitwise not.
    Not = "not", [Write(I), Read(I), None], Next;

    // ---- i64 compares: i[a] = (i[b] cmp i[c]) as 0/1 ----
    /// `i[a] = (i[b] == i[c]) as i64`.
    Eq = "eq", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = (i[b] != i[c]) as i64`.
    Ne = "ne", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = (i[b] < i[c]) as i64`, signed.
    Lt = "lt", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = (i[b] <= i[c]) as i64`, signed.
    Le = "le", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = (i[b] > i[c]) as i64`, signed.
    Gt = "gt", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = (i[b] >= i[c]) as i64`, signed.
    Ge = "ge", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = (i[b] == imm(c)) as i64`.
    EqI = "eqi", [Write(I), Read(I), Imm], Next;
    /// `i[a] = (i[b] != imm(c)) as i64`.
    NeI = "nei", [Write(I), Read(I), Imm], Next;
    /// `i[a] = (i[b] < imm(c)) as i64`, signed.
    LtI = "lti", [Write(I), Read(I), Imm], Next;
    /// `i[a] = (i[b] <= imm(c)) as i64`, signed.
    LeI = "lei", [Write(I), Read(I), Imm], Next;
    /// `i[a] = (i[b] > imm(c)) as i64`, signed.
    GtI = "gti", [Write(I), Read(I), Imm], Next;
    /// `i[a] = (i[b] >= imm(c)) as i64`, signed.
    GeI = "gei", [Write(I), Read(I), Imm], Next;

    // ---- fused i64 compare-and-branch: if i[a] cmp i[b] goto c ----
    /// `if i[a] == i[b] goto c`.
    JEq = "jeq", [Read(I), Read(I), Target], Branch;
    /// `if i[a] != i[b] goto c`.
    JNe = "jne", [Read(I), Read(I), Target], Branch;
    /// `if i[a] < i[b] goto c`, signed.
    JLt = "jlt", [Read(I), Read(I), Target], Branch;
    /// `if i[a] <= i[b] goto c`, signed.
    JLe = "jle", [Read(I), Read(I), Target], Branch;
    /// `if i[a] > i[b] goto c`, signed.
    JGt = "jgt", [Read(I), Read(I), Target], Branch;
    /// `if i[a] >= i[b] goto c`, signed.
    JGe = "jge", [Read(I), Read(I), Target], Branch;
    // ---- if i[a] cmp imm(b) goto c ----
    /// `if i[a] == imm(b) goto c`.
    JEqI = "jeqi", [Read(I), Imm, Target], Branch;
    /// `if i[a] != imm(b) goto c`.
    JNeI = "jnei", [Read(I), Imm, Target], Branch;
    /// `if i[a] < imm(b) goto c`, signed.
    JLtI = "jlti", [Read(I), Imm, Target], Branch;
    /// `if i[a] <= imm(b) goto c`, signed.
    JLeI = "jlei", [Read(I), Imm, Target], Branch;
    /// `if i[a] > imm(b) goto c`, signed.
    JGtI = "jgti", [Read(I), Imm, Target], Branch;
    /// `if i[a] >= imm(b) goto c`, signed.
    JGeI = "jgei", [Read(I), Imm, Target], Branch;

    // ---- f64 arithmetic: f[a] = f[b] op f[c] ----
    /// `f[a] = f[b] + f[c]`.
    FAdd = "fadd", [Write(F), Read(F), Read(F)], Next;
    /// `f[a] = f[b] - f[c]`.
    FSub = "fsub", [Write(F), Read(F), Read(F)], Next;
    /// `f[a] = f[b] * f[c]`.
    FMul = "fmul", [Write(F), Read(F), Read(F)], Next;
    /// `f[a] = f[b] / f[c]` (IEEE: no trap on zero).
    FDiv = "fdiv", [Write(F), Read(F), Read(F)], Next;
    // ---- f64 unary: f[a] = op f[b] ----
    /// `f[a] = -f[b]`.
    FNeg = "fneg", [Write(F), Read(F), None], Next;
    /// `f[a] = |f[b]|`.
    FAbs = "fabs", [Write(F), Read(F), None], Next;
    /// `f[a] = sqrt(f[b])`; NaN for operands below zero.
    FSqrt = "fsqrt", [Write(F), Read(F), None], Next;
    /// `f[a] = floor(f[b])`.
    FFloor = "ffloor", [Write(F), Read(F), None], Next;

    // ---- f64 compares: i[a] = (f[b] cmp f[c]) as 0/1 ----
    /// `i[a] = (f[b] == f[c]) as i64`; 0 if either is NaN.
    FEq = "feq", [Write(I), Read(F), Read(F)], Next;
    /// `i[a] = (f[b] != f[c]) as i64`; 1 if either is NaN.
    FNe = "fne", [Write(I), Read(F), Read(F)], Next;
    /// `i[a] = (f[b] < f[c]) as i64`; 0 if either is NaN.
    FLt = "flt", [Write(I), Read(F), Read(F)], Next;
    /// `i[a] = (f[b] <= f[c]) as i64`; 0 if either is NaN.
    FLe = "fle", [Write(I), Read(F), Read(F)], Next;
    /// `i[a] = (f[b] > f[c]) as i64`; 0 if either is NaN.
    FGt = "fgt", [Write(I), Read(F), Read(F)], Next;
    /// `i[a] = (f[b] >= f[c]) as i64`; 0 if either is NaN.
    FGe = "fge", [Write(I), Read(F), Read(F)], Next;
    // ---- fused f64 compare-and-branch: if f[a] cmp f[b] goto c ----
    /// `if f[a] == f[b] goto c`; not taken if either is NaN.
    FJEq = "fjeq", [Read(F), Read(F), Target], Branch;
    /// `if f[a] != f[b] goto c`; taken if either is NaN.
    FJNe = "fjne", [Read(F), Read(F), Target], Branch;
    /// `if f[a] < f[b] goto c`; not taken if either is NaN.
    FJLt = "fjlt", [Read(F), Read(F), Target], Branch;
    /// `if f[a] <= f[b] goto c`; not taken if either is NaN.
    FJLe = "fjle", [Read(F), Read(F), Target], Branch;
    /// `if f[a] > f[b] goto c`; not taken if either is NaN.
    FJGt = "fjgt", [Read(F), Read(F), Target], Branch;
    /// `if f[a] >= f[b] goto c`; not taken if either is NaN.
    FJGe = "fjge", [Read(F), Read(F), Target], Branch;

    // ---- conversions ----
    /// `f[a] = i[b] as f64` (round to nearest).
    I2F = "i2f", [Write(F), Read(I), None], Next;
    /// `i[a] = f[b] as i64`: saturating, NaN gives 0.
    F2I = "f2i", [Write(I), Read(F), None], Next;

    // ---- control ----
    /// `goto a`.
    Jmp = "jmp", [Target, None, None], Jump;
    /// `if i[a] == 0 goto b`.
    Jz = "jz", [Read(I), Target, None], Branch;
    /// `if i[a] != 0 goto b`.
    Jnz = "jnz", [Read(I), Target, None], Branch;
    /// Call function `b` with arguments from window `c`; the result into `a`.
    Call = "call", [CallDst, Func, ArgWindow], Next;
    /// Call host import `b` with arguments from window `c`; the result into `a`.
    HostCall = "hcall", [CallDst, Host, ArgWindow], Next;
    /// Return nothing.
    Ret = "ret", [None, None, None], Return;
    /// Return `i[a]`.
    RetI = "reti", [Read(I), None, None], Return;
    /// Return `f[a]`.
    RetF = "retf", [Read(F), None, None], Return;
    /// Return `r[a]`.
    RetR = "retr", [Read(R), None, None], Return;

    // ---- typed arrays ----
    /// `r[a] = new i64 array of length i[b]`, zero-filled.
    NewI = "newi", [Write(R), Read(I), None], Next;
    /// `r[a] = new f64 array of length i[b]`, filled with 0.0.
    NewF = "newf", [Write(R), Read(I), None], Next;
    /// `r[a] = new ref array of length i[b]`, filled with null.
    NewR = "newr", [Write(R), Read(I), None], Next;
    /// `i[a] = length of r[b]` (any array kind).
    Len = "len", [Write(I), Read(R), None], Next;
    /// `i[a] = r[b][i[c]]`.
    GetI = "geti", [Write(I), Read(R), Read(I)], Next;
    /// `f[a] = r[b][i[c]]`.
    GetF = "getf", [Write(F), Read(R), Read(I)], Next;
    /// `r[a] = r[b][i[c]]`.
    GetR = "getr", [Write(R), Read(R), Read(I)], Next;
    /// `r[a][i[b]] = i[c]`.
    SetI = "seti", [Read(R), Read(I), Read(I)], Next;
    /// `r[a][i[b]] = f[c]`.
    SetF = "setf", [Read(R), Read(I), Read(F)], Next;
    /// `r[a][i[b]] = r[c]`.
    SetR = "setr", [Read(R), Read(I), Read(R)], Next;

    // ---- output ----
    /// Print string constant `a`.
    PrintS = "prints", [Str, None, None], Next;
    /// Print `i[a]` in decimal.
    PrintI = "printi", [Read(I), None, None], Next;
    /// Print `f[a]` with `b` digits after the point, as C's `%.<b>f`.
    PrintF = "printf", [Read(F), Count, None], Next;

    // ---- user traps ----
    /// Trap with user code `i[a]` (a language's `panic` or `error`): a
    /// `TrapKind::User` trap, reported with the code, the function, the op
    /// and its source line like every other trap.
    Trap = "trap", [Read(I), None, None], Trap;
    /// Trap with user code `a as i16 as i64`.
    TrapI = "trapi", [Imm, None, None], Trap;

    // ---- functions as values ----
    /// `r[a] =` the reference to function `b`: the same immutable object
    /// every time in one instance, with no environment. Its type is `b`'s
    /// signature.
    FRef = "fref", [Write(R), Func, None], Next;
    /// `r[a] =` a new closure of function `b` over the environment `r[c]`.
    /// `b` takes the environment as its last `r` parameter; the closure's
    /// type is `b`'s signature without it.
    Closure = "closure", [Write(R), Func, Read(R)], Next;
    /// Call the function reference `r[b]`, which must have type `a`, with
    /// arguments from window `c` (as `call`; a closure's environment goes to
    /// the callee's `r` register after the visible `r` parameters). The
    /// result goes to register `c` of the result bank.
    CallI = "calli", [Type, Read(R), ArgWindow], Next;
    /// Tail call of function `a` with arguments from window `b`: the callee
    /// replaces this activation (same frame, same depth) and its result is
    /// this function's result.
    TCall = "tcall", [Func, ArgWindow, None], Return;
    /// Tail call through the function reference `r[b]` of type `a`, with
    /// arguments from window `c`: `calli`'s checks, `tcall`'s frame reuse.
    TCallI = "tcalli", [Type, Read(R), ArgWindow], Return;

    // ---- globals: per instance, one index space per bank ----
    /// `i[a] = ` i64 global `b`.
    GGetI = "ggeti", [Write(I), Global(I), None], Next;
    /// `f[a] = ` f64 global `b`.
    GGetF = "ggetf", [Write(F), Global(F), None], Next;
    /// `r[a] = ` reference global `b`.
    GGetR = "ggetr", [Write(R), Global(R), None], Next;
    /// i64 global `a = i[b]`.
    GSetI = "gseti", [Global(I), Read(I), None], Next;
    /// f64 global `a = f[b]`.
    GSetF = "gsetf", [Global(F), Read(F), None], Next;
    /// Reference global `a = r[b]`.
    GSetR = "gsetr", [Global(R), Read(R), None], Next;

    // ---- multi-way branch ----
    /// Jump to case `i[a]` of switch table `b` of the function when
    /// `0 <= i[a] < ` its length, else to its default. Every target lies
    /// after the op.
    Switch = "switch", [Read(I), Table, None], Switch;

    // ---- byte arrays, strings, bulk operations ----
    /// `r[a] = new byte array of length i[b]`, zero-filled (one byte per
    /// element).
    NewB = "newb", [Write(R), Read(I), None], Next;
    /// `i[a] = r[b][i[c]]`: a byte of a byte array or string, zero-extended.
    GetB = "getb", [Write(I), Read(R), Read(I)], Next;
    /// `r[a][i[b]] = i[c] & 0xff` in a byte array (a string traps: immutable).
    SetB = "setb", [Read(R), Read(I), Read(I)], Next;
    /// `r[a] =` the immutable byte string of string constant `b`: the same
    /// object every time in one instance, without allocating.
    SConst = "sconst", [Write(R), Str, None], Next;
    /// Write the bytes of byte array or string `r[a]` to the output as they
    /// are.
    PrintB = "printb", [Read(R), None, None], Next;
    /// Copy `i[c+2]` elements of `r[b]` from index `i[c+1]` to `r[a]` from
    /// index `i[c]` (overlapping ranges as `memmove`). Both arrays of one
    /// element kind (i64 in either form, f64, references, or bytes, whose
    /// source may be a string); nothing is written when it traps.
    Copy = "copy", [Read(R), Read(R), ReadRun(I, 3)], Next;
    /// Store `i[c]` into the `i[b+1]` elements of `r[a]` from index `i[b]`:
    /// an i64 array, or a byte array (the low 8 bits).
    FillI = "filli", [Read(R), ReadRun(I, 2), Read(I)], Next;
    /// Store `f[c]` into the `i[b+1]` elements of f64 array `r[a]` from
    /// index `i[b]`.
    FillF = "fillf", [Read(R), ReadRun(I, 2), Read(F)], Next;
    /// Store `r[c]` into the `i[b+1]` elements of reference array `r[a]`
    /// from index `i[b]`.
    FillR = "fillr", [Read(R), ReadRun(I, 2), Read(R)], Next;

    // ---- unsigned and bit ops ----
    /// `i[a] = (i[b] as u64 / i[c] as u64) as i64`; traps on a zero divisor
    /// as `div` does.
    UDiv = "udiv", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = (i[b] as u64 % i[c] as u64) as i64`; traps on a zero divisor
    /// as `rem` does.
    URem = "urem", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = (i[b] as u64 < i[c] as u64) as i64`.
    ULt = "ult", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = (i[b] as u64 <= i[c] as u64) as i64`.
    ULe = "ule", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = (i[b] as u64 > i[c] as u64) as i64`.
    UGt = "ugt", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = (i[b] as u64 >= i[c] as u64) as i64`.
    UGe = "uge", [Write(I), Read(I), Read(I)], Next;
    /// `if i[a] as u64 < i[b] as u64 goto c`.
    JULt = "jult", [Read(I), Read(I), Target], Branch;
    /// `if i[a] as u64 <= i[b] as u64 goto c`.
    JULe = "jule", [Read(I), Read(I), Target], Branch;
    /// `if i[a] as u64 > i[b] as u64 goto c`.
    JUGt = "jugt", [Read(I), Read(I), Target], Branch;
    /// `if i[a] as u64 >= i[b] as u64 goto c`.
    JUGe = "juge", [Read(I), Read(I), Target], Branch;
    /// `i[a] =` the number of one bits of `i[b]`.
    Popcnt = "popcnt", [Write(I), Read(I), None], Next;
    /// `i[a] =` the number of leading zero bits of `i[b]` (64 for 0).
    Clz = "clz", [Write(I), Read(I), None], Next;
    /// `i[a] =` the number of trailing zero bits of `i[b]` (64 for 0).
    Ctz = "ctz", [Write(I), Read(I), None], Next;
    /// `i[a] = i[b]` rotated left by `i[c] mod 64`.
    Rotl = "rotl", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b]` rotated right by `i[c] mod 64`.
    Rotr = "rotr", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = i[b]` rotated left by `imm(c) mod 64` (right by k is left
    /// by 64 - k).
    RotlI = "rotli", [Write(I), Read(I), Imm], Next;
    /// `i[a] = min(i[b], i[c])`, signed.
    Min = "min", [Write(I), Read(I), Read(I)], Next;
    /// `i[a] = max(i[b], i[c])`, signed.
    Max = "max", [Write(I), Read(I), Read(I)], Next;

    // ---- select: conditional moves, branch-free in compiled code ----
    /// `if i[c] != 0 { i[a] = i[b] }`.
    Sel = "sel", [Update(I), Read(I), Read(I)], Next;
    /// `if i[c] != 0 { f[a] = f[b] }` (the bits, NaNs unchanged).
    FSel = "fsel", [Update(F), Read(F), Read(I)], Next;
    /// `if i[c] != 0 { r[a] = r[b] }`.
    RSel = "rsel", [Update(R), Read(R), Read(I)], Next;

    // ---- extensions: i[a] = the low bits of i[b], extended ----
    /// `i[a] = i[b] as i8 as i64`.
    Sext8 = "sext8", [Write(I), Read(I), None], Next;
    /// `i[a] = i[b] as i16 as i64`.
    Sext16 = "sext16", [Write(I), Read(I), None], Next;
    /// `i[a] = i[b] as i32 as i64`.
    Sext32 = "sext32", [Write(I), Read(I), None], Next;
    /// `i[a] = i[b] as u8 as i64`.
    Zext8 = "zext8", [Write(I), Read(I), None], Next;
    /// `i[a] = i[b] as u16 as i64`.
    Zext16 = "zext16", [Write(I), Read(I), None], Next;
    /// `i[a] = i[b] as u32 as i64`.
    Zext32 = "zext32", [Write(I), Read(I), None], Next;

    // ---- float ops ----
    /// `f[a] = f[b] * f[c] + f[a]` with one rounding (`f64::mul_add`); a
    /// NaN result is the NaN of `f[b] * f[c] + f[a]` rounded twice (see
    /// `runtime::float::fma`).
    Fma = "fma", [Update(F), Read(F), Read(F)], Next;
    /// `f[a] =` IEEE 754-2019 `minimum(f[b], f[c])`: -0.0 < +0.0; a NaN
    /// operand gives the NaN of `f[b] + f[c]`.
    FMin = "fmin", [Write(F), Read(F), Read(F)], Next;
    /// `f[a] =` IEEE 754-2019 `maximum(f[b], f[c])`: -0.0 < +0.0; a NaN
    /// operand gives the NaN of `f[b] + f[c]`.
    FMax = "fmax", [Write(F), Read(F), Read(F)], Next;
    /// `f[a] = ceil(f[b])`.
    FCeil = "fceil", [Write(F), Read(F), None], Next;
    /// `f[a] = trunc(f[b])` (toward zero).
    FTrunc = "ftrunc", [Write(F), Read(F), None], Next;
    /// `f[a] =` `f[b]` rounded to the nearest integer, ties to even.
    FRound = "fround", [Write(F), Read(F), None], Next;
    /// `f[a] =` the magnitude of `f[b]` with the sign of `f[c]` (bits: a
    /// NaN keeps its payload).
    FCopysign = "fcopysign", [Write(F), Read(F), Read(F)], Next;
    /// `i[a] =` the bits of `f[b]`.
    FBits = "fbits", [Write(I), Read(F), None], Next;
    /// `f[a] =` the f64 whose bits are `i[b]`.
    BitsF = "bitsf", [Write(F), Read(I), None], Next;

    // ---- structs and reference tests ----
    /// `r[a] =` a new struct of type `b`, every field 0, 0.0 or null.
    SNew = "snew", [Write(R), Struct, None], Next;
    /// `i[a] = r[b].c`: i64 field `c` of the struct `r[b]`, which must be of
    /// the field's struct type or a descendant.
    SGetI = "sgeti", [Write(I), Read(R), Field(I)], Next;
    /// `f[a] = r[b].c`: f64 field `c`.
    SGetF = "sgetf", [Write(F), Read(R), Field(F)], Next;
    /// `r[a] = r[b].c`: reference field `c`.
    SGetR = "sgetr", [Write(R), Read(R), Field(R)], Next;
    /// `r[a].b = i[c]`: i64 field `b` of the struct `r[a]`.
    SSetI = "sseti", [Read(R), Field(I), Read(I)], Next;
    /// `r[a].b = f[c]`: f64 field `b`.
    SSetF = "ssetf", [Read(R), Field(F), Read(F)], Next;
    /// `r[a].b = r[c]`: reference field `b`.
    SSetR = "ssetr", [Read(R), Field(R), Read(R)], Next;
    /// `i[a] = 1` if `r[b]` is a struct of type `c` or of a descendant of
    /// it, else 0 (null, arrays, function references, other structs).
    Isa = "isa", [Write(I), Read(R), Struct], Next;
    /// `i[a] = (r[b] == null) as i64`.
    IsNull = "isnull", [Write(I), Read(R), None], Next;
    /// `i[a] = (r[b] == r[c]) as i64`: the same object (or both null).
    REq = "req", [Write(I), Read(R), Read(R)], Next;
    /// `if r[a] == null goto b`.
    JNull = "jnull", [Read(R), Target, None], Branch;
    /// `if r[a] != null goto b`.
    JNNull = "jnnull", [Read(R), Target, None], Branch;
}

/// The type of a function reference whose signature is not in the module's
/// type table: no indirect call can match it.
pub const NO_TYPE: u32 = u32::MAX;

/// The largest digit count of `printf` (C's printf allows more, but nobody needs it).
pub const MAX_PRINTF_DIGITS: u16 = 40;

impl Opcode {
    /// The opcode with this encoding, if any.
    pub fn from_u8(byte: u8) -> Option<Opcode> {
        Opcode::ALL.get(byte as usize).copied()
    }

    /// The comparison of a compare or fused compare-and-branch op.
    pub fn cmp(self) -> Option<Cmp> {
        use Opcode::*;
        Some(match self {
            Eq | EqI | JEq | JEqI | FEq | FJEq => Cmp::Eq,
            Ne | NeI | JNe | JNeI | FNe | FJNe => Cmp::Ne,
            Lt | LtI | JLt | JLtI | FLt | FJLt => Cmp::Lt,
            Le | LeI | JLe | JLeI | FLe | FJLe => Cmp::Le,
            Gt | GtI | JGt | JGtI | FGt | FJGt => Cmp::Gt,
            Ge | GeI | JGe | JGeI | FGe | FJGe => Cmp::Ge,
            _ => return Option::None,
        })
    }

    /// The comparison of an unsigned compare or fused compare-and-branch
    /// op (`ult`, `jult`, ...): compare as `u64`, with [`Cmp::uint`].
    /// The signed ops answer [`Opcode::cmp`] instead.
    pub fn unsigned_cmp(self) -> Option<Cmp> {
        use Opcode::*;
        Some(match self {
            ULt | JULt => Cmp::Lt,
            ULe | JULe => Cmp::Le,
            UGt | JUGt => Cmp::Gt,
            UGe | JUGe => Cmp::Ge,
            _ => return Option::None,
        })
    }

    /// The operation of a bit-counting op (`popcnt`, `clz`, `ctz`).
    pub fn bit_count(self) -> Option<BitCount> {
        use Opcode::*;
        Some(match self {
            Popcnt => BitCount::Popcnt,
            Clz => BitCount::Clz,
            Ctz => BitCount::Ctz,
            _ => return Option::None,
        })
    }

    /// The extension of a `sext*` or `zext*` op.
    pub fn extension(self) -> Option<Extension> {
        use Opcode::*;
        Some(match self {
            Sext8 => Extension::S8,
            Sext16 => Extension::S16,
            Sext32 => Extension::S32,
            Zext8 => Extension::U8,
            Zext16 => Extension::U16,
            Zext32 => Extension::U32,
            _ => return Option::None,
        })
    }

    /// The bank of a select op (`sel`, `fsel`, `rsel`).
    pub fn select_bank(self) -> Option<Bank> {
        use Opcode::*;
        match self {
            Sel => Some(Bank::I),
            FSel => Some(Bank::F),
            RSel => Some(Bank::R),
            _ => None,
        }
    }

    /// The operation of an i64 binary op, in either form.
    pub fn int_binop(self) -> Option<IntBinOp> {
        use Opcode::*;
        Some(match self {
            Add | AddI => IntBinOp::Add,
            Sub | SubI => IntBinOp::Sub,
            Mul | MulI => IntBinOp::Mul,
            Div | DivI => IntBinOp::Div,
            Rem | RemI => IntBinOp::Rem,
            And | AndI => IntBinOp::And,
            Or | OrI => IntBinOp::Or,
            Xor | XorI => IntBinOp::Xor,
            Shl | ShlI => IntBinOp::Shl,
            Shr | ShrI => IntBinOp::Shr,
            Ushr | UshrI => IntBinOp::Ushr,
            _ => return Option::None,
        })
    }

    /// The operation of an f64 binary op.
    pub fn float_binop(self) -> Option<FloatBinOp> {
        use Opcode::*;
        Some(match self {
            FAdd => FloatBinOp::Add,
            FSub => FloatBinOp::Sub,
            FMul => FloatBinOp::Mul,
            FDiv => FloatBinOp::Div,
            _ => return Option::None,
        })
    }

    /// The operation of an f64 unary op.
    pub fn float_unop(self) -> Option<FloatUnOp> {
        use Opcode::*;
        Some(match self {
            FNeg => FloatUnOp::Neg,
            FAbs => FloatUnOp::Abs,
            FSqrt => FloatUnOp::Sqrt,
            FFloor => FloatUnOp::Floor,
            FCeil => FloatUnOp::Ceil,
            FTrunc => FloatUnOp::Trunc,
            FRound => FloatUnOp::Round,
            _ => return Option::None,
        })
    }

    /// The bank a move or a value-returning `ret` transfers.
    pub fn transfer_bank(self) -> Option<Bank> {
        use Opcode::*;
        match self {
            Mov | RetI => Some(Bank::I),
            FMov | RetF => Some(Bank::F),
            RMov | RetR => Some(Bank::R),
            _ => None,
        }
    }

    /// Whether the op is a tail call (`tcall`, `tcalli`): it ends the
    /// function like a return, the callee's result being its result.
    pub fn is_tail_call(self) -> bool {
        matches!(self, Opcode::TCall | Opcode::TCallI)
    }

    /// Whether the op calls through a function reference (`calli`,
    /// `tcalli`).
    pub fn is_indirect_call(self) -> bool {
        matches!(self, Opcode::CallI | Opcode::TCallI)
    }

    /// The bank of the global a `gget*` or `gset*` op reads or writes.
    pub fn global_bank(self) -> Option<Bank> {
        use Opcode::*;
        match self {
            GGetI | GSetI => Some(Bank::I),
            GGetF | GSetF => Some(Bank::F),
            GGetR | GSetR => Some(Bank::R),
            _ => None,
        }
    }

    /// Whether one of the op's fields names a struct type or a field.
    pub fn names_struct(self) -> bool {
        self.operands()
            .iter()
            .any(|k| matches!(k, Operand::Struct | Operand::Field(_)))
    }

    /// The bank of the field a struct field op (`sget*`, `sset*`) reads or
    /// writes.
    pub fn field_bank(self) -> Option<Bank> {
        use Opcode::*;
        match self {
            SGetI | SSetI => Some(Bank::I),
            SGetF | SSetF => Some(Bank::F),
            SGetR | SSetR => Some(Bank::R),
            _ => None,
        }
    }

    /// The bank of the elements an array op (`new*`, `get*`, `set*`)
    /// creates or moves: the array's element kind follows from it.
    pub fn element_bank(self) -> Option<Bank> {
        use Opcode::*;
        match self {
            NewI | GetI | SetI => Some(Bank::I),
            NewF | GetF | SetF => Some(Bank::F),
            NewR | GetR | SetR => Some(Bank::R),
            _ => None,
        }
    }
}

/// The value of a field holding an [`Operand::Imm`]: its 16 bits as `i16`,
/// sign-extended. The one decoding every engine uses.
#[inline]
pub const fn imm16(field: u16) -> i64 {
    field as i16 as i64
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mnemonic())
    }
}

/// One instruction: 8 bytes in the encoded form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Op {
    /// What the op does.
    pub opcode: Opcode,
    /// Reserved: 0 in every op today. Encoded so later ops can use it.
    pub flags: u8,
    /// Field A; its meaning is given by [`Opcode::operands`].
    pub a: u16,
    /// Field B; its meaning is given by [`Opcode::operands`].
    pub b: u16,
    /// Field C; its meaning is given by [`Opcode::operands`].
    pub c: u16,
}

/// Why 8 bytes do not decode to an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown opcode {0:#04x}")]
pub struct DecodeError(
    /// The opcode byte that names no opcode.
    pub u8,
);

impl Op {
    /// An op with flags 0.
    pub const fn new(opcode: Opcode, a: u16, b: u16, c: u16) -> Op {
        Op {
            opcode,
            flags: 0,
            a,
            b,
            c,
        }
    }

    /// The three fields A, B, C, indexable by field number.
    pub fn fields(&self) -> [u16; 3] {
        [self.a, self.b, self.c]
    }

    /// Replace field `i` (0 = A, 1 = B, 2 = C).
    pub fn set_field(&mut self, i: usize, v: u16) {
        match i {
            0 => self.a = v,
            1 => self.b = v,
            _ => self.c = v,
        }
    }

    /// The jump target, for branches and jumps.
    #[inline]
    pub fn target(&self) -> Option<u16> {
        self.opcode.target_field().map(|i| self.fields()[i])
    }

    /// The 8-byte encoding.
    pub fn encode(&self) -> [u8; 8] {
        let [a0, a1] = self.a.to_le_bytes();
        let [b0, b1] = self.b.to_le_bytes();
        let [c0, c1] = self.c.to_le_bytes();
        [self.opcode as u8, self.flags, a0, a1, b0, b1, c0, c1]
    }

    /// Decode 8 bytes.
    pub fn decode(bytes: [u8; 8]) -> Result<Op, DecodeError> {
        let opcode = Opcode::from_u8(bytes[0]).ok_or(DecodeError(bytes[0]))?;
        Ok(Op {
            opcode,
            flags: bytes[1],
            a: u16::from_le_bytes([bytes[2], bytes[3]]),
            b: u16::from_le_bytes([bytes[4], bytes[5]]),
            c: u16::from_le_bytes([bytes[6], bytes[7]]),
        })
    }
}

/// Opcode constructors from the operation enums: the inverses of
/// [`Opcode::int_binop`], [`Opcode::cmp`], [`Opcode::float_binop`] and
/// [`Opcode::float_unop`], for the builder.
impl Opcode {
    /// The register-register i64 op: `i[a] = i[b] op i[c]`.
    pub fn int_rr(op: IntBinOp) -> Opcode {
        match op {
            IntBinOp::Add => Opcode::Add,
            IntBinOp::Sub => Opcode::Sub,
            IntBinOp::Mul => Opcode::Mul,
            IntBinOp::Div => Opcode::Div,
            IntBinOp::Rem => Opcode::Rem,
            IntBinOp::And => Opcode::And,
            IntBinOp::Or => Opcode::Or,
            IntBinOp::Xor => Opcode::Xor,
            IntBinOp::Shl => Opcode::Shl,
            IntBinOp::Shr => Opcode::Shr,
            IntBinOp::Ushr => Opcode::Ushr,
        }
    }

    /// The register-immediate i64 op: `i[a] = i[b] op imm(c)`.
    pub fn int_ri(op: IntBinOp) -> Opcode {
        match op {
            IntBinOp::Add => Opcode::AddI,
            IntBinOp::Sub => Opcode::SubI,
            IntBinOp::Mul => Opcode::MulI,
            IntBinOp::Div => Opcode::DivI,
            IntBinOp::Rem => Opcode::RemI,
            IntBinOp::And => Opcode::AndI,
            IntBinOp::Or => Opcode::OrI,
            IntBinOp::Xor => Opcode::XorI,
            IntBinOp::Shl => Opcode::ShlI,
            IntBinOp::Shr => Opcode::ShrI,
            IntBinOp::Ushr => Opcode::UshrI,
        }
    }

    /// The i64 register-register compare: `i[a] = i[b] cmp i[c]`.
    pub fn cmp_rr(cmp: Cmp) -> Opcode {
        match cmp {
            Cmp::Eq => Opcode::Eq,
            Cmp::Ne => Opcode::Ne,
            Cmp::Lt => Opcode::Lt,
            Cmp::Le => Opcode::Le,
            Cmp::Gt => Opcode::Gt,
            Cmp::Ge => Opcode::Ge,
        }
    }

    /// The i64 register-immediate compare: `i[a] = i[b] cmp imm(c)`.
    pub fn cmp_ri(cmp: Cmp) -> Opcode {
        match cmp {
            Cmp::Eq => Opcode::EqI,
            Cmp::Ne => Opcode::NeI,
            Cmp::Lt => Opcode::LtI,
            Cmp::Le => Opcode::LeI,
            Cmp::Gt => Opcode::GtI,
            Cmp::Ge => Opcode::GeI,
        }
    }

    /// The fused i64 register-register branch: `if i[a] cmp i[b] goto c`.
    pub fn branch_rr(cmp: Cmp) -> Opcode {
        match cmp {
            Cmp::Eq => Opcode::JEq,
            Cmp::Ne => Opcode::JNe,
            Cmp::Lt => Opcode::JLt,
            Cmp::Le => Opcode::JLe,
            Cmp::Gt => Opcode::JGt,
            Cmp::Ge => Opcode::JGe,
        }
    }

    /// The fused i64 register-immediate branch: `if i[a] cmp imm(b) goto c`.
    pub fn branch_ri(cmp: Cmp) -> Opcode {
        match cmp {
            Cmp::Eq => Opcode::JEqI,
            Cmp::Ne => Opcode::JNeI,
            Cmp::Lt => Opcode::JLtI,
            Cmp::Le => Opcode::JLeI,
            Cmp::Gt => Opcode::JGtI,
            Cmp::Ge => Opcode::JGeI,
        }
    }

    /// The unsigned i64 compare `i[a] = i[b] cmp i[c]` (`ult`, ...), for
    /// the orders (`Eq` and `Ne` have no unsigned form: `None`).
    pub fn ucmp_rr(cmp: Cmp) -> Option<Opcode> {
        match cmp {
            Cmp::Lt => Some(Opcode::ULt),
            Cmp::Le => Some(Opcode::ULe),
            Cmp::Gt => Some(Opcode::UGt),
            Cmp::Ge => Some(Opcode::UGe),
            Cmp::Eq | Cmp::Ne => None,
        }
    }

    /// The fused unsigned branch `if i[a] cmp i[b] goto c` (`jult`, ...),
    /// for the orders (`Eq` and `Ne`: `None`).
    pub fn ubranch_rr(cmp: Cmp) -> Option<Opcode> {
        match cmp {
            Cmp::Lt => Some(Opcode::JULt),
            Cmp::Le => Some(Opcode::JULe),
            Cmp::Gt => Some(Opcode::JUGt),
            Cmp::Ge => Some(Opcode::JUGe),
            Cmp::Eq | Cmp::Ne => None,
        }
    }

    /// The f64 compare: `i[a] = f[b] cmp f[c]`.
    pub fn fcmp_rr(cmp: Cmp) -> Opcode {
        match cmp {
            Cmp::Eq => Opcode::FEq,
            Cmp::Ne => Opcode::FNe,
            Cmp::Lt => Opcode::FLt,
            Cmp::Le => Opcode::FLe,
            Cmp::Gt => Opcode::FGt,
            Cmp::Ge => Opcode::FGe,
        }
    }

    /// The fused f64 branch: `if f[a] cmp f[b] goto c`.
    pub fn fbranch_rr(cmp: Cmp) -> Opcode {
        match cmp {
            Cmp::Eq => Opcode::FJEq,
            Cmp::Ne => Opcode::FJNe,
            Cmp::Lt => Opcode::FJLt,
            Cmp::Le => Opcode::FJLe,
            Cmp::Gt => Opcode::FJGt,
            Cmp::Ge => Opcode::FJGe,
        }
    }

    /// The f64 binary op: `f[a] = f[b] op f[c]`.
    pub fn float_rr(op: FloatBinOp) -> Opcode {
        match op {
            FloatBinOp::Add => Opcode::FAdd,
            FloatBinOp::Sub => Opcode::FSub,
            FloatBinOp::Mul => Opcode::FMul,
            FloatBinOp::Div => Opcode::FDiv,
        }
    }

    /// The f64 unary op: `f[a] = op f[b]`.
    pub fn float_un(op: FloatUnOp) -> Opcode {
        match op {
            FloatUnOp::Neg => Opcode::FNeg,
            FloatUnOp::Abs => Opcode::FAbs,
            FloatUnOp::Sqrt => Opcode::FSqrt,
            FloatUnOp::Floor => Opcode::FFloor,
            FloatUnOp::Ceil => Opcode::FCeil,
            FloatUnOp::Trunc => Opcode::FTrunc,
            FloatUnOp::Round => Opcode::FRound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_is_eight_bytes_and_round_trips() {
        assert_eq!(std::mem::size_of::<Op>(), 8);
        for (i, &opc) in Opcode::ALL.iter().enumerate() {
            assert_eq!(opc as usize, i);
            let op = Op::new(opc, 1, 0xfffe, 0x8000);
            assert_eq!(Op::decode(op.encode()).unwrap(), op);
        }
        let n = Opcode::ALL.len() as u8;
        assert_eq!(Op::decode([n, 0, 0, 0, 0, 0, 0, 0]), Err(DecodeError(n)));
    }

    #[test]
    fn every_mnemonic_is_unique_except_iconst() {
        let mut seen = std::collections::HashMap::new();
        for &opc in Opcode::ALL {
            if let Some(prev) = seen.insert(opc.mnemonic(), opc) {
                assert_eq!((prev, opc), (Opcode::IConst, Opcode::IConstK));
            }
        }
    }
}
