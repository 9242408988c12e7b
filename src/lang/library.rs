//! The standard library: Lark source in `src/lang/std/*.lark`, built into
//! the crate, parsed once per process and always in scope. The checker
//! declares a library function or class only when the program uses it, so
//! only what is used is checked and compiled.

use std::sync::OnceLock;

use super::LangError;
use super::ast::{Item, NodeId};
use super::types::Library;
use super::{lexer, parser};

/// The library's files: their names (as errors show them) and sources.
pub const FILES: &[(&str, &str)] = &[
    ("std/strings.lark", include_str!("std/strings.lark")),
    ("std/vec.lark", include_str!("std/vec.lark")),
    ("std/map.lark", include_str!("std/map.lark")),
];

/// The user trap code of `Map.get` of a key the map does not hold.
pub const MISSING_KEY_TRAP: i64 = 2;

/// The user trap code of `parse_int` of text that is not an int.
pub const NOT_AN_INT_TRAP: i64 = 3;

static PARSED: OnceLock<Result<(Library, NodeId), LangError>> = OnceLock::new();

/// The parsed library and the highest [`NodeId`] in it (a program's nodes
/// are numbered after it).
pub fn library() -> Result<&'static (Library, NodeId), LangError> {
    PARSED.get_or_init(parse).as_ref().map_err(Clone::clone)
}

fn parse() -> Result<(Library, NodeId), LangError> {
    let mut library = Library::default();
    let mut last = 0;
    for &(file, source) in FILES {
        let tokens = lexer::tokenize(source, file)?;
        let (program, next) = parser::parse_from(tokens, file, last)?;
        last = next;
        library
            .items
            .extend(program.items.into_iter().map(|i: Item| (i, file)));
    }
    Ok((library, last))
}
