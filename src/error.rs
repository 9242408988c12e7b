//! Error types of the public API.

pub use crate::bytecode::error::{ParseError, VerifyError};
use crate::runtime::compile_error::CompileError;
use crate::runtime::trap::Trap;
use crate::tiering::RunError;

/// Every error the library returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text format does not parse.
    #[error("parse error at {0}")]
    Parse(#[from] ParseError),
    /// The module does not verify.
    #[error("{0}")]
    Verify(#[from] VerifyError),
    /// A runtime trap ended a call.
    #[error("{0}")]
    Trap(#[from] Trap),
    /// A function could not be compiled (by [`crate::Instance::compile_function`],
    /// [`crate::Instance::tier_up`], or when a call first reached it).
    #[error("{0}")]
    Compile(#[from] CompileError),
    /// A host import that is not bound, or bound with another signature.
    #[error("link error: {0}")]
    Link(String),
    /// A call from the embedder that does not fit the callee.
    #[error("call error: {0}")]
    Call(String),
    /// An access to the program's objects from Rust failed (a stale or
    /// foreign handle, a wrong kind, an index out of bounds).
    #[error("object access: {0}")]
    Object(#[from] crate::runtime::objects::ObjectError),
    /// A bad configuration value (for example `TIERJIT_TIER`).
    #[error("configuration error: {0}")]
    Config(String),
    /// A bytecode image that does not decode.
    #[error("decode error: {0}")]
    Decode(String),
    /// Reading or writing a file or stream failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<RunError> for Error {
    fn from(e: RunError) -> Error {
        match e {
            RunError::Trap(t) => Error::Trap(t),
            RunError::Compile(c) => Error::Compile(c),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::compile_error::CompileFailure;
    use crate::runtime::context::FuncTier;

    #[test]
    fn a_failed_compile_is_a_compile_error_not_a_trap() {
        let e = CompileError {
            func: 3,
            func_name: "f".into(),
            tier: FuncTier::Cranelift,
            failure: CompileFailure::Cranelift("verifier errors".into()),
        };
        let err = Error::from(RunError::Compile(e.clone()));
        assert!(matches!(&err, Error::Compile(c) if *c == e));
        assert_eq!(
            err.to_string(),
            "cannot compile function `f` in the Cranelift tier: Cranelift: verifier errors"
        );
    }
}
