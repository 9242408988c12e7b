//! The jitdump file: `jit-<pid>.dump`, in the format of perf's
//! `tools/perf/Documentation/jitdump-specification.txt` (version 1), for
//! `perf inject --jit`. Native byte order, as the specification asks.

use super::{JITDUMP_DIR_ENV, Output};
use crate::runtime::code_info::{CodeObserver, CodeVersion, OpOffset};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// The header's magic number, `JiTD` (written in native byte order).
pub const JITDUMP_MAGIC: u32 = 0x4A69_5444;
/// The format's version.
const VERSION: u32 = 1;
const HEADER_SIZE: u32 = 40;
/// Record ids.
const JIT_CODE_LOAD: u32 = 0;
const JIT_CODE_DEBUG_INFO: u32 = 2;

/// The ELF machine of the code (`e_machine`).
#[cfg(target_arch = "x86_64")]
const ELF_MACH: u32 = 62; // EM_X86_64
#[cfg(target_arch = "aarch64")]
const ELF_MACH: u32 = 183; // EM_AARCH64
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const ELF_MACH: u32 = 0;

/// The process's jitdump file: open, with the index of its next code load.
struct JitDump {
    file: File,
    next_index: u64,
}

static JITDUMP: Mutex<Output<JitDump>> = Mutex::new(Output::Unopened);

/// Where this process's jitdump file goes: `jit-<pid>.dump` in
/// `$TIERJIT_JITDUMP_DIR`, or in the current directory.
pub fn jitdump_path() -> PathBuf {
    let dir = std::env::var_os(JITDUMP_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    dir.join(format!("jit-{}.dump", std::process::id()))
}

/// Writes every published version to the process's jitdump file
/// ([`jitdump_path`]): its source lines, then its code.
#[derive(Clone, Copy, Debug, Default)]
pub struct JitDumpObserver;

impl CodeObserver for JitDumpObserver {
    fn published(&self, v: &CodeVersion<'_>) {
        // SAFETY: the observer is told of a version right after it was
        // published: `len` bytes at `addr` are readable and never written
        // again while the code cache's lock is held.
        let code = unsafe { std::slice::from_raw_parts(v.addr as *const u8, v.len) };
        let mut out = JITDUMP.lock().unwrap_or_else(|e| e.into_inner());
        out.write("jitdump file", open, |dump| {
            let records = records(v, code, &mut dump.next_index, timestamp());
            // Whole records in one write: a process that never drops its
            // engines still leaves a complete file.
            dump.file.write_all(&records)
        });
    }

    /// Jitdump has no unload record: perf orders records by time, so a
    /// later version at the same address is named right.
    fn freed(&self, _addr: usize, _len: usize) {}
}

/// Create the file, write its header, and map it executable once: `perf
/// record` sees that mapping and `perf inject --jit` finds the file by it.
fn open() -> std::io::Result<JitDump> {
    let path = jitdump_path();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    file.write_all(&header(std::process::id(), timestamp()))?;
    map_executable(&file)?;
    Ok(JitDump {
        file,
        next_index: 0,
    })
}

/// Map the first page of `file` read-execute, for the process's life (the
/// mapping is the marker perf looks for; it is never run).
#[cfg(unix)]
fn map_executable(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a fresh private mapping of an open file; nothing reads or
    // writes through it.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    // SAFETY: as above.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            page,
            libc::PROT_READ | libc::PROT_EXEC,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(unix))]
fn map_executable(_file: &File) -> std::io::Result<()> {
    Ok(())
}

/// `CLOCK_MONOTONIC` in nanoseconds, the clock `perf record -k 1` uses.
fn timestamp() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The id of the calling thread.
fn thread_id() -> u32 {
    #[cfg(target_os = "linux")]
    // SAFETY: `gettid` has no preconditions.
    return unsafe { libc::gettid() } as u32;
    #[cfg(not(target_os = "linux"))]
    return std::process::id();
}

/// The file header.
fn header(pid: u32, timestamp: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_SIZE as usize);
    for word in [JITDUMP_MAGIC, VERSION, HEADER_SIZE, ELF_MACH, 0, pid] {
        h.extend_from_slice(&word.to_ne_bytes());
    }
    h.extend_from_slice(&timestamp.to_ne_bytes());
    h.extend_from_slice(&0u64.to_ne_bytes()); // flags
    h
}

/// The records of version `v` with machine code `code`: per symbol (the
/// ops' code; the stubs, when known), its debug info when lines are known,
/// then its code load. Load indices come from `next_index`.
fn records(v: &CodeVersion<'_>, code: &[u8], next_index: &mut u64, timestamp: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(code.len() + 256);
    let name = v.display_name();
    let main_len = v.stubs_offset.map_or(v.len, |s| (s as usize).min(v.len));
    if let Some(file) = v.source_path
        && !v.lines.is_empty()
    {
        let entries = line_entries(v, main_len);
        if !entries.is_empty() {
            debug_info(&mut out, v.addr, &entries, file, timestamp);
        }
    }
    code_load(
        &mut out,
        v.addr,
        &code[..main_len],
        next_index,
        &name,
        timestamp,
    );
    if let Some((stubs_name, start, len)) = v.stubs() {
        let start = start as usize;
        let stubs = &code[start..start + len];
        code_load(
            &mut out,
            v.addr + start,
            stubs,
            next_index,
            &stubs_name,
            timestamp,
        );
    }
    out
}

