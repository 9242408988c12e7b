//! What profilers and debuggers are told of compiled code: each code
//! version published into executable memory ([`CodeVersion`]: its
//! function, tier, address, and which op each piece of machine code
//! belongs to) and each one freed, through a [`CodeObserver`].
//!
//! Tier-neutral: the template tier and the Cranelift tier both report op
//! offsets ([`OpOffset`]) with their code, and the engine's code cache
//! calls the observers. With no observer registered nothing here is built.

use super::unwind::FrameUnwind;
use std::fmt;
use std::path::Path;

/// Which version of a function a piece of code is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CodeKind {
    /// The template code, entered at the start.
    Template,
    /// The Cranelift code, entered at the start.
    Cranelift,
    /// The Cranelift code entered at a loop header (on-stack replacement).
    LoopEntry {
        /// The op index of the loop header.
        header: u32,
    },
}

impl CodeKind {
    /// The tier's short name, as in display names: `template`, `cranelift`,
    /// `osr`.
    pub fn tier_name(self) -> &'static str {
        match self {
            CodeKind::Template => "template",
            CodeKind::Cranelift => "cranelift",
            CodeKind::LoopEntry { .. } => "osr",
        }
    }
}

/// Where an op's machine code starts; a version's list is sorted by
/// `code_offset` and an op's code runs to the next entry. Out-of-line stubs
/// (slow paths, trap exits) follow the last op; [`CodeVersion::stubs_offset`]
/// says where they start, if known. An entry whose `op` is
/// [`OpOffset::NO_OP`] starts code of no op (a Cranelift function's shared
/// exits, say).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpOffset {
    /// Offset of the code from the version's first byte.
    pub code_offset: u32,
    /// The op's index in its function, or [`OpOffset::NO_OP`].
    pub op: u32,
}

impl OpOffset {
    /// The `op` of code that belongs to no op.
    pub const NO_OP: u32 = u32::MAX;
}

/// One published code version, as profilers and debuggers are told of it.
#[derive(Clone, Copy, Debug)]
pub struct CodeVersion<'a> {
    /// The module's name: its file's stem, or `"module"` when unknown.
    pub module_name: &'a str,
    /// The source file (`.tj` or Lark) the ops' lines refer to, if known.
    pub source_path: Option<&'a str>,
    /// The function's index in its module.
    pub func: u32,
    /// The function's name (`"fib"`).
    pub func_name: &'a str,
    /// Which version it is.
    pub kind: CodeKind,
    /// Address of its first byte (its entry).
    pub addr: usize,
    /// Length of its code in bytes.
    pub len: usize,
    /// Machine code to op, sorted by offset; may be empty.
    pub ops: &'a [OpOffset],
    /// The source line (1-based) of each op of the function, by op index;
    /// empty when none is known.
    pub lines: &'a [u32],
    /// Where the out-of-line stubs after the last op start, if known.
    pub stubs_offset: Option<u32>,
    /// How its frames unwind (see [`crate::runtime::unwind`]).
    pub unwind: &'a FrameUnwind,
}

impl CodeVersion<'_> {
    /// `"fib [template]"`, `"fib [cranelift]"`, `"main@op17 [osr]"`.
    pub fn display_name(&self) -> String {
        self.to_string()
    }

    /// The name of its out-of-line stubs as a separate symbol
    /// (`"fib [template stubs]"`), and their offset and length, when
    /// [`CodeVersion::stubs_offset`] is known and the stubs take a byte.
    pub fn stubs(&self) -> Option<(String, u32, usize)> {
        let start = self.stubs_offset?;
        let len = self.len.checked_sub(start as usize).filter(|&l| l > 0)?;
        let name = format!("{} [{} stubs]", self.func_name, self.kind.tier_name());
        Some((name, start, len))
    }

    /// The op whose machine code holds the byte at `offset` from
    /// [`CodeVersion::addr`], if known: code before the first op's (the
    /// prologue) counts as the first op's, the stubs and code of no op as
    /// none.
    pub fn op_at(&self, offset: u32) -> Option<u32> {
        if offset as usize >= self.len || self.stubs_offset.is_some_and(|s| offset >= s) {
            return None;
        }
        let after = self.ops.partition_point(|o| o.code_offset <= offset);
        let entry = self.ops.get(after.saturating_sub(1))?;
        (entry.op != OpOffset::NO_OP).then_some(entry.op)
    }

    /// The source line of the machine code at `offset` from
    /// [`CodeVersion::addr`], if known.
    pub fn line_at(&self, offset: u32) -> Option<u32> {
        let op = self.op_at(offset)?;
        self.lines.get(op as usize).copied().filter(|&l| l > 0)
    }

    /// The first line of the function, if known (its first op's line: the
    /// line of a function's header has no op).
    pub fn first_line(&self) -> Option<u32> {
        self.lines.iter().copied().filter(|&l| l > 0).min()
    }
}

