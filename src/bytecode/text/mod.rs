//! The text format (`.tj`): an assembly language for the bytecode.
//!
//! [`parse`] turns text into an unverified [`Module`](crate::bytecode::Module);
//! [`print`] turns a module back into text. `parse(&print(&m)) == Ok(m)` for
//! every module whose constant pools and strings are deduplicated and in
//! order of first use, whose i64 constants are pooled exactly when they do
//! not fit 16 bits, and whose names are identifiers. The syntax is
//! specified in `docs/text-format.md`.

mod lexer;
mod parser;
mod printer;

#[cfg(test)]
mod tests;

pub use parser::parse;
pub use printer::{print, print_annotated};
