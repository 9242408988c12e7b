//! Profiling JIT code with Linux `perf`: every code version the engine
//! publishes is written to a perf map or a jitdump file, so `perf report`
//! names samples in compiled code (`fib [template]`, `fib [cranelift]`,
//! `main@op17 [osr]`, `fib [template stubs]`) instead of raw addresses.
//!
//! Chosen with [`Config::profiling`](crate::Config::profiling), or by the
//! CLI from `TIERJIT_PROFILE=perfmap|jitdump` ([`PROFILE_ENV`]). Like
//! wasmtime, only the CLI reads the variable: a library's `Config::default()`
//! never depends on the environment it happens to run in, and an embedder
//! that wants it reads it and calls [`Config::profiling`](crate::Config::profiling)
//! ([`Profiling::from_env`] parses it).
//!
//! - [`Profiling::PerfMap`]: `/tmp/perf-<pid>.map`, one line `ADDR LEN NAME`
//!   per version (hex without `0x`). `perf record` + `perf report` read it
//!   as they are. No source lines.
//! - [`Profiling::JitDump`]: `jit-<pid>.dump` in the current directory, or
//!   in `$TIERJIT_JITDUMP_DIR` ([`JITDUMP_DIR_ENV`]), in the format of
//!   perf's `tools/perf/Documentation/jitdump-specification.txt`: a header,
//!   then per version a `JIT_CODE_DEBUG_INFO` record (code address to
//!   `.tj` file and line, when the module came from a file) and a
//!   `JIT_CODE_LOAD` record with the code bytes. Timestamps are
//!   `CLOCK_MONOTONIC`, so record with `perf record -k 1`, then run
//!   `perf inject --jit` to turn the records into ELF images perf
//!   annotates.
//!
//! Each file has one writer per process (engines in one process share it)
//! behind a mutex. Jitdump records are written whole, unbuffered. Perf-map
//! lines wait up to 20 ms (or 64 KiB) and are written together, and at
//! once when code is freed and at process exit ([`flush_perf_map`]): a
//! system call per version would add about a sixth to a template compile. A write that
//! fails is reported once with `tracing::warn!` and that file is written no
//! more; the engine runs on. Freed code is not reported: neither format can
//! say so (perf orders jitdump records by time, so reused addresses are
//! still named right there).

mod jitdump;
mod perf_map;

use super::code_info::CodeObserver;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

pub use jitdump::{JITDUMP_MAGIC, JitDumpObserver, jitdump_path};
pub use perf_map::{PerfMapObserver, flush_perf_map, perf_map_path};

/// The environment variable the CLI reads the profiling mode from
/// (`perfmap`, `jitdump`, or `none`).
pub const PROFILE_ENV: &str = "TIERJIT_PROFILE";

/// The environment variable naming the directory of the jitdump file
/// (default: the current directory).
pub const JITDUMP_DIR_ENV: &str = "TIERJIT_JITDUMP_DIR";

/// What the engine tells `perf` of its compiled code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Profiling {
    /// Nothing (the default): no file, no cost.
    #[default]
    None,
    /// A perf map, `/tmp/perf-<pid>.map`: names and address ranges.
    PerfMap,
    /// A jitdump file, `jit-<pid>.dump`: names, code bytes and source
    /// lines, for `perf inject --jit`.
    JitDump,
}

impl Profiling {
    /// Its name, as [`PROFILE_ENV`] spells it.
    pub fn name(self) -> &'static str {
        match self {
            Profiling::None => "none",
            Profiling::PerfMap => "perfmap",
            Profiling::JitDump => "jitdump",
        }
    }

    /// The mode [`PROFILE_ENV`] names, `None` when it is unset or empty;
    /// an error message for another value.
    pub fn from_env() -> Result<Option<Profiling>, String> {
        match std::env::var(PROFILE_ENV) {
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => v
                .parse()
                .map(Some)
                .map_err(|e| format!("{PROFILE_ENV}: {e}")),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("{PROFILE_ENV} is not valid UTF-8"))
            }
        }
    }

    /// The observer that writes this mode's file, if any. Opening the file
    /// waits for the first version.
    pub fn observer(self) -> Option<Arc<dyn CodeObserver>> {
        match self {
            Profiling::None => None,
            Profiling::PerfMap => Some(Arc::new(PerfMapObserver)),
            Profiling::JitDump => Some(Arc::new(JitDumpObserver)),
        }
    }
}

impl fmt::Display for Profiling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profiling {
    type Err = String;

    fn from_str(s: &str) -> Result<Profiling, String> {
        match s.trim() {
            "none" => Ok(Profiling::None),
            "perfmap" => Ok(Profiling::PerfMap),
            "jitdump" => Ok(Profiling::JitDump),
            other => Err(format!(
                "unknown profiling mode `{other}` (expected perfmap, jitdump or none)"
            )),
        }
    }
}

/// A process-wide output file: not opened yet, open, or given up after an
/// error (reported once).
enum Output<T> {
    Unopened,
    Open(T),
    Failed,
}

impl<T> Output<T> {
    /// Run `write` on the file, opening it first with `open`; the first
    /// error of either is reported (naming `what`) and ends the file.
    fn write(
        &mut self,
        what: &str,
        open: impl FnOnce() -> std::io::Result<T>,
        write: impl FnOnce(&mut T) -> std::io::Result<()>,
    ) {
        if let Output::Unopened = self {
            *self = match open() {
                Ok(t) => Output::Open(t),
                Err(e) => {
                    tracing::warn!("profiling: cannot open the {what}: {e}; not written");
                    Output::Failed
                }
            };
        }
        if let Output::Open(t) = self
            && let Err(e) = write(t)
        {
            tracing::warn!("profiling: cannot write the {what}: {e}; written no more");
            *self = Output::Failed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print() {
        for p in [Profiling::None, Profiling::PerfMap, Profiling::JitDump] {
            assert_eq!(p.name().parse::<Profiling>(), Ok(p));
            assert_eq!(p.to_string(), p.name());
        }
        assert!("perf".parse::<Profiling>().is_err());
        assert!(Profiling::None.observer().is_none());
        assert!(Profiling::PerfMap.observer().is_some());
    }

    #[test]
    fn an_error_is_reported_once_and_ends_the_file() {
        let mut out: Output<u32> = Output::Unopened;
        let mut writes = 0;
        out.write(
            "test file",
            || Ok(7),
            |_| Err(std::io::Error::other("full")),
        );
        out.write(
            "test file",
            || Ok(7),
            |_| {
                writes += 1;
                Ok(())
            },
        );
        assert!(matches!(out, Output::Failed));
        assert_eq!(writes, 0);
        let mut out: Output<u32> = Output::Unopened;
        out.write("test file", || Err(std::io::Error::other("no")), |_| Ok(()));
        assert!(matches!(out, Output::Failed));
    }
}
