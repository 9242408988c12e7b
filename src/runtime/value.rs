//! Values crossing the boundary between the embedder and the engines.

use crate::bytecode::Bank;
use std::fmt;

/// A reference as the embedder and host functions see it: a handle, not an
/// address (see [`crate::runtime::handles`]). It keeps its object alive until
/// it is released, and every use checks it, so a stale or made-up handle is
/// an error, never a wild pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Ref {
    /// The id of the heap whose handle table holds it (0 for null).
    pub(crate) heap: u32,
    /// Its slot in that table.
    pub(crate) slot: u32,
    /// The slot's generation when the handle was made.
    pub(crate) generation: u32,
}

impl Ref {
    /// The null reference.
    pub const NULL: Ref = Ref {
        heap: 0,
        slot: 0,
        generation: 0,
    };

    /// Whether this is null.
    pub fn is_null(self) -> bool {
        self.heap == 0
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

    /// The 8 bytes of an `i` or `f` value; a reference has no bits the
    /// embedder may see (0).
    pub fn to_bits(self) -> u64 {
        match self {
            Value::I(v) => v as u64,
            Value::F(v) => v.to_bits(),
            Value::R(_) => 0,
        }
    }

    /// An `i` or `f` value from a register's bits (a reference has no bits:
    /// null).
    pub(crate) fn from_register_bits(bank: Bank, bits: u64) -> Value {
        match bank {
            Bank::I => Value::I(bits as i64),
            Bank::F => Value::F(f64::from_bits(bits)),
            Bank::R => Value::R(Ref::NULL),
        }
    }

    /// Equality that compares f64 by bits (NaN == NaN with the same payload)
    /// and references by handle.
    pub fn bits_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::R(a), Value::R(b)) => a == b,
            _ => self.bank() == other.bank() && self.to_bits() == other.to_bits(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I(v) => write!(f, "{v}"),
            Value::F(v) => write!(f, "{v:?}"),
            Value::R(r) if r.is_null() => f.write_str("null"),
            Value::R(r) => write!(f, "ref#{}.{}", r.slot, r.generation),
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