/// The line of each run of code before `end` with one line, as (address,
/// line): the prologue takes the first op's line; code of no op is left
/// to the line before.
fn line_entries(v: &CodeVersion<'_>, end: usize) -> Vec<(u64, u32)> {
    let mut entries: Vec<(u64, u32)> = Vec::new();
    for o in v.ops {
        if o.code_offset as usize >= end || o.op == OpOffset::NO_OP {
            continue;
        }
        let Some(&line) = v.lines.get(o.op as usize).filter(|&&l| l > 0) else {
            continue;
        };
        if entries.last().is_some_and(|&(_, l)| l == line) {
            continue;
        }
        // The first line starts at the entry: the prologue is its op's.
        let offset = if entries.is_empty() { 0 } else { o.code_offset };
        entries.push((v.addr as u64 + u64::from(offset), line));
    }
    entries
}

/// Pad a record to 8 bytes and write its size into its header.
fn finish_record(out: &mut Vec<u8>, start: usize) {
    out.resize(out.len().next_multiple_of(8), 0);
    let size = (out.len() - start) as u32;
    out[start + 4..start + 8].copy_from_slice(&size.to_ne_bytes());
}

fn record_header(out: &mut Vec<u8>, id: u32, timestamp: u64) -> usize {
    let start = out.len();
    out.extend_from_slice(&id.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // total size, see `finish_record`
    out.extend_from_slice(&timestamp.to_ne_bytes());
    start
}

/// A `JIT_CODE_DEBUG_INFO` record: source lines of the code at `addr`.
fn debug_info(out: &mut Vec<u8>, addr: usize, entries: &[(u64, u32)], file: &str, ts: u64) {
    let start = record_header(out, JIT_CODE_DEBUG_INFO, ts);
    out.extend_from_slice(&(addr as u64).to_ne_bytes());
    out.extend_from_slice(&(entries.len() as u64).to_ne_bytes());
    for &(code_addr, line) in entries {
        out.extend_from_slice(&code_addr.to_ne_bytes());
        out.extend_from_slice(&line.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes()); // discriminator
        out.extend_from_slice(file.as_bytes());
        out.push(0);
    }
    finish_record(out, start);
}

/// A `JIT_CODE_LOAD` record: symbol `name` at `addr`, its code bytes.
fn code_load(out: &mut Vec<u8>, addr: usize, code: &[u8], index: &mut u64, name: &str, ts: u64) {
    let start = record_header(out, JIT_CODE_LOAD, ts);
    out.extend_from_slice(&std::process::id().to_ne_bytes());
    out.extend_from_slice(&thread_id().to_ne_bytes());
    out.extend_from_slice(&(addr as u64).to_ne_bytes()); // vma
    out.extend_from_slice(&(addr as u64).to_ne_bytes()); // code_addr
    out.extend_from_slice(&(code.len() as u64).to_ne_bytes());
    out.extend_from_slice(&index.to_ne_bytes());
    *index += 1;
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.extend_from_slice(code);
    finish_record(out, start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::code_info::CodeKind;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn header_is_forty_bytes_with_the_magic() {
        let h = header(42, 7);
        assert_eq!(h.len(), 40);
        assert_eq!(&h[..4], &JITDUMP_MAGIC.to_ne_bytes());
        assert_eq!(u32_at(&h, 20), 42);
        assert_eq!(u64_at(&h, 24), 7);
    }

    #[test]
    fn a_template_version_is_debug_info_then_two_loads() {
        let code: Vec<u8> = (0..48).collect();
        let ops = [
            OpOffset {
                code_offset: 8,
                op: 0,
            },
            OpOffset {
                code_offset: 16,
                op: 1,
            },
            OpOffset {
                code_offset: 24,
                op: 2,
            },
        ];
        let v = CodeVersion {
            module_name: "m",
            source_path: Some("/src/m.tj"),
            func: 0,
            func_name: "fib",
            kind: CodeKind::Template,
            addr: 0x1000,
            len: 48,
            ops: &ops,
            lines: &[5, 5, 6],
            stubs_offset: Some(40),
            unwind: &crate::runtime::unwind::FrameUnwind::None,
        };
        let mut index = 3;
        let out = records(&v, &code, &mut index, 99);
        assert_eq!(index, 5);
        // Debug info: the prologue and op 0..1 on line 5, op 2 on line 6.
        assert_eq!(u32_at(&out, 0), JIT_CODE_DEBUG_INFO);
        let size = u32_at(&out, 4) as usize;
        assert_eq!(size % 8, 0);
        assert_eq!(u64_at(&out, 16), 0x1000);
        assert_eq!(u64_at(&out, 24), 2);
        assert_eq!(u64_at(&out, 32), 0x1000);
        assert_eq!(u32_at(&out, 40), 5);
        let file_end = 48 + "/src/m.tj".len();
        assert_eq!(&out[48..file_end], b"/src/m.tj");
        assert_eq!(u64_at(&out, file_end + 1), 0x1000 + 24);
        assert_eq!(u32_at(&out, file_end + 9), 6);
        // The ops' code, then the stubs.
        let load = &out[size..];
        assert_eq!(u32_at(load, 0), JIT_CODE_LOAD);
        let load_size = u32_at(load, 4) as usize;
        assert_eq!(u64_at(load, 24), 0x1000);
        assert_eq!(u64_at(load, 32), 0x1000);
        assert_eq!(u64_at(load, 40), 40);
        assert_eq!(u64_at(load, 48), 3);
        let name_end = 56 + "fib [template]".len();
        assert_eq!(&load[56..name_end], b"fib [template]");
        assert_eq!(&load[name_end + 1..name_end + 41], &code[..40]);
        let stubs = &load[load_size..];
        assert_eq!(u64_at(stubs, 32), 0x1000 + 40);
        assert_eq!(u64_at(stubs, 40), 8);
        assert_eq!(u64_at(stubs, 48), 4);
        assert_eq!(out.len(), size + load_size + u32_at(stubs, 4) as usize);
    }
}
