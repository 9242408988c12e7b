//! The suite (`programs/*.tj`) at small sizes against the outputs of the C
//! versions (`tests/expected/`, made with gcc from `../shared/peers/c`), and
//! the per-family programs of `programs/ops/` against their expected output,
//! each through every engine, and the benchmark pairs of `benches/programs/`
//! against each other.

mod common;
mod differential;

use common::programs::{load, manifest, op_programs, root, suite_program};
use tierjit::Value;

#[test]
fn suite_prints_what_the_c_versions_print() {
    let mut ran = 0;
    for row in manifest(&root().join("tests/expected/suite.tsv")) {
        let module = load(&root().join(&row.program));
        let args: Vec<Value> = row.args.iter().map(|&a| Value::I(a)).collect();
        let out = differential::check_module(&module, "main", &args);
        assert!(out.result.is_ok(), "{row:?}: {:?}", out.result);
        assert_eq!(out.output, row.expected_output(), "{row:?}");
        ran += 1;
    }
    assert!(
        ran >= 7 * 3,
        "every suite program at three sizes at least (ran {ran})"
    );
}

#[test]
fn suite_defaults_match_the_peers() {
    // The defaults are the peers' sizes: main's declared defaults say so.
    let defaults: &[(&str, &[i64])] = &[
        ("fib", &[40]),
        ("loop", &[100_000_000]),
        ("sieve", &[10_000_000, 10]),
        ("nbody", &[5_000_000]),
        ("mandelbrot", &[2000, 50]),
        ("spectralnorm", &[2000]),
        ("matmul", &[600]),
    ];
    for (name, want) in defaults {
        let module = suite_program(name);
        let main = &module.functions[module.entry().expect("main")];
        let got: Vec<i64> = (0..main.sig.params.len())
            .map(|i| main.param_default(i).expect("default"))
            .collect();
        assert_eq!(&got, want, "{name}");
    }
}

#[test]
fn op_family_programs_print_their_expected_output() {
    let dir = root().join("programs/ops");
    let mut ran = 0;
    for path in op_programs() {
        let stem = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let expected = std::fs::read_to_string(dir.join("expected").join(format!("{stem}.txt")))
            .unwrap_or_else(|e| panic!("expected output of {stem}: {e}"));
        let out = differential::check_module(&load(&path), "main", &[]);
        assert!(out.result.is_ok(), "{stem}: {:?}", out.result);
        assert_eq!(out.output, expected, "{stem}");
        ran += 1;
    }
    assert!(ran >= 8, "one program per op family (ran {ran})");
}

/// The benchmark pairs of `benches/programs/` (a loop with an indirect
/// call, a switch or a tail call, and the same loop written the plain way:
/// the goals of `tierjit bench` compare their times) print the same, on
/// every engine, at a small size.
#[test]
fn benchmark_pairs_compute_the_same() {
    let dir = root().join("benches/programs");
    for (a, b) in [
        ("indirect", "direct"),
        ("indirect_param", "direct_param"),
        ("tailsum", "loopsum"),
        ("switch64", "chain64"),
    ] {
        let run = |name: &str| {
            let module = load(&dir.join(format!("{name}.tj")));
            let out = differential::check_module(&module, "main", &[Value::I(1000)]);
            assert!(out.result.is_ok(), "{name}: {:?}", out.result);
            out.output
        };
        let (x, y) = (run(a), run(b));
        assert!(!x.is_empty(), "{a} prints its result");
        assert_eq!(x, y, "{a} and {b}");
    }
}

/// `copy64.tj` (bulk copy against C's `memmove`) prints what its C peer
/// (`benches/peers/c/copy64.c`) prints, on every engine, at small sizes:
/// the lines below are that program's output.
#[test]
fn copy_benchmark_matches_its_c_peer() {
    let module = load(&root().join("benches/programs/copy64.tj"));
    for (n, reps, want) in [
        (1000, 7, "copy64(1000, 7) = 184792\n"),
        (10, 3, "copy64(10, 3) = 4418\n"),
    ] {
        let out = differential::check_module(&module, "main", &[Value::I(n), Value::I(reps)]);
        assert!(out.result.is_ok(), "{:?}", out.result);
        assert_eq!(out.output, want);
    }
}

/// The struct benchmarks (`listsum`, `binarytrees`; peers in
/// `benches/peers/`) print the same on every engine at a small size, what
/// their C and Lua peers print.
#[test]
fn struct_benchmarks_compute_their_checksums() {
    let dir = root().join("benches/programs");
    let run = |name: &str, args: &[Value]| {
        let module = load(&dir.join(format!("{name}.tj")));
        let out = differential::check_module(&module, "main", args);
        assert!(out.result.is_ok(), "{name}: {:?}", out.result);
        out.output
    };
    assert_eq!(
        run("listsum", &[Value::I(1000), Value::I(3)]),
        "listsum(1000, 3) = 1498500\n"
    );
    // A tree of depth d has 2^(d+1) - 1 nodes.
    let nodes = |d: u32| (1i64 << (d + 1)) - 1;
    let n = 8;
    let mut want = format!(
        "stretch tree of depth {}\t check: {}\n",
        n + 1,
        nodes(n + 1)
    );
    for d in (4..=n).step_by(2) {
        let iters = 1i64 << (n - d + 4);
        want += &format!(
            "{iters}\t trees of depth {d}\t check: {}\n",
            iters * nodes(d)
        );
    }
    want += &format!("long lived tree of depth {n}\t check: {}\n", nodes(n));
    assert_eq!(run("binarytrees", &[Value::I(i64::from(n))]), want);
}
