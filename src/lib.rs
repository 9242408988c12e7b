//! tierjit: a two-tier JIT for a typed register bytecode.
//!
//! See the README for an overview and `docs/architecture.md` for the design.

pub mod bytecode;
pub mod error;
pub mod runtime;

pub use error::{Error, ParseError, Result, VerifyError};
pub use runtime::trap::{Trap, TrapKind};
