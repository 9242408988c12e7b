//! Lark: the reference language of tierjit, a small statically typed
//! language compiled to the bytecode through the public
//! [`ModuleBuilder`](crate::bytecode::ModuleBuilder), as any language
//! implementer outside the crate would (see `docs/language.md`).
//!
//! [`compile`] runs the passes in order: [`lexer`] (text to tokens),
//! [`parser`] (tokens to the [`ast`]), [`types`] (names resolved, types
//! checked; generic instances are made by [`generics`], and the standard
//! [`library`]'s items are declared as the program uses them) and
//! [`codegen`] (the checked tree to a verified module). Every
//! error is a [`LangError`] naming the file, line and column; no input
//! makes any pass panic.
//!
//! ```
//! let module = tierjit::lang::compile(
//!     "fn main() -> int {\n    let x = 40\n    return x + 2\n}\n",
//!     "answer.lark",
//! )?;
//! assert_eq!(module.functions[0].name, "main");
//! # Ok::<(), tierjit::lang::LangError>(())
//! ```

pub mod ast;
pub mod codegen;
pub mod generics;
pub mod lexer;
pub mod library;
pub mod parser;
pub mod types;

#[cfg(test)]
mod tests;

use crate::bytecode::Module;
pub use ast::Pos;

/// The file name extension of Lark source files.
pub const EXTENSION: &str = "lark";

/// A compile error: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct LangError {
    /// The file name given to [`compile`].
    pub file: String,
    /// The line, from 1.
    pub line: u32,
    /// The column, from 1, in characters.
    pub col: u32,
    /// What is wrong.
    pub message: String,
}

impl LangError {
    /// An error at `pos` of `file`.
    pub fn new(file: &str, pos: Pos, message: String) -> LangError {
        LangError {
            file: file.to_owned(),
            line: pos.line,
            col: pos.col,
            message,
        }
    }
}

/// Compile Lark `source` (named `file_name` in errors) to a verified module
/// whose entry is its `main` function.
pub fn compile(source: &str, file_name: &str) -> Result<Module, LangError> {
    let (std, std_last) = library::library()?;
    let tokens = lexer::tokenize(source, file_name)?;
    let (program, last) = parser::parse_from(tokens, file_name, *std_last)?;
    let checked = types::check_with(&program, file_name, std, last)?;
    codegen::lower(&checked, file_name)
}
