//! Profilers and debuggers see every code version: the code observers are
//! told of each version published (template, Cranelift, loop-header entry)
//! with its op offsets and lines, and of each one freed; the perf map and
//! the jitdump file name every version, and `perf` (when present and
//! permitted) names samples in JIT code.

mod common;

use common::cli::command;
use common::programs::RECURSIVE_FIB;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tierjit::runtime::profiling::{JITDUMP_MAGIC, perf_map_path};
use tierjit::{
    CodeKind, CodeObserver, CodeVersion, Config, Engine, Instance, Module, OpOffset, Profiling,
    Tier, Value,
};

/// A program with a recursive function and a hot loop.
fn program() -> String {
    format!("{RECURSIVE_FIB}\n{MAIN}")
}

/// The hot loop, then a call of `fib`.
const MAIN: &str = "\
func main(i=300) -> i
    iconst i2, 0
top:
    addi i1, i1, 1
    muli i3, i1, 3
    add  i2, i2, i3
    jlt  i1, i0, top
    iconst i4, 15
    call i4, fib, 4
    add  i2, i2, i4
    reti i2
end
";

/// A version as an observer saw it.
#[derive(Clone, Debug)]
struct Seen {
    module_name: String,
    source_path: Option<String>,
    name: String,
    func_name: String,
    kind: CodeKind,
    addr: usize,
    len: usize,
    ops: Vec<OpOffset>,
    lines: Vec<u32>,
    stubs_offset: Option<u32>,
    /// The line of each byte's code, where known (checked against
    /// `CodeVersion::line_at`).
    line_of_first_op: Option<u32>,
}

#[derive(Default)]
struct Recorder {
    published: Mutex<Vec<Seen>>,
    freed: Mutex<Vec<(usize, usize)>>,
}

impl CodeObserver for Recorder {
    fn published(&self, v: &CodeVersion<'_>) {
        let first = v.ops.iter().find(|o| o.op != OpOffset::NO_OP);
        self.published.lock().unwrap().push(Seen {
            module_name: v.module_name.to_string(),
            source_path: v.source_path.map(str::to_string),
            name: v.display_name(),
            func_name: v.func_name.to_string(),
            kind: v.kind,
            addr: v.addr,
            len: v.len,
            ops: v.ops.to_vec(),
            lines: v.lines.to_vec(),
            stubs_offset: v.stubs_offset,
            line_of_first_op: first.and_then(|o| v.line_at(o.code_offset)),
        });
    }

    fn freed(&self, addr: usize, len: usize) {
        self.freed.lock().unwrap().push((addr, len));
    }
}

/// `program()` written to a fresh directory under the target directory.
fn program_file(dir_name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir_name);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("prof_demo.tj");
    std::fs::write(&path, program()).expect("write program");
    path
}

/// Run `main` under `auto` with low thresholds and synchronous tier-up, so
/// every kind of version is made, and return what `recorder` saw.
fn run_observed(path: &Path, recorder: &Arc<Recorder>, profiling: Profiling) -> i64 {
    let mut config = Config::new();
    config
        .profiling(profiling)
        .tier(Tier::Auto)
        .hot_calls(2)
        .hot_loops(5)
        .background_compilation(false)
        .code_observer(recorder.clone());
    let engine = Engine::new(config).expect("engine");
    let module = Module::from_file(&engine, path).expect("module");
    let mut instance = Instance::new(&module).expect("instance");
    match instance.call("main", &[Value::I(300)]).expect("runs") {
        Some(Value::I(v)) => v,
        other => panic!("unexpected result {other:?}"),
    }
}

