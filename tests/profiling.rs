//! Profilers and debuggers see every code version: the code observers are
//! told of each version published (template, Cranelift, loop-header entry)
//! with its op offsets and lines, and of each one freed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tierjit::runtime::code_info::{CodeKind, CodeObserver, CodeVersion, OpOffset};
use tierjit::{Config, Engine, Instance, Module, Tier, Value};

/// A program with a recursive function and a hot loop.
const PROGRAM: &str = "\
func fib(i) -> i
    jlti i0, 2, small
    subi i1, i0, 1
    call i1, fib, 1
    subi i2, i0, 2
    call i2, fib, 2
    add  i0, i1, i2
    reti i0
small:
    reti i0
end

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

/// `PROGRAM` written to a fresh directory under the target directory.
fn program_file(dir_name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir_name);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("prof_demo.tj");
    std::fs::write(&path, PROGRAM).expect("write program");
    path
}

/// Run `main` under `auto` with low thresholds and synchronous tier-up, so
/// every kind of version is made, and return what `recorder` saw.
fn run_observed(path: &Path, recorder: &Arc<Recorder>) -> i64 {
    let mut config = Config::new();
    config
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
    let result = run_observed(&path, &recorder);
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
    let source_lines: Vec<&str> = PROGRAM.lines().collect();
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
