//! The code observer that registers each published code version with the
//! debugger and unregisters it when its memory is freed.
//!
//! Lines: when the version's module has a source file and its ops have
//! lines, the image maps the code to that file's lines (the prologue to the
//! first op's line, the out-of-line stubs and code of no op to line 0, "no
//! line"). Otherwise there is no file to show, and the image names a
//! synthetic file `<function>.ops` whose line N is op N-1 (DWARF lines start
//! at 1): `tierjit dis` numbers the ops, so gdb's `bt` and `info line` still
//! say which op a frame is in.

use super::elf::{self, Arch, FrameInfo, ImageError, ImageSpec, LineRow};
use super::{Registration, register};
use crate::runtime::code_info::{CodeKind, CodeObserver, CodeVersion, OpOffset};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Lock `m`, whatever a panicking thread left.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers every published version with the GDB JIT interface (see
/// [`crate::runtime::gdb_jit`]); made by the engine when
/// `Config::debug_info` is on.
pub struct GdbJitObserver {
    arch: Option<Arch>,
    /// `DW_AT_comp_dir`: the current directory when the observer was made
    /// (relative source paths are relative to it).
    comp_dir: String,
    /// The registration of each live version, by code address.
    versions: Mutex<HashMap<usize, Registration>>,
    /// How to describe a version's frames to the unwinder, if known.
    frame_info: fn(&CodeVersion<'_>) -> Option<FrameInfo>,
}

impl std::fmt::Debug for GdbJitObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GdbJitObserver")
            .field("registered", &lock(&self.versions).len())
            .finish()
    }
}

impl Default for GdbJitObserver {
    fn default() -> GdbJitObserver {
        GdbJitObserver::new()
    }
}

impl GdbJitObserver {
    /// An observer for code of this process's machine (on another machine
    /// it registers nothing).
    pub fn new() -> GdbJitObserver {
        GdbJitObserver {
            arch: Arch::host(),
            comp_dir: std::env::current_dir()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_else(|_| ".".to_string()),
            versions: Mutex::new(HashMap::new()),
            frame_info: frame_info_of,
        }
    }

    /// How many versions are registered now.
    pub fn registered(&self) -> usize {
        lock(&self.versions).len()
    }
}

/// Where an image's line numbers come from.
#[derive(Clone, Copy, Debug)]
enum Lines<'a> {
    /// The source file's line of each op (0: none).
    Source(&'a [u32]),
    /// The synthetic `<function>.ops`: line N is op N-1.
    OpIndex,
}

impl Lines<'_> {
    fn of(self, op: u32) -> u32 {
        match self {
            Lines::Source(lines) => lines.get(op as usize).copied().unwrap_or(0),
            Lines::OpIndex => op.saturating_add(1),
        }
    }
}

/// The source file an image names and where its lines come from: the real
/// file when there is one with lines, else the synthetic `<function>.ops`
/// (see the module documentation).
fn source_of<'a>(version: &CodeVersion<'a>) -> (String, Lines<'a>) {
    match version.source_path {
        Some(path) if !version.lines.is_empty() => (path.to_string(), Lines::Source(version.lines)),
        _ => (format!("{}.ops", version.func_name), Lines::OpIndex),
    }
}

/// The line rows of `version`: the entry (prologue) at the first op's line,
/// then a row wherever the line changes, the stubs at line 0.
fn line_rows(version: &CodeVersion<'_>, lines: Lines<'_>) -> Vec<LineRow> {
    let op_line = |o: &OpOffset| {
        if o.op == OpOffset::NO_OP {
            0
        } else {
            lines.of(o.op)
        }
    };
    let stubs = version.stubs_offset.unwrap_or(u32::MAX);
    let body = version.ops.iter().filter(|o| o.code_offset < stubs);
    let entry_line = version
        .ops
        .iter()
        .find(|o| o.op != OpOffset::NO_OP)
        .map_or(0, op_line);
    let mut rows = vec![LineRow {
        offset: 0,
        line: entry_line,
    }];
    for o in body {
        let line = op_line(o);
        let last = rows.last().copied().unwrap_or(LineRow { offset: 0, line });
        if o.code_offset == last.offset {
            // The entry and the first op share an offset: the op wins.
            if rows.len() == 1 {
                rows[0].line = line;
            }
            continue;
        }
        // The second row stays even on the entry's line: it marks where
        // the prologue ends (where `break fib` stops).
        if line != last.line || rows.len() == 1 {
            rows.push(LineRow {
                offset: o.code_offset,
                line,
            });
        }
    }
    if let Some(s) = version.stubs_offset
        && (s as usize) < version.len
        && rows.last().is_some_and(|r| r.offset < s)
    {
        rows.push(LineRow { offset: s, line: 0 });
    }
    rows
}

/// The version's unwind rules against the host CIE, when described (see
/// [`crate::runtime::unwind`]): gdb then unwinds its frames from the
/// image's `.debug_frame` instead of analysing prologues.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn frame_info_of(version: &CodeVersion<'_>) -> Option<FrameInfo> {
    let fde = version.unwind.fde(version.addr, version.len)?;
    Some(FrameInfo {
        cie: crate::runtime::unwind::host_cie(),
        fde,
    })
}

/// No unwind rules on a machine without JIT tiers.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn frame_info_of(_: &CodeVersion<'_>) -> Option<FrameInfo> {
    None
}

/// The producer naming the tier: `tierjit template`, `tierjit cranelift`,
/// `tierjit osr (loop at op 17)`.
fn producer(kind: CodeKind) -> String {
    match kind {
        CodeKind::LoopEntry { header } => format!("tierjit osr (loop at op {header})"),
        k => format!("tierjit {}", k.tier_name()),
    }
}

/// The image of `version`.
pub fn image_of(
    version: &CodeVersion<'_>,
    arch: Arch,
    comp_dir: &str,
    frame: Option<FrameInfo>,
) -> Result<Vec<u8>, ImageError> {
    let (file, lines) = source_of(version);
    let rows = line_rows(version, lines);
    let producer = producer(version.kind);
    elf::build(ImageSpec {
        arch,
        name: version.func_name,
        producer: &producer,
        comp_dir,
        file: &file,
        addr: version.addr as u64,
        len: version.len as u64,
        rows: &rows,
        frame,
    })
}

impl CodeObserver for GdbJitObserver {
    fn published(&self, version: &CodeVersion<'_>) {
        let Some(arch) = self.arch else {
            return;
        };
        // An image that cannot be built (not expected) leaves the version
        // undescribed; the engine runs on.
        let Ok(image) = image_of(version, arch, &self.comp_dir, (self.frame_info)(version)) else {
            return;
        };
        let registration = register(image.into_boxed_slice());
        // A stale entry at the same address (not expected: freed code is
        // reported) goes when replaced.
        lock(&self.versions).insert(version.addr, registration);
    }

    fn freed(&self, addr: usize, _len: usize) {
        let gone = lock(&self.versions).remove(&addr);
        drop(gone);
    }
}

#[cfg(test)]
mod tests;
