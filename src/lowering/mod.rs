//! What both JIT tiers lower the same way: the integer ALU op families and
//! division by constants. Nothing here emits code; each tier turns these
//! facts into its own instructions.

pub mod alu;
pub mod magic;

pub use alu::AluOp;
pub use magic::Magic;