#[test]
fn observers_see_every_version_with_op_offsets_and_lines() {
    let path = program_file("observers");
    let recorder = Arc::new(Recorder::default());
    let result = run_observed(&path, &recorder, Profiling::None);
    let expected: i64 = (1..=300).map(|i| 3 * i).sum::<i64>() + 610;
    assert_eq!(result, expected);
    let seen = recorder.published.lock().unwrap().clone();
    let names: Vec<&str> = seen.iter().map(|s| s.name.as_str()).collect();
    for want in ["main [template]", "fib [template]", "fib [cranelift]"] {
        assert!(names.contains(&want), "no `{want}` in {names:?}");
    }
    let osr: Vec<&Seen> = seen
        .iter()
        .filter(|s| matches!(s.kind, CodeKind::LoopEntry { .. }))
        .collect();
    assert!(!osr.is_empty(), "no loop-header version in {names:?}");
    assert!(osr.iter().all(|s| s.name == "main@op1 [osr]"), "{names:?}");
    let text = program();
    let source_lines: Vec<&str> = text.lines().collect();
    let canonical = std::fs::canonicalize(&path).unwrap();
    for s in &seen {
        assert_eq!(s.module_name, "prof_demo");
        let file = s.source_path.as_deref().expect("a source path");
        assert_eq!(std::fs::canonicalize(file).unwrap(), canonical, "{file}");
        assert!(s.len > 0 && s.addr != 0, "{s:?}");
        assert!(!s.ops.is_empty(), "{} has no op offsets", s.name);
        assert!(
            s.ops
                .windows(2)
                .all(|w| w[0].code_offset < w[1].code_offset),
            "{}: offsets not sorted: {:?}",
            s.name,
            s.ops
        );
        assert!(s.ops.iter().all(|o| (o.code_offset as usize) < s.len));
        let ops = s.lines.len();
        assert!(ops > 0, "{}: no lines", s.name);
        assert!(
            s.ops
                .iter()
                .all(|o| o.op == OpOffset::NO_OP || (o.op as usize) < ops),
            "{}: {:?}",
            s.name,
            s.ops
        );
        // Every line an op names is a line of the file with that op on it.
        for &line in &s.lines {
            let text = source_lines[line as usize - 1].trim();
            assert!(
                !text.is_empty() && !text.starts_with("func") && !text.ends_with(':'),
                "{}: line {line} is `{text}`",
                s.name
            );
        }
        let first_line = s.line_of_first_op.expect("the first op's line");
        assert!(s.lines.contains(&first_line));
        match s.kind {
            CodeKind::Template => {
                // Every op has its entry, in order, then the stubs.
                let order: Vec<u32> = s.ops.iter().map(|o| o.op).collect();
                assert_eq!(order, (0..ops as u32).collect::<Vec<_>>(), "{}", s.name);
                let stubs = s.stubs_offset.expect("template stubs offset");
                assert!(s.ops.last().unwrap().code_offset <= stubs && (stubs as usize) < s.len);
                assert!(s.func_name == "fib" || s.func_name == "main");
            }
            CodeKind::Cranelift | CodeKind::LoopEntry { .. } => {
                assert_eq!(s.stubs_offset, None);
                // The code of at least two ops is told apart.
                let distinct: std::collections::HashSet<u32> = s
                    .ops
                    .iter()
                    .map(|o| o.op)
                    .filter(|&o| o != OpOffset::NO_OP)
                    .collect();
                assert!(distinct.len() >= 2, "{}: {:?}", s.name, s.ops);
            }
        }
    }
    // Every version is freed once, when the engine and its modules go.
    let mut published: HashMap<usize, usize> = seen.iter().map(|s| (s.addr, s.len)).collect();
    let freed = recorder.freed.lock().unwrap().clone();
    for (addr, len) in &freed {
        assert_eq!(
            published.remove(addr),
            Some(*len),
            "freed {addr:#x} twice or unknown"
        );
    }
    assert!(published.is_empty(), "never freed: {published:x?}");
}

/// The names every run of `program()` under low thresholds makes.
const NAMES: [&str; 5] = [
    "main [template]",
    "main [template stubs]",
    "fib [template]",
    "fib [template stubs]",
    "fib [cranelift]",
];
const OSR_NAME: &str = "main@op1 [osr]";

/// A perf map's lines: address, length, name.
fn parse_perf_map(text: &str) -> Vec<(usize, usize, String)> {
    text.lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let addr = usize::from_str_radix(parts.next().unwrap(), 16).expect("hex address");
            let len = usize::from_str_radix(parts.next().unwrap(), 16).expect("hex length");
            (addr, len, parts.next().expect("a name").to_string())
        })
        .collect()
}

#[test]
fn the_perf_map_names_every_version_at_the_engine_addresses() {
    let path = program_file("perf_map_in_process");
    let recorder = Arc::new(Recorder::default());
    run_observed(&path, &recorder, Profiling::PerfMap);
    let map = std::fs::read_to_string(perf_map_path()).expect("the perf map");
    let entries = parse_perf_map(&map);
    for s in recorder.published.lock().unwrap().iter() {
        let main_len = s.stubs_offset.map_or(s.len, |o| o as usize);
        assert!(
            entries.contains(&(s.addr, main_len, s.name.clone())),
            "no `{:x} {main_len:x} {}` in\n{map}",
            s.addr,
            s.name
        );
        if let Some(o) = s.stubs_offset {
            let stubs = (
                s.addr + o as usize,
                s.len - o as usize,
                format!("{} [template stubs]", s.func_name),
            );
            assert!(entries.contains(&stubs), "no {stubs:x?} in\n{map}");
        }
    }
}

