//! Errors of the bytecode layer: text that does not parse, modules that do
//! not verify.

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
