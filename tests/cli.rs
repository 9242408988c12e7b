//! The command-line tool end to end: good runs, and bad input of every kind
//! ending in one clear line and a non-zero exit, never a panic.

use std::path::PathBuf;
use std::process::Output;

mod common;
use common::cli::tierjit;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failed run: exit code 1, a message starting `tierjit:` naming `what`,
/// and no panic.
fn assert_clean_failure(o: &Output, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {err}");
    assert!(err.starts_with("tierjit: "), "stderr: {err}");
    assert!(err.contains(what), "stderr should mention {what:?}: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
}

/// Run `tierjit` as [`tierjit`] does, with `input` on its standard input.
fn tierjit_stdin(args: &[&str], env: &[(&str, &str)], input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = common::cli::command(args, env);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("tierjit runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    // Written from another thread: a large input must not block on a full
    // pipe while tierjit's output fills the other one.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("tierjit ends");
    writer.join().expect("writer");
    out
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tierjit-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write temp file");
    path
}

const FIB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/programs/fib.tj");

#[test]
fn run_prints_the_program_output() {
    let o = tierjit(&["run", FIB, "10"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "fib(10) = 55\n");
    let o = tierjit(&["run", "--tier", "interp", FIB, "-3"], &[]);
    assert_eq!(stdout(&o), "fib(-3) = -3\n");
}

#[test]
fn cranelift_inlining_can_be_turned_off() {
    let spectral = concat!(env!("CARGO_MANIFEST_DIR"), "/programs/spectralnorm.tj");
    for ops in ["0", "32"] {
        let o = tierjit(
            &[
                "run",
                "--tier",
                "cranelift",
                "--cranelift-inline",
                ops,
                spectral,
                "10",
            ],
            &[],
        );
        assert_eq!(stdout(&o), "1.271844019\n", "{}", stderr(&o));
    }
    // A bad value is a usage error from the argument parser.
    let o = tierjit(&["run", "--cranelift-inline", "many", FIB, "5"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--cranelift-inline"), "{}", stderr(&o));
}

#[test]
fn cranelift_inlining_depth_is_a_flag() {
    // Any depth runs the same program (past 16 it counts as 16).
    for levels in ["0", "1", "4", "4000000000"] {
        let o = tierjit(
            &[
                "run",
                "--tier",
                "cranelift",
                "--cranelift-inline-depth",
                levels,
                FIB,
                "20",
            ],
            &[],
        );
        assert_eq!(stdout(&o), "fib(20) = 6765\n", "{levels}: {}", stderr(&o));
    }
    let o = tierjit(&["run", "--cranelift-inline-depth", "deep", FIB, "5"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--cranelift-inline-depth"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn tier_flag_wins_over_the_environment() {
    let o = tierjit(
        &["run", "--tier", "interp", FIB, "5"],
        &[("TIERJIT_TIER", "bogus")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = tierjit(&["run", FIB, "5"], &[("TIERJIT_TIER", "bogus")]);
    assert_clean_failure(&o, "unknown tier `bogus`");
    let o = tierjit(&["run", FIB, "5"], &[("TIERJIT_TIER", "interp")]);
    assert!(o.status.success());
    let o = tierjit(&["run", FIB, "11"], &[("TIERJIT_TIER", "template")]);
    assert_eq!(stdout(&o), "fib(11) = 89\n", "{}", stderr(&o));
    let o = tierjit(
        &["run", "--tier", "template", FIB, "12"],
        &[("TIERJIT_TIER", "interp")],
    );
    assert_eq!(stdout(&o), "fib(12) = 144\n", "{}", stderr(&o));
    let o = tierjit(&["run", "--tier", "cranelift", FIB, "13"], &[]);
    assert_eq!(stdout(&o), "fib(13) = 233\n", "{}", stderr(&o));
    let o = tierjit(&["run", FIB, "14"], &[("TIERJIT_TIER", "cranelift")]);
    assert_eq!(stdout(&o), "fib(14) = 377\n", "{}", stderr(&o));
    let o = tierjit(&["run", "--tier", "warp", FIB, "5"], &[]);
    assert_clean_failure(&o, "unknown tier `warp`");
}

#[test]
fn bad_input_gets_one_clear_error() {
    let o = tierjit(&["run", "/nonexistent/x.tj"], &[]);
    assert_clean_failure(&o, "/nonexistent/x.tj");

    let p = temp_file("parse.tj", b"func main() -> none\n    bogus i0\nend\n");
    assert_clean_failure(&tierjit(&["run", p.to_str().unwrap()], &[]), "2:5");

    let p = temp_file(
        "verify.tj",
        b"func main() -> none\n    iconst i0, 1\n    reti i0\nend\n",
    );
    let o = tierjit(&["check", p.to_str().unwrap()], &[]);
    assert_clean_failure(&o, "`main` at op 1 (line 3)");

    let p = temp_file(
        "trap.tj",
        b"func main(i=0) -> none\n    iconst i1, 5\n    div i1, i1, i0\n    ret\nend\n",
    );
    let o = tierjit(&["run", p.to_str().unwrap()], &[]);
    assert_clean_failure(
        &o,
        "trap: integer division by zero in function `main` at op 1 (line 3, column 5)",
    );

    assert_clean_failure(
        &tierjit(&["run", FIB, "ten"], &[]),
        "argument 1 of `main`: `ten` is not an integer literal",
    );
    assert_clean_failure(
        &tierjit(&["run", FIB, "1", "2"], &[]),
        "takes 1 arguments, got 2",
    );

    let p = temp_file("nomain.tj", b"func f() -> none\n    ret\nend\n");
    assert_clean_failure(
        &tierjit(&["run", p.to_str().unwrap()], &[]),
        "no function named `main`",
    );
}

#[test]
fn garbage_files_never_crash_the_tool() {
    // A fixed pseudo-random sequence of byte soups and mangled programs.
    let source = std::fs::read(FIB).expect("fib.tj");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..40 {
        let bytes: Vec<u8> = if i % 2 == 0 {
            (0..(next() % 300)).map(|_| next() as u8).collect()
        } else {
            let mut s = source.clone();
            for _ in 0..(1 + next() % 4) {
                let at = (next() as usize) % s.len();
                s[at] = next() as u8;
            }
            s
        };
        let p = temp_file(&format!("garbage{i}.tj"), &bytes);
        let o = tierjit(&["run", p.to_str().unwrap(), "5"], &[]);
        let err = stderr(&o);
        assert!(
            matches!(o.status.code(), Some(0) | Some(1)),
            "exit {:?}: {err}",
            o.status
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn check_dis_and_bench() {
    let o = tierjit(&["check", FIB], &[]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("ok (2 functions"), "{}", stdout(&o));

    let o = tierjit(&["dis", FIB], &[]);
    assert!(o.status.success());
    let listing = temp_file("dis.tj", &o.stdout);
    let o = tierjit(&["run", listing.to_str().unwrap(), "12"], &[]);
    assert_eq!(
        stdout(&o),
        "fib(12) = 144\n",
        "the listing runs: {}",
        stderr(&o)
    );

    let spec = format!("{FIB}@15");
    let o = tierjit(&["bench", "--runs", "1", "--ns-per-op", &spec], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("| fib | 15 |") && out.contains("ops)"),
        "{out}"
    );
}

/// `--peers` repeats: a program's peers come from the first folder that
/// has any for its name, and their output must equal the engines'.
#[test]
fn bench_looks_for_peers_in_each_folder() {
    use std::os::unix::fs::PermissionsExt;
    let base = temp_file("peers", b"").with_extension("d");
    let write = |dir: &str, file: &str, text: &str| {
        let path = base.join(dir).join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        base.join(dir)
    };
    let empty = write("empty", "lua/other.lua", "print(1)\n");
    let script = |dir: &str, text: &str| write(dir, "bin/fib.O2", text);
    let good = script("good", "#!/bin/sh\necho 'fib(15) = 610'\n");
    let spec = format!("{FIB}@15");
    let run = |dirs: &[&PathBuf]| {
        let mut args = vec!["bench", "--runs", "1", "--tiers", "interp"];
        for d in dirs {
            args.extend(["--peers", d.to_str().unwrap()]);
        }
        args.push(&spec);
        // A script just written can be briefly "busy" while another test
        // thread forks with its descriptor open (ETXTBSY): try again.
        let mut o = tierjit(&args, &[]);
        for _ in 0..20 {
            if !stderr(&o).contains("busy") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            o = tierjit(&args, &[]);
        }
        o
    };
    let o = run(&[&empty, &good]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("gcc-O2"), "{}", stdout(&o));

    let wrong = script("wrong", "#!/bin/sh\necho 'fib(15) = 611 (wrong)'\n");
    let o = run(&[&wrong, &good]);
    assert_clean_failure(&o, "differs");
}

#[test]
fn a_reader_that_stops_early_ends_output_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    if std::env::var("TIERJIT_TEST_RUNNER").is_ok_and(|r| !r.is_empty()) {
        return; // qemu-user's own handling of the signal is not ours to test
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_tierjit"))
        .args(["dis", "--clif", "programs/nbody.tj"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tierjit runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("; function 0"), "{first}");
    // The pipe's reader is gone now.
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_dash_reads_the_program_from_standard_input() {
    let fib = std::fs::read(FIB).expect("fib.tj");
    let o = tierjit_stdin(&["run", "-", "10"], &[], &fib);
    assert_eq!(stdout(&o), "fib(10) = 55\n", "{}", stderr(&o));
    let o = tierjit_stdin(
        &["run", "--tier", "interp", "-"],
        &[],
        b"func main() -> i\n iconst i0, 7\n reti i0\nend\n",
    );
    assert_eq!(stdout(&o), "7\n", "{}", stderr(&o));

    let o = tierjit_stdin(&["check", "-"], &[], &fib);
    assert_eq!(
        stdout(&o),
        "<stdin>: ok (2 functions, 15 ops, 0 imports)\n",
        "{}",
        stderr(&o)
    );

    // `dis -` prints what `dis FILE` prints.
    let from_file = tierjit(&["dis", FIB], &[]);
    let o = tierjit_stdin(&["dis", "-"], &[], &fib);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&from_file));
    let o = tierjit_stdin(&["dis", "--clif", "-"], &[], &fib);
    assert!(stdout(&o).contains("; function 1: main"), "{}", stderr(&o));

    // Read once, used by every engine and by every `-` spec (`-@ARGS`
    // after `--`, or it would be an option).
    let fib15 = String::from_utf8(fib.clone())
        .unwrap()
        .replace("func main(i=40)", "func main(i=15)");
    let o = tierjit_stdin(
        &[
            "bench",
            "--runs",
            "1",
            "--tiers",
            "interp,template",
            "-",
            "--",
            "-@12",
            "-@0x0d",
        ],
        &[],
        fib15.as_bytes(),
    );
    let out = stdout(&o);
    assert!(
        out.contains("| stdin |  |")
            && out.contains("| stdin | 12 |")
            && out.contains("| stdin | 0x0d |"),
        "{out}{}",
        stderr(&o)
    );

    // Errors name `<stdin>`: parse, verification, trap, empty input.
    let o = tierjit_stdin(
        &["run", "-"],
        &[],
        b"func main() -> none\n    bogus i0\nend\n",
    );
    assert_clean_failure(&o, "<stdin>: ");
    assert!(stderr(&o).contains("2:5"), "{}", stderr(&o));
    let o = tierjit_stdin(
        &["check", "-"],
        &[],
        b"func main() -> none\n    iconst i0, 1\n    reti i0\nend\n",
    );
    assert_clean_failure(&o, "<stdin>: ");
    assert!(
        stderr(&o).contains("`main` at op 1 (line 3)"),
        "{}",
        stderr(&o)
    );
    let o = tierjit_stdin(
        &["run", "-"],
        &[],
        b"func main(i=0) -> none\n    iconst i1, 5\n    div i1, i1, i0\n    ret\nend\n",
    );
    assert_clean_failure(&o, "<stdin>: trap: integer division by zero");
    let o = tierjit_stdin(&["run", "-"], &[], b"");
    assert_clean_failure(&o, "<stdin>: ");
    assert!(
        stderr(&o).contains("no function named `main`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn invalid_utf8_is_an_error_at_its_line_and_column() {
    let p = temp_file(
        "latin1.tj",
        b"func main() -> none\n    prints \"caf\xe9\"\n    ret\nend\n",
    );
    let path = p.to_str().unwrap();
    for cmd in ["run", "check", "dis"] {
        let o = tierjit(&[cmd, path], &[]);
        assert_clean_failure(&o, &format!("{path}: "));
        assert!(stderr(&o).contains("2:16"), "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("UTF-8"), "{cmd}: {}", stderr(&o));
    }
    let o = tierjit_stdin(&["run", "-"], &[], b"func main() -> none\n\xff");
    assert_clean_failure(&o, "<stdin>: ");
    assert!(stderr(&o).contains("2:1"), "{}", stderr(&o));
}

#[test]
fn main_arguments_are_integer_literals_of_the_text_format() {
    for (arg, n) in [
        ("0x9E3779B97F4A7C15", "-7046029254386353131"),
        ("0xffffffffffffffff", "-1"),
        ("-0x8000000000000000", "-9223372036854775808"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("0X0a", "10"),
        ("-3", "-3"),
    ] {
        let o = tierjit(&["run", "--tier", "interp", FIB, arg], &[]);
        let expected = if n == "10" {
            "fib(10) = 55\n".to_string()
        } else {
            format!("fib({n}) = {n}\n")
        };
        assert_eq!(stdout(&o), expected, "{arg}: {}", stderr(&o));
    }
    let two = temp_file(
        "two.tj",
        b"func main(i, i) -> i\n    add i0, i0, i1\n    reti i0\nend\n",
    );
    let two = two.to_str().unwrap();
    let o = tierjit(&["run", two, "0x10", "-0x1"], &[]);
    assert_eq!(stdout(&o), "15\n", "{}", stderr(&o));
    for (args, what) in [
        (
            ["1", "+2"],
            "argument 2 of `main`: `+2` is not an integer literal",
        ),
        (
            ["1_000", "2"],
            "argument 1 of `main`: `1_000` is not an integer literal",
        ),
        (
            [" 1", "2"],
            "argument 1 of `main`: ` 1` is not an integer literal",
        ),
        (
            ["1", "0x"],
            "argument 2 of `main`: `0x` is not an integer literal",
        ),
        (
            ["9223372036854775808", "0"],
            "argument 1 of `main`: integer `9223372036854775808` does not fit 64 bits",
        ),
        (
            ["0", "0x1ffffffffffffffff"],
            "argument 2 of `main`: integer `0x1ffffffffffffffff` does not fit 64 bits (a hex literal has at most 16 significant digits)",
        ),
    ] {
        let o = tierjit(&["run", two, args[0], args[1]], &[]);
        assert_clean_failure(&o, what);
    }
}

/// The `tier` and `osr` columns of function `name` in `--stats` output.
fn stats_of(err: &str, name: &str) -> (String, String) {
    let line = err
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no stats line for {name}: {err}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    (cols[1].to_string(), cols[cols.len() - 1].to_string())
}

#[test]
fn environment_thresholds_hold_whatever_chooses_the_tier() {
    let loop_tj = concat!(env!("CARGO_MANIFEST_DIR"), "/programs/loop.tj");
    // By flag, by TIERJIT_TIER, by default; and a flag over a bad
    // TIERJIT_TIER keeps the thresholds too.
    type Env<'a> = &'a [(&'a str, &'a str)];
    let ways: [(&[&str], Env); 4] = [
        (&["--tier", "auto"], &[]),
        (&[], &[("TIERJIT_TIER", "auto")]),
        (&[], &[]),
        (&["--tier", "auto"], &[("TIERJIT_TIER", "bogus")]),
    ];
    for (flags, tier_env) in ways {
        let run = |program: &str, arg: &str, env: &[(&str, &str)]| {
            let mut args = vec!["run"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&["--sync-tier-up", "--stats", program, arg]);
            let env: Vec<(&str, &str)> = tier_env.iter().chain(env).copied().collect();
            let o = tierjit(&args, &env);
            assert!(o.status.success(), "{args:?} {env:?}: {}", stderr(&o));
            o
        };
        // main is called once: the default threshold (1000 calls) keeps it
        // in the template tier; a threshold of 1 moves it at that call.
        let o = run(FIB, "5", &[]);
        assert_eq!(stdout(&o), "fib(5) = 5\n");
        assert_eq!(stats_of(&stderr(&o), "main").0, "template", "{flags:?}");
        let o = run(FIB, "5", &[("TIERJIT_HOT_CALLS", "1")]);
        assert_eq!(stdout(&o), "fib(5) = 5\n");
        assert_eq!(
            stats_of(&stderr(&o), "main").0,
            "cranelift",
            "{flags:?} {tier_env:?}: {}",
            stderr(&o)
        );
        // 1000 back-edges: under the default (10,000) no loop entry; at 10,
        // one.
        let o = run(loop_tj, "1000", &[]);
        assert_eq!(stats_of(&stderr(&o), "main").1, "0", "{}", stderr(&o));
        let o = run(loop_tj, "1000", &[("TIERJIT_HOT_LOOPS", "10")]);
        assert_eq!(stdout(&o), "loop(1000) = 972634684\n");
        assert_eq!(
            stats_of(&stderr(&o), "main").1,
            "1",
            "{flags:?} {tier_env:?}: {}",
            stderr(&o)
        );
        // A bad threshold is an error whatever chooses the tier.
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[FIB, "5"]);
        let env: Vec<(&str, &str)> = tier_env
            .iter()
            .copied()
            .chain([("TIERJIT_HOT_LOOPS", "0")])
            .collect();
        assert_clean_failure(
            &tierjit(&args, &env),
            "TIERJIT_HOT_LOOPS must be a whole number from 1",
        );
    }
}

/// The environment variables the crate's sources read: the names passed
/// to `env::var`/`env::var_os` as literals and the `*_ENV` constants.
fn environment_variables_read() -> Vec<String> {
    fn walk(dir: &std::path::Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs" || e == "sh") {
                files.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "scripts"] {
        walk(&root.join(dir), &mut files);
    }
    let mut names = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for marker in ["env::var(\"", "env::var_os(\"", "_ENV: &str = \"", "${"] {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                // In the scripts, a variable with a default (`:-`) comes from outside.
                let from_outside = marker != "${" || rest[name.len()..].starts_with(":-");
                if name.len() > 1 && from_outside {
                    names.push(name);
                }
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_environment_variable_is_documented() {
    let names = environment_variables_read();
    for expected in [
        "TIERJIT_TIER",
        "TIERJIT_HOT_CALLS",
        "TIERJIT_HOT_LOOPS",
        "TIERJIT_BLESS",
        "TIERJIT_TEST_RUNNER",
        "TIERJIT_PEERS",
        "PATH",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not found in {names:?}"
        );
    }
    assert_eq!(tierjit::TIER_ENV, "TIERJIT_TIER");
    assert_eq!(tierjit::engine::HOT_CALLS_ENV, "TIERJIT_HOT_CALLS");
    assert_eq!(tierjit::engine::HOT_LOOPS_ENV, "TIERJIT_HOT_LOOPS");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let environment = readme
        .split("### Environment")
        .nth(1)
        .expect("the README has an Environment section");
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["bench", "--help"],
        &["dis", "--help"],
    ] {
        let o = tierjit(args, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let help = stdout(&o);
        for name in &names {
            assert!(
                help.contains(&format!("  {name}")),
                "{args:?} omits {name}:\n{help}"
            );
        }
    }
    for name in &names {
        assert!(
            environment.contains(&format!("`{name}")),
            "the README omits {name}"
        );
    }
}

/// The versions `dis --asm` lists: each `; function` header (without that
/// prefix) and the lines under it.
#[cfg(feature = "disasm")]
fn asm_versions(listing: &str) -> Vec<(String, Vec<String>)> {
    let mut versions: Vec<(String, Vec<String>)> = Vec::new();
    for line in listing.lines() {
        if let Some(header) = line.strip_prefix("; function ") {
            versions.push((header.to_string(), Vec::new()));
        } else if let Some((_, lines)) = versions.last_mut()
            && !line.is_empty()
        {
            lines.push(line.to_string());
        }
    }
    versions
}

/// The mnemonic of a listing line (`  1c: 48 8b 7e 08    mov rdi, [rsi+8]`
/// on x86-64, `   1c: f9400fe0  ldr x0, [sp, #0x18]` on aarch64).
#[cfg(feature = "disasm")]
fn mnemonic(line: &str) -> Option<String> {
    let (_, rest) = line.split_once(": ")?;
    let text = if cfg!(target_arch = "x86_64") {
        rest.get(33..)?
    } else {
        rest.get(10..)?
    };
    text.split_whitespace().next().map(str::to_string)
}

#[cfg(feature = "disasm")]
#[test]
fn dis_asm_shows_every_version_of_every_function() {
    let o = tierjit(&["dis", "--asm", FIB], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let isa = if cfg!(target_arch = "x86_64") {
        "x86-64"
    } else {
        "aarch64"
    };
    assert!(
        out.starts_with(&format!("; machine code for {isa}\n; tier auto runs ")),
        "{out}"
    );
    assert!(
        out.contains("hot_call 0x7f0000001700"),
        "the fake helper addresses are named"
    );
    // Programs with arrays embed the null array's header address: a fake
    // one too, so their listings are the same from run to run.
    let sieve = concat!(env!("CARGO_MANIFEST_DIR"), "/programs/sieve.tj");
    let first = stdout(&tierjit(&["dis", "--asm", sieve], &[]));
    assert!(
        first.contains("null_array_header 0x7f0000001b00"),
        "{first}"
    );
    assert_eq!(first, stdout(&tierjit(&["dis", "--asm", sieve], &[])));
    let clif = stdout(&tierjit(&["dis", "--clif", sieve], &[]));
    assert!(clif.contains("0x7f00_0000_1b00"), "{clif}");
    assert_eq!(clif, stdout(&tierjit(&["dis", "--clif", sieve], &[])));
    let versions = asm_versions(&out);
    let headers: Vec<&str> = versions
        .iter()
        .map(|(h, _)| h.split(',').next().unwrap_or_default())
        .collect();
    // fib has no loop: template and Cranelift code for each function.
    assert_eq!(
        headers,
        [
            "0: fib: template code",
            "0: fib: Cranelift code",
            "1: main: template code",
            "1: main: Cranelift code",
        ],
        "{out}"
    );
    assert!(
        versions[0].0.contains("with tier-up counters"),
        "{}",
        versions[0].0
    );
    // Template calls go through the function table: an indirect call.
    let (ret, call) = if cfg!(target_arch = "x86_64") {
        ("ret", "call")
    } else {
        ("ret", "blr")
    };
    for (header, lines) in &versions {
        let bytes: usize = header
            .rsplit(", ")
            .next()
            .and_then(|b| b.strip_suffix(" bytes"))
            .and_then(|b| b.parse().ok())
            .unwrap_or_else(|| panic!("no size in {header}"));
        assert!(bytes > 0 && !lines.is_empty(), "{header}");
        let mnemonics: Vec<String> = lines.iter().filter_map(|l| mnemonic(l)).collect();
        assert!(mnemonics.iter().any(|m| m == ret), "{header}: no {ret}");
        assert!(!mnemonics.iter().any(|m| m == "(bad)"), "{header}");
    }
    // fib's Cranelift code calls itself: linked to its start.
    let fib_cranelift = &versions[1].1;
    let self_call = if cfg!(target_arch = "x86_64") {
        "call 0"
    } else {
        "bl $-"
    };
    assert!(
        fib_cranelift.iter().any(|l| l.contains(self_call)) || cfg!(target_arch = "aarch64"),
        "{fib_cranelift:?}"
    );
    assert!(
        versions[0]
            .1
            .iter()
            .any(|l| mnemonic(l).as_deref() == Some(call)),
        "template fib calls"
    );
    // The same from one run to the next: helper addresses are fake.
    assert!(
        stdout(&tierjit(&["dis", "--asm", FIB], &[])) == out,
        "two listings differ"
    );

    // A loop: one version entered at each loop header.
    let loop_tj = concat!(env!("CARGO_MANIFEST_DIR"), "/programs/loop.tj");
    let o = tierjit(&["dis", "--asm", loop_tj], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let versions = asm_versions(&stdout(&o));
    let headers: Vec<&str> = versions.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(headers.len(), 3, "{headers:?}");
    assert!(headers[0].starts_with("0: main: template code, with tier-up counters, "));
    assert!(headers[1].starts_with("0: main: Cranelift code, "));
    assert!(
        headers[2]
            .starts_with("0: main: Cranelift code entered at the loop header at op 3 (OSR), "),
        "{headers:?}"
    );
    let mnemonics: Vec<String> = versions[2].1.iter().filter_map(|l| mnemonic(l)).collect();
    let multiply = if cfg!(target_arch = "x86_64") {
        "imul"
    } else {
        "mul"
    };
    assert!(mnemonics.iter().any(|m| m == multiply), "{mnemonics:?}");

    // Under another tier, template code without counters; smaller.
    let o = tierjit(&["dis", "--asm", "--tier", "template", loop_tj], &[]);
    let plain = asm_versions(&stdout(&o));
    assert!(stdout(&o).contains("; tier template runs the template code only"));
    assert!(
        plain[0]
            .0
            .starts_with("0: main: template code, without tier-up counters, ")
    );
    assert!(plain[0].1.len() < versions[0].1.len());
    let o = tierjit(&["dis", "--asm", loop_tj], &[("TIERJIT_TIER", "cranelift")]);
    assert!(
        asm_versions(&stdout(&o))[0]
            .0
            .contains("without tier-up counters")
    );
    assert_eq!(
        asm_versions(&stdout(&o)).len(),
        3,
        "every version still listed"
    );

    // From standard input too; errors name the file.
    let fib = std::fs::read(FIB).expect("fib.tj");
    let o = tierjit_stdin(&["dis", "--asm", "-"], &[], &fib);
    assert!(stdout(&o) == out, "the listing from stdin differs");
    let o = tierjit_stdin(
        &["dis", "--asm", "-"],
        &[],
        b"func main() -> none\n  bogus\nend\n",
    );
    assert_clean_failure(&o, "<stdin>: parse error at 2:3");
    // --asm is one view among the others.
    let o = tierjit(&["dis", "--asm", "--clif", FIB], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = tierjit(&["dis", "--tier", "auto", FIB], &[]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--tier goes with --asm: {}",
        stderr(&o)
    );
}

#[cfg(not(feature = "disasm"))]
#[test]
fn dis_asm_needs_the_disasm_feature() {
    let o = tierjit(&["dis", "--asm", FIB], &[]);
    assert_clean_failure(&o, "dis --asm needs the `disasm` feature");
}

const FIB_LARK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/programs/lang/fib.lark");

#[test]
fn run_and_dis_take_lark_programs() {
    for tier in ["interp", "template", "cranelift", "auto"] {
        let o = tierjit(&["run", "--tier", tier, FIB_LARK, "15"], &[]);
        assert!(o.status.success(), "{tier}: {}", stderr(&o));
        assert_eq!(stdout(&o), "fib(15) = 610\n", "{tier}");
    }
    let o = tierjit(&["dis", FIB_LARK], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("func fib(i) -> i"), "{}", stdout(&o));
}

#[test]
fn a_lark_compile_error_is_one_line_with_its_place() {
    let path = temp_file("bad.lark", b"fn main() {\n    let x = 1 + true\n}\n");
    let o = tierjit(&["run", path.to_str().expect("utf-8 path")], &[]);
    assert_clean_failure(&o, "bad.lark:2:15: `+` of int and bool");
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

/// The index of the first line of `log` after line `from` that holds every
/// one of `parts`.
fn log_line(log: &str, from: usize, parts: &[&str]) -> usize {
    log.lines()
        .enumerate()
        .skip(from)
        .find(|(_, line)| parts.iter().all(|p| line.contains(p)))
        .map(|(k, _)| k)
        .unwrap_or_else(|| panic!("no line with {parts:?} after line {from}:\n{log}"))
}

#[test]
fn log_writes_tier_up_events_to_stderr_and_leaves_stdout_alone() {
    let plain = tierjit(&["run", "programs/fib.tj", "25"], &[]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_eq!(stderr(&plain), "", "no --log, no RUST_LOG: no log");
    let want = stdout(&plain);
    assert_eq!(want, "fib(25) = 75025\n");

    // A bare --log before the file: the file is not taken for a filter.
    // Compiles are in the background: fib's Cranelift version may land
    // after the program ends, its template code and its request not.
    let o = tierjit(&["run", "--log", "programs/fib.tj", "25"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), want);
    let log = stderr(&o);
    let at = log_line(
        &log,
        0,
        &[
            "tierjit::tiering",
            "compiled",
            "func=\"fib\"",
            "tier=\"template\"",
        ],
    );
    let at = log_line(
        &log,
        at,
        &["tierjit::code", "installed", "func=\"fib\"", "addr=0x"],
    );
    log_line(
        &log,
        at,
        &[
            "queued",
            "func=\"fib\"",
            "reason=\"calls\"",
            "calls=1000",
            "compile=\"background\"",
        ],
    );

    // Synchronous tier-up: queued, compiled in Cranelift, installed, in
    // that order, on the running thread.
    let o = tierjit(
        &["run", "--log", "--sync-tier-up", "programs/fib.tj", "25"],
        &[],
    );
    assert_eq!(stdout(&o), want);
    let log = stderr(&o);
    let at = log_line(
        &log,
        0,
        &["queued", "func=\"fib\"", "compile=\"synchronous\""],
    );
    let at = log_line(
        &log,
        at,
        &[
            "compiled",
            "func=\"fib\"",
            "tier=\"cranelift\"",
            "micros=",
            "code_bytes=",
            "ops=8",
        ],
    );
    log_line(
        &log,
        at,
        &["installed", "func=\"fib\"", "tier=\"cranelift\""],
    );

    // RUST_LOG when there is no --log; --log's filter wins over it.
    let o = tierjit(
        &["run", "programs/fib.tj", "25"],
        &[("RUST_LOG", "tierjit::code=debug")],
    );
    assert_eq!(stdout(&o), want);
    let log = stderr(&o);
    log_line(&log, 0, &["installed", "func=\"main\""]);
    assert!(!log.contains("queued"), "{log}");
    let o = tierjit(
        &[
            "run",
            "--log=tierjit::tiering=debug",
            "programs/fib.tj",
            "25",
        ],
        &[("RUST_LOG", "off")],
    );
    assert_eq!(stdout(&o), want);
    let log = stderr(&o);
    log_line(&log, 0, &["queued", "func=\"fib\""]);
    assert!(!log.contains("installed"), "{log}");

    // bench takes it too; a filter that does not parse is an error.
    let o = tierjit(
        &[
            "bench",
            "--log",
            "--tiers",
            "auto",
            "--runs",
            "1",
            "programs/fib.tj@20",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    log_line(&stderr(&o), 0, &["installed", "func=\"fib\""]);
    let o = tierjit(&["run", "--log=tierjit=loud", "programs/fib.tj", "25"], &[]);
    assert_clean_failure(&o, "--log");
    let o = tierjit(
        &["run", "programs/fib.tj", "25"],
        &[("RUST_LOG", "tierjit=loud")],
    );
    assert_clean_failure(&o, "RUST_LOG");
}
