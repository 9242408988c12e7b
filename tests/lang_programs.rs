//! The Lark benchmark programs of `programs/lang/` at small and mid sizes,
//! on every engine, against the lines their C and Lua references print: the
//! seven suite programs against the suite's expected files
//! (`tests/expected/suite.tsv`, references in `../shared/peers`), the others
//! against `tests/expected/lang/` (manifest `programs.tsv`, references in
//! `benches/peers`). When `gcc` and `lua5.4` are on PATH, the references are
//! run too and must print the same files.

mod common;
mod differential;

use common::programs::{manifest, root};
use std::path::{Path, PathBuf};
use std::process::Command;
use tierjit::Value;
use tierjit::lang::compile;

/// One run of a Lark program and the file holding what it must print.
struct Case {
    /// The program's name: `programs/lang/NAME.lark`, references `NAME.c`
    /// and `NAME.lua`.
    name: String,
    args: Vec<i64>,
    expected: PathBuf,
    /// The folder with the references' `c/` and `lua/`.
    peers: PathBuf,
}

/// The rows of a manifest (see [`common::programs::manifest`]) whose
/// program `program_name` maps to a Lark program name, and that have
/// arguments (the default sizes are for benchmarks, not tests).
fn lark_cases(
    path: &Path,
    peers: &Path,
    program_name: impl Fn(&str) -> Option<String>,
) -> Vec<Case> {
    manifest(path)
        .into_iter()
        .filter(|row| !row.args.is_empty())
        .filter_map(|row| {
            Some(Case {
                name: program_name(&row.program)?,
                args: row.args,
                expected: row.expected,
                peers: peers.to_path_buf(),
            })
        })
        .collect()
}

/// Every case: the suite's rows (`programs/X.tj` -> `programs/lang/X.lark`),
/// then the rows of `tests/expected/lang/programs.tsv`.
fn cases() -> Vec<Case> {
    let mut cases = lark_cases(
        &root().join("tests/expected/suite.tsv"),
        &root().join("../shared/peers"),
        |p| {
            p.strip_prefix("programs/")
                .and_then(|n| n.strip_suffix(".tj"))
                .map(str::to_string)
        },
    );
    cases.extend(lark_cases(
        &root().join("tests/expected/lang/programs.tsv"),
        &root().join("benches/peers"),
        |p| {
            p.strip_prefix("programs/lang/")
                .and_then(|n| n.strip_suffix(".lark"))
                .map(str::to_string)
        },
    ));
    cases
}

/// The benchmark programs and their default sizes (`main`'s parameters):
/// the suite's for its seven, the references' for the others.
const PROGRAMS: &[(&str, &[i64])] = &[
    ("fib", &[40]),
    ("loop", &[100_000_000]),
    ("sieve", &[10_000_000, 10]),
    ("nbody", &[5_000_000]),
    ("mandelbrot", &[2000, 50]),
    ("spectralnorm", &[2000]),
    ("matmul", &[600]),
    ("binarytrees", &[16]),
    ("json", &[50_000]),
    ("toyvm", &[2000, 100]),
    ("mapfilter", &[100_000, 300]),
    ("shapes", &[30_000_000]),
];

fn compile_program(name: &str) -> tierjit::bytecode::Module {
    let path = root().join(format!("programs/lang/{name}.lark"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    compile(&src, &format!("{name}.lark")).unwrap_or_else(|e| panic!("{e}"))
}

fn expected(case: &Case) -> String {
    std::fs::read_to_string(&case.expected)
        .unwrap_or_else(|e| panic!("{}: {e}", case.expected.display()))
}

#[test]
fn lark_programs_print_what_their_references_print_on_every_engine() {
    let mut modules = std::collections::HashMap::new();
    let mut covered = Vec::new();
    for case in cases() {
        let module = modules
            .entry(case.name.clone())
            .or_insert_with(|| compile_program(&case.name));
        let args: Vec<Value> = case.args.iter().map(|&a| Value::I(a)).collect();
        let out = differential::check_module(module, "main", &args);
        assert!(
            out.result.is_ok(),
            "{} {:?}: {:?}",
            case.name,
            case.args,
            out.result
        );
        assert_eq!(out.output, expected(&case), "{} {:?}", case.name, case.args);
        covered.push(case.name);
    }
    for (name, _) in PROGRAMS {
        let runs = covered.iter().filter(|c| c == name).count();
        assert!(
            runs >= 2,
            "{name}: a small and a mid size at least (ran {runs})"
        );
    }
}

#[test]
fn lark_programs_default_to_the_benchmark_sizes() {
    for (name, want) in PROGRAMS {
        let module = compile_program(name);
        let main = &module.functions[module.entry().expect("main")];
        let got: Vec<i64> = (0..main.sig.params.len())
            .map(|i| main.param_default(i).expect("default"))
            .collect();
        assert_eq!(&got, want, "{name}");
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Runs `argv`; its standard output, or a panic naming the command.
fn output_of(argv: &mut Command) -> String {
    let out = argv.output().unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The cases whose references are at hand; a note for those that are not.
fn cases_with_references(ext: &str) -> Vec<(Case, PathBuf)> {
    let mut found = Vec::new();
    for case in cases() {
        let source = case.peers.join(ext).join(format!("{}.{ext}", case.name));
        if source.is_file() {
            found.push((case, source));
        } else {
            eprintln!("note: no {} (skipped)", source.display());
        }
    }
    found
}

#[test]
fn c_references_print_the_expected_lines() {
    if !on_path("gcc") {
        eprintln!("note: gcc is not on PATH: the C references were not checked");
        return;
    }
    let bin_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lang-programs-c");
    std::fs::create_dir_all(&bin_dir).expect("bin dir");
    let mut built = std::collections::HashSet::new();
    for (case, source) in cases_with_references("c") {
        let bin = bin_dir.join(&case.name);
        if built.insert(case.name.clone()) {
            output_of(
                Command::new("gcc")
                    .args(["-O2", "-ffp-contract=off"])
                    .arg("-o")
                    .arg(&bin)
                    .arg(&source)
                    .arg("-lm"),
            );
        }
        let out = output_of(Command::new(&bin).args(case.args.iter().map(i64::to_string)));
        assert_eq!(out, expected(&case), "{} {:?}", source.display(), case.args);
    }
}

#[test]
fn lua_references_print_the_expected_lines() {
    if !on_path("lua5.4") {
        eprintln!("note: lua5.4 is not on PATH: the Lua references were not checked");
        return;
    }
    for (case, source) in cases_with_references("lua") {
        let out = output_of(
            Command::new("lua5.4")
                .arg(&source)
                .args(case.args.iter().map(i64::to_string)),
        );
        assert_eq!(out, expected(&case), "{} {:?}", source.display(), case.args);
    }
}
