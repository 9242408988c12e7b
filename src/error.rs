//! Error types of the public API.

use crate::runtime::compile_error::CompileError;
use crate::runtime::trap::Trap;
use crate::tiering::RunError;
use std::fmt;

/// A text-format error, with its place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
    /// What is wrong.
    pub message: String,
    /// The text of the offending line, for display.
    pub source_line: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)?;
        if !self.source_line.is_empty() {
            let pad = " ".repeat(self.column.saturating_sub(1) as usize);
            write!(f, "\n  | {}\n  | {pad}^", self.source_line)?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// A verification failure: the module breaks a rule of the bytecode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// The function's name, when the error is inside a function.
    pub function: Option<String>,
    /// The op index inside that function, when the error is about one op.
    pub pc: Option<u32>,
    /// The source line, when the module came from text.
    pub line: Option<u32>,
    /// Which rule is broken, and how.
    pub reason: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("verification failed")?;
        if let Some(func) = &self.function {
            write!(f, " in function `{func}`")?;
        }
        if let Some(pc) = self.pc {
            write!(f, " at op {pc}")?;
        }
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for VerifyError {}

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