impl fmt::Display for CodeVersion<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            CodeKind::LoopEntry { header } => {
                write!(f, "{}@op{header} [osr]", self.func_name)
            }
            kind => write!(f, "{} [{}]", self.func_name, kind.tier_name()),
        }
    }
}

/// Where a module came from, as its code versions name it
/// ([`CodeVersion::module_name`], [`CodeVersion::source_path`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModuleSource {
    /// The file's stem, or [`ModuleSource::UNKNOWN_NAME`].
    pub name: String,
    /// The file its ops' lines refer to, if known.
    pub path: Option<String>,
}

impl Default for ModuleSource {
    fn default() -> ModuleSource {
        ModuleSource {
            name: ModuleSource::UNKNOWN_NAME.to_string(),
            path: None,
        }
    }
}

impl ModuleSource {
    /// The name of a module whose file is not known.
    pub const UNKNOWN_NAME: &'static str = "module";

    /// A module read from `path`: named by the file's stem, its lines
    /// referring to the file (made absolute when the current directory is
    /// known, so a profiler run elsewhere still finds it).
    pub fn of_file(path: &Path) -> ModuleSource {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ModuleSource::UNKNOWN_NAME.to_string());
        let full = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        ModuleSource {
            name,
            path: Some(full.to_string_lossy().into_owned()),
        }
    }
}

/// Told of every code version published into and freed from executable
/// memory. Called with the code cache's lock held: do not call back into
/// the engine.
pub trait CodeObserver: Send + Sync {
    /// `version` was published: its code is executable from now on.
    fn published(&self, version: &CodeVersion<'_>);
    /// The memory of the version published at `addr` is being freed
    /// (before it is unmapped or reused).
    fn freed(&self, addr: usize, len: usize);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version<'a>(ops: &'a [OpOffset], lines: &'a [u32], kind: CodeKind) -> CodeVersion<'a> {
        CodeVersion {
            module_name: "m",
            source_path: Some("m.tj"),
            func: 0,
            func_name: "fib",
            kind,
            addr: 0x1000,
            len: 100,
            ops,
            lines,
            stubs_offset: Some(80),
            unwind: &FrameUnwind::None,
        }
    }

    #[test]
    fn names() {
        let v = version(&[], &[], CodeKind::Template);
        assert_eq!(v.display_name(), "fib [template]");
        assert_eq!(
            v.stubs(),
            Some(("fib [template stubs]".to_string(), 80, 20))
        );
        let v = version(&[], &[], CodeKind::Cranelift);
        assert_eq!(v.display_name(), "fib [cranelift]");
        let v = version(&[], &[], CodeKind::LoopEntry { header: 17 });
        assert_eq!(v.display_name(), "fib@op17 [osr]");
    }

    #[test]
    fn lines_by_offset() {
        let ops = [
            OpOffset {
                code_offset: 10,
                op: 0,
            },
            OpOffset {
                code_offset: 20,
                op: 1,
            },
            OpOffset {
                code_offset: 30,
                op: OpOffset::NO_OP,
            },
            OpOffset {
                code_offset: 40,
                op: 2,
            },
        ];
        let lines = [3, 4, 7];
        let v = version(&ops, &lines, CodeKind::Template);
        // The prologue counts as the first op's.
        assert_eq!(v.line_at(0), Some(3));
        assert_eq!(v.line_at(10), Some(3));
        assert_eq!(v.line_at(19), Some(3));
        assert_eq!(v.line_at(20), Some(4));
        assert_eq!(v.line_at(35), None);
        assert_eq!(v.line_at(79), Some(7));
        // Stubs, and past the end.
        assert_eq!(v.line_at(80), None);
        assert_eq!(v.line_at(100), None);
        assert_eq!(v.first_line(), Some(3));
        let v = version(&ops, &[], CodeKind::Template);
        assert_eq!(v.line_at(20), None);
        assert_eq!(v.op_at(20), Some(1));
    }
}
