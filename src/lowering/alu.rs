//! The integer ALU op families both JIT tiers lower.

/// A two-operand integer operation. Shift counts are taken modulo 64 (both
/// ISAs' 64-bit shifts do so, matching the bytecode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// Wrapping addition.
    Add,
    /// Wrapping subtraction.
    Sub,
    /// Wrapping multiplication.
    Mul,
    /// Bitwise and.
    And,
    /// Bitwise or.
    Or,
    /// Bitwise exclusive or.
    Xor,
    /// Shift left.
    Shl,
    /// Arithmetic shift right.
    Sar,
    /// Logical shift right.
    Shr,
    /// Rotate left (count modulo 64).
    Rotl,
    /// Rotate right (count modulo 64).
    Rotr,
}

impl AluOp {
    /// Every value, for tests.
    pub const ALL: [AluOp; 11] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::And,
        AluOp::Or,
        AluOp::Xor,
        AluOp::Shl,
        AluOp::Sar,
        AluOp::Shr,
        AluOp::Rotl,
        AluOp::Rotr,
    ];
}
