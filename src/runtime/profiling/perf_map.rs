//! The perf map: `/tmp/perf-<pid>.map`, one line `ADDR LEN NAME` per
//! version (hex without `0x`), the format `perf` reads for JIT code.

use super::Output;
use crate::runtime::code_info::{CodeObserver, CodeVersion};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// The process's perf map, shared by every engine.
static PERF_MAP: Mutex<Output<File>> = Mutex::new(Output::Unopened);

/// Where this process's perf map is: `/tmp/perf-<pid>.map`, where `perf`
/// looks for it.
pub fn perf_map_path() -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
}

/// Writes every published version to the process's perf map
/// ([`perf_map_path`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct PerfMapObserver;

impl CodeObserver for PerfMapObserver {
    fn published(&self, v: &CodeVersion<'_>) {
        let text = lines(v);
        let mut out = PERF_MAP.lock().unwrap_or_else(|e| e.into_inner());
        out.write(
            "perf map",
            || File::create(perf_map_path()),
            // One write per version: lines of different threads never mix.
            |f| f.write_all(text.as_bytes()),
        );
    }

    /// A perf map cannot forget a symbol; a later version at the same
    /// address is listed after it.
    fn freed(&self, _addr: usize, _len: usize) {}
}

/// The lines of version `v`: its ops' code, then its stubs when known.
fn lines(v: &CodeVersion<'_>) -> String {
    let mut text = String::new();
    match v.stubs() {
        Some((stubs_name, start, len)) => {
            line(&mut text, v.addr, start as usize, &v.display_name());
            line(&mut text, v.addr + start as usize, len, &stubs_name);
        }
        None => line(&mut text, v.addr, v.len, &v.display_name()),
    }
    text
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
