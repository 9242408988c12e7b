//! The perf map: `/tmp/perf-<pid>.map`, one line `ADDR LEN NAME` per
//! version (hex without `0x`), the format `perf` reads for JIT code.

use super::Output;
use crate::runtime::code_info::{CodeObserver, CodeVersion};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The process's perf map, shared by every engine.
static PERF_MAP: Mutex<PerfMap> = Mutex::new(PerfMap {
    out: Output::Unopened,
    pending: String::new(),
    flushed_at: None,
});

/// Lines wait at most this long before they are written (a burst of
/// template compiles is then a few writes, not a system call each: that
/// call cost as much as a sixth of a template compile).
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// Lines are written once this many bytes wait, whatever their age.
const FLUSH_BYTES: usize = 64 << 10;

/// The file and the lines not written yet.
struct PerfMap {
    out: Output<File>,
    pending: String,
    flushed_at: Option<Instant>,
}

impl PerfMap {
    /// Write the pending lines, in one write (lines of different threads
    /// never mix).
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.pending);
        self.out
            .write("perf map", open, |f| f.write_all(text.as_bytes()));
        self.flushed_at = Some(Instant::now());
    }
}

/// Create the perf map, and make sure what waits is written when the
/// process exits (destructors of statics never run).
fn open() -> std::io::Result<File> {
    let file = File::create(perf_map_path())?;
    // SAFETY: `flush_at_exit` is an `extern "C" fn()` that never unwinds.
    unsafe {
        libc::atexit(flush_at_exit);
    }
    Ok(file)
}

extern "C" fn flush_at_exit() {
    flush_perf_map();
}

/// Write the lines that wait for the perf map now. The engine does this
/// at least every 20 ms while it compiles, when code is freed (an engine
/// dropped) and at process exit; call it before reading the map from the
/// running process.
pub fn flush_perf_map() {
    // A thread stopped while holding the lock cannot have left the
    // buffer half-written: `take` empties it in one step.
    let mut map = PERF_MAP.lock().unwrap_or_else(|e| e.into_inner());
    map.flush();
}

/// Where this process's perf map is: `/tmp/perf-<pid>.map`, where `perf`
/// looks for it.
pub fn perf_map_path() -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
}

/// Writes every published version to the process's perf map
/// ([`perf_map_path`]), buffered (see [`flush_perf_map`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct PerfMapObserver;

impl CodeObserver for PerfMapObserver {
    fn published(&self, v: &CodeVersion<'_>) {
        let mut map = PERF_MAP.lock().unwrap_or_else(|e| e.into_inner());
        write_lines(&mut map.pending, v);
        let due = map.pending.len() >= FLUSH_BYTES
            || map.flushed_at.is_none_or(|t| t.elapsed() >= FLUSH_EVERY);
        if due {
            map.flush();
        }
    }

    /// A perf map cannot forget a symbol (a later version at the same
    /// address is listed after it); code freed (an engine dropped, a
    /// version evicted) is a moment to write what waits.
    fn freed(&self, _addr: usize, _len: usize) {
        flush_perf_map();
    }
}

/// Append the lines of version `v` to `text`: its ops' code, then its
/// stubs when known.
fn write_lines(text: &mut String, v: &CodeVersion<'_>) {
    match v.stubs() {
        Some((stubs_name, start, len)) => {
            line(text, v.addr, start as usize, &v.display_name());
            line(text, v.addr + start as usize, len, &stubs_name);
        }
        None => line(text, v.addr, v.len, &v.display_name()),
    }
}

fn line(text: &mut String, addr: usize, len: usize, name: &str) {
    use std::fmt::Write as _;
    if len > 0 {
        let _ = writeln!(text, "{addr:x} {len:x} {name}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::code_info::CodeKind;

    fn lines(v: &CodeVersion<'_>) -> String {
        let mut text = String::new();
        write_lines(&mut text, v);
        text
    }

    #[test]
    fn a_template_version_and_its_stubs_are_two_lines() {
        let v = CodeVersion {
            module_name: "m",
            source_path: None,
            func: 0,
            func_name: "fib",
            kind: CodeKind::Template,
            addr: 0x7f00_1000,
            len: 0x120,
            ops: &[],
            lines: &[],
            stubs_offset: Some(0x100),
            unwind: &crate::runtime::unwind::FrameUnwind::None,
        };
        assert_eq!(
            lines(&v),
            "7f001000 100 fib [template]\n7f001100 20 fib [template stubs]\n"
        );
        let v = CodeVersion {
            kind: CodeKind::LoopEntry { header: 3 },
            stubs_offset: None,
            ..v
        };
        assert_eq!(lines(&v), "7f001000 120 fib@op3 [osr]\n");
    }
}
