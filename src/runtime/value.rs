//! Values crossing the boundary between the embedder and the engines.

use crate::bytecode::Bank;
use std::fmt;

/// A reference as the embedder sees it: opaque, valid until the next call
/// into the instance (the collector may free it after that).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Ref(pub(crate) u64);

impl Ref {
    /// The null reference.
    pub const NULL: Ref = Ref(0);

    /// Whether this is null.
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
}

/// One register's worth of value, in one of the three banks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// An `i` (i64) value.
    I(i64),
    /// An `f` (f64) value.
    F(f64),
    /// An `r` (reference) value.
    R(Ref),
}

impl Value {
    /// The bank this value belongs to.
    pub fn bank(&self) -> Bank {
        match self {
            Value::I(_) => Bank::I,
            Value::F(_) => Bank::F,
            Value::R(_) => Bank::R,
        }
    }

    /// The raw 8 bytes stored in a register slot.
    pub fn to_bits(self) -> u64 {
        match self {
            Value::I(v) => v as u64,
            Value::F(v) => v.to_bits(),
            Value::R(r) => r.0,
        }
    }

    /// A value of `bank` from a register slot's raw bits.
    pub fn from_bits(bank: Bank, bits: u64) -> Value {
        match bank {
            Bank::I => Value::I(bits as i64),
            Bank::F => Value::F(f64::from_bits(bits)),
            Bank::R => Value::R(Ref(bits)),
        }
    }

    /// Equality that compares f64 by bits (NaN == NaN with the same payload).
    pub fn bits_eq(&self, other: &Value) -> bool {
        self.bank() == other.bank() && self.to_bits() == other.to_bits()
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I(v) => write!(f, "{v}"),
            Value::F(v) => write!(f, "{v:?}"),
            Value::R(r) if r.is_null() => f.write_str("null"),
            Value::R(r) => write!(f, "ref@{:#x}", r.0),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::I(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::F(v)
    }
}
