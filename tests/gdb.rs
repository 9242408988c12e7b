//! gdb sees the JIT code: `tierjit run --debug-info` under `gdb -batch`
//! breaks on a bytecode function and backtraces through its recursive JIT
//! frames, by name and with `.tj` lines, in the template and Cranelift
//! tiers. Skipped (with a message) where gdb is missing or cannot trace, and
//! under a cross test runner (qemu).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why gdb cannot run the test here, if it cannot.
fn skip_reason() -> Option<String> {
    if std::env::var("TIERJIT_TEST_RUNNER").is_ok_and(|r| !r.is_empty()) {
        return Some("a cross test runner (qemu) runs the binary".into());
    }
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        return Some("no JIT tier on this machine".into());
    }
    match Command::new("gdb").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("gdb is not installed".into()),
    }
}

/// gdb's output of a batch session on `tierjit run --tier TIER ... fib.tj
/// 12`: break on `fib`, stop at its 7th call, backtrace, name the symbol
/// at the pc. `None` when the system does not let gdb trace.
fn session(tier: &str, extra_args: &[&str], env: &[(&str, &str)]) -> Option<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut args: Vec<String> = [
        "-batch",
        "-nx",
        "-ex",
        "set pagination off",
        "-ex",
        "set confirm off",
        "-ex",
        "set breakpoint pending on",
        "-ex",
        "break fib",
        "-ex",
        "run",
        // The 7th call: seven frames of fib (n-1 first: 12, 11, ..., 6).
        "-ex",
        "continue 6",
        "-ex",
        "bt 12",
        "-ex",
        "info symbol $pc",
        "-ex",
        "kill",
        "--args",
        env!("CARGO_BIN_EXE_tierjit"),
        "run",
        "--tier",
        tier,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra_args.iter().map(|s| s.to_string()));
    args.push(
        Path::new(root)
            .join("programs/fib.tj")
            .display()
            .to_string(),
    );
    args.push("12".into());
    let mut child = Command::new("gdb")
        .args(&args)
        .envs(env.iter().copied())
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gdb starts");
    let start = Instant::now();
    while child.try_wait().expect("gdb runs").is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("gdb did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("gdb's output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if text.contains("ptrace: Operation not permitted") || text.contains("Could not trace") {
        println!("skipped: gdb may not trace here:\n{text}");
        return None;
    }
    Some(text)
}

/// The backtrace's frame lines (`#N ...`).
fn frames(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with('#')).collect()
}

/// Frames in `fib` with a line of fib.tj.
fn fib_frames_with_lines(text: &str) -> usize {
    frames(text)
        .iter()
        .filter(|l| l.contains(" fib (") && l.contains("fib.tj:"))
        .count()
}

fn check(tier: &str, text: &str) {
    let frames = frames(text);
    assert!(
        fib_frames_with_lines(text) >= 5,
        "{tier}: fewer than 5 frames of fib with fib.tj lines:\n{text}"
    );
    // The first call of fib comes from main, which is JIT code too.
    assert!(
        frames
            .iter()
            .any(|l| l.contains(" main (") && l.contains("fib.tj:")),
        "{tier}: no frame of main:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("fib ") && l.contains("in section .text")),
        "{tier}: `info symbol $pc` does not name fib:\n{text}"
    );
}

#[test]
fn gdb_breaks_on_a_bytecode_function_and_backtraces_its_frames() {
    if let Some(why) = skip_reason() {
        println!("skipped: {why}");
        return;
    }
    let Some(template) = session("template", &["--debug-info"], &[]) else {
        return;
    };
    check("template", &template);
    // Without inlining, every call of fib is a frame of its own.
    let Some(cranelift) = session(
        "cranelift",
        &["--cranelift-inline", "0"],
        &[("TIERJIT_DEBUG_INFO", "1")],
    ) else {
        return;
    };
    check("cranelift", &cranelift);
    println!("template:\n{}\ncranelift:\n{}", template, cranelift);
}

#[test]
fn without_debug_info_gdb_knows_no_fib() {
    if let Some(why) = skip_reason() {
        println!("skipped: {why}");
        return;
    }
    let Some(text) = session("template", &[], &[("TIERJIT_DEBUG_INFO", "0")]) else {
        return;
    };
    assert_eq!(fib_frames_with_lines(&text), 0, "{text}");
    assert!(text.contains("exited normally"), "{text}");
}
