//! The text format (`.tj`): an assembly language for the bytecode.
//!
//! [`parse()`] turns text into an unverified [`Module`](crate::bytecode::Module)
//! ([`parse_bytes()`] does the same from the bytes of a file, checking that
//! they are UTF-8);
//! [`print()`] turns a module back into text. `parse(&print(&m)) == Ok(m)` for
//! every module whose constant pools and strings are deduplicated and in
//! order of first use, whose i64 constants are pooled exactly when they do
//! not fit 16 bits, whose `param_defaults` are empty or hold at least one
//! default, whose unused fields and flags are 0 and whose names are distinct
//! identifiers, up to [`Import::line`](crate::bytecode::Import::line) (the
//! parser sets it; printed imports are on lines 1, 2, ...). The syntax is
//! specified in `docs/text-format.md`.
//!
//! [`parse_int_literal()`] reads one integer with the format's literal
//! rules, for integers given elsewhere (command-line arguments).

mod lexer;
mod parser;
mod printer;

#[cfg(test)]
mod tests;

pub use parser::{parse, parse_bytes, parse_int_literal};
pub use printer::{print, print_annotated};