/// Run `program()` from a file in the `tierjit` CLI with `TIERJIT_PROFILE`
/// set to `mode` (and the jitdump directory `dir`); returns the child's pid.
fn run_cli(dir: &Path, program: &Path, mode: &str) -> u32 {
    let dir = dir.to_str().unwrap();
    let program = program.to_str().unwrap();
    let env = [
        ("TIERJIT_PROFILE", mode),
        ("TIERJIT_JITDUMP_DIR", dir),
        ("TIERJIT_HOT_CALLS", "2"),
        ("TIERJIT_HOT_LOOPS", "5"),
    ];
    let child = command(&["run", "--sync-tier-up", program], &env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tierjit runs");
    let pid = child.id();
    let out = child.wait_with_output().expect("tierjit ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pid
}

#[test]
fn the_cli_writes_a_perf_map_when_asked() {
    let path = program_file("perf_map_cli");
    let pid = run_cli(path.parent().unwrap(), &path, "perfmap");
    let map_path = PathBuf::from(format!("/tmp/perf-{pid}.map"));
    let map = std::fs::read_to_string(&map_path).expect("the perf map");
    let _ = std::fs::remove_file(&map_path);
    let entries = parse_perf_map(&map);
    for name in NAMES.iter().chain([&OSR_NAME]) {
        assert!(entries.iter().any(|e| e.2 == *name), "no {name} in\n{map}");
    }
    assert!(entries.iter().all(|e| e.0 != 0 && e.1 > 0), "{map}");
    // Symbols do not overlap.
    let mut sorted = entries.clone();
    sorted.sort();
    for w in sorted.windows(2) {
        assert!(w[0].0 + w[0].1 <= w[1].0, "{w:x?}");
    }
}

/// A jitdump record read back.
#[derive(Debug)]
enum Record {
    Load {
        pid: u32,
        vma: u64,
        addr: u64,
        index: u64,
        name: String,
        code: Vec<u8>,
    },
    Debug {
        addr: u64,
        entries: Vec<(u64, u32, String)>,
    },
    Other(u32),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
}

/// A NUL-terminated string at `at`, and where it ends (past the NUL).
fn c_str(b: &[u8], at: usize) -> (String, usize) {
    let len = b[at..].iter().position(|&c| c == 0).expect("NUL");
    (
        String::from_utf8(b[at..at + len].to_vec()).expect("UTF-8"),
        at + len + 1,
    )
}

/// Parse a jitdump file: check its header (for process `pid`), return its
/// records in order.
fn parse_jitdump(bytes: &[u8], pid: u32) -> Vec<Record> {
    assert!(bytes.len() >= 40, "no header");
    assert_eq!(u32_at(bytes, 0), JITDUMP_MAGIC);
    assert_eq!(u32_at(bytes, 4), 1, "version");
    let header_size = u32_at(bytes, 8) as usize;
    assert_eq!(header_size, 40);
    let mach = u32_at(bytes, 12);
    let want = if cfg!(target_arch = "x86_64") {
        62
    } else {
        183
    };
    assert_eq!(mach, want, "elf_mach");
    assert_eq!(u32_at(bytes, 20), pid);
    let mut records = Vec::new();
    let mut at = header_size;
    let mut last_time = u64_at(bytes, 24);
    while at < bytes.len() {
        let id = u32_at(bytes, at);
        let size = u32_at(bytes, at + 4) as usize;
        let time = u64_at(bytes, at + 8);
        assert!(
            size >= 16 && at + size <= bytes.len(),
            "record at {at}: size {size}"
        );
        assert!(time >= last_time, "timestamps go back");
        last_time = time;
        let r = &bytes[at..at + size];
        records.push(match id {
            0 => {
                let (name, code_at) = c_str(r, 56);
                let len = u64_at(r, 40) as usize;
                assert!(code_at + len <= size, "code past the record");
                Record::Load {
                    pid: u32_at(r, 16),
                    vma: u64_at(r, 24),
                    addr: u64_at(r, 32),
                    index: u64_at(r, 48),
                    name,
                    code: r[code_at..code_at + len].to_vec(),
                }
            }
            2 => {
                let n = u64_at(r, 24) as usize;
                let mut entries = Vec::new();
                let mut e = 32;
                for _ in 0..n {
                    let (file, end) = c_str(r, e + 16);
                    entries.push((u64_at(r, e), u32_at(r, e + 8), file));
                    e = end;
                }
                assert!(e <= size, "entries past the record");
                Record::Debug {
                    addr: u64_at(r, 16),
                    entries,
                }
            }
            other => Record::Other(other),
        });
        at += size;
    }
    records
}

#[test]
fn the_cli_writes_a_jitdump_with_code_and_lines() {
    let path = program_file("jitdump_cli");
    let dir = path.parent().unwrap();
    let pid = run_cli(dir, &path, "jitdump");
    let dump_path = dir.join(format!("jit-{pid}.dump"));
    let bytes = std::fs::read(&dump_path).expect("the jitdump file");
    let _ = std::fs::remove_file(&dump_path);
    let records = parse_jitdump(&bytes, pid);
    let canonical = std::fs::canonicalize(&path).unwrap();
    let text = program();
    let source_lines: Vec<&str> = text.lines().collect();
    let mut names = Vec::new();
    let mut debug_for: Option<u64> = None;
    let mut loads: Vec<(u64, usize)> = Vec::new();
    for (k, r) in records.iter().enumerate() {
        match r {
            Record::Load {
                pid: p,
                vma,
                addr,
                index,
                name,
                code,
            } => {
                assert_eq!(*p, pid);
                assert_eq!(vma, addr);
                assert_eq!(*index, loads.len() as u64, "code indices count loads");
                assert!(!code.is_empty() && *addr != 0, "{name}");
                if !name.ends_with("stubs]") {
                    assert_eq!(debug_for.take(), Some(*addr), "no debug info before {name}");
                }
                loads.push((*addr, code.len()));
                names.push(name.clone());
            }
            Record::Debug { addr, entries } => {
                assert!(
                    matches!(records.get(k + 1), Some(Record::Load { addr: a, .. }) if a == addr)
                );
                assert!(!entries.is_empty());
                assert_eq!(entries[0].0, *addr, "the first entry starts the code");
                for w in entries.windows(2) {
                    assert!(w[0].0 < w[1].0, "entries in address order");
                }
                for (_, line, file) in entries {
                    assert_eq!(std::fs::canonicalize(file).unwrap(), canonical);
                    let text = source_lines[*line as usize - 1].trim();
                    assert!(
                        !text.is_empty() && !text.starts_with("func") && !text.ends_with(':'),
                        "line {line} is `{text}`"
                    );
                }
                debug_for = Some(*addr);
            }
            Record::Other(id) => panic!("unexpected record {id}"),
        }
    }
    for name in NAMES.iter().chain([&OSR_NAME]) {
        assert!(names.iter().any(|n| n == name), "no {name} in {names:?}");
    }
    // Symbols do not overlap.
    loads.sort();
    for w in loads.windows(2) {
        assert!(w[0].0 + w[0].1 as u64 <= w[1].0, "{w:x?}");
    }
}

/// A program whose hot loop runs long enough to be sampled.
const HOT_LOOP: &str = "\
func main(i=60000000) -> i
    iconst i2, 0
top:
    addi i1, i1, 1
    muli i3, i1, 3
    xor  i2, i2, i3
    jlt  i1, i0, top
    reti i2
end
";

/// Run `perf` with `args`; `None` when it cannot run (absent, or not
/// permitted here).
fn perf(args: &[&str], dir: &Path) -> Option<std::process::Output> {
    let out = std::process::Command::new("perf")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if out.status.success() {
        Some(out)
    } else {
        eprintln!(
            "skipped: `perf {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        None
    }
}

/// `perf record -k 1` + `perf inject --jit` + `perf report` name samples in
/// JIT code. Skipped (with a message) where perf is absent, not permitted,
/// or the binary runs under an emulator.
#[test]
fn perf_reports_jit_symbols_when_present() {
    if std::env::var_os("TIERJIT_TEST_RUNNER").is_some_and(|r| !r.is_empty()) {
        eprintln!("skipped: under an emulator");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("perf_report");
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("hot.tj");
    std::fs::write(&program, HOT_LOOP).unwrap();
    let Some(_) = perf(&["--version"], &dir) else {
        eprintln!("skipped: perf is not installed");
        return;
    };
    let bin = env!("CARGO_BIN_EXE_tierjit");
    let dir_str = dir.to_str().unwrap().to_string();
    let recorded = std::process::Command::new("perf")
        .args([
            "record",
            "-k",
            "1",
            "-e",
            "cpu-clock",
            "-o",
            "perf.data",
            "--",
        ])
        .arg(bin)
        .args(["run", program.to_str().unwrap()])
        .env("TIERJIT_PROFILE", "jitdump")
        .env("TIERJIT_JITDUMP_DIR", &dir_str)
        .current_dir(&dir)
        .output()
        .expect("perf runs");
    if !recorded.status.success() {
        eprintln!(
            "skipped: perf record is not permitted here: {}",
            String::from_utf8_lossy(&recorded.stderr)
        );
        return;
    }
    let Some(_) = perf(
        &["inject", "--jit", "-i", "perf.data", "-o", "perf.jit.data"],
        &dir,
    ) else {
        return;
    };
    let Some(report) = perf(
        &["report", "-i", "perf.jit.data", "--stdio", "--sort", "sym"],
        &dir,
    ) else {
        return;
    };
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(
        text.contains("main@op1 [osr]") || text.contains("main [template]"),
        "no JIT symbol in the report:\n{text}"
    );
}
