//! Unwinding through compiled code (issue 21): a Rust backtrace taken in a
//! host function called from deep in compiled code reaches the Rust code
//! that called the program (the system unwinder crossed every compiled
//! frame and the stack-switching trampoline, through the unwind info the
//! engine registers); the frame-pointer chain links every compiled frame
//! (what `perf --call-graph fp` walks); and, if `perf` may run here, perf
//! itself sees call chains through compiled frames.

mod common;

use common::programs::RECURSIVE_FIB;
use std::backtrace::Backtrace;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};
use tierjit::runtime::unwind::{is_registered_code, walk_frame_pointers};
use tierjit::{Bank, Config, Engine, Linker, Module, Signature, Tier, Value};

/// `rec(n)` recurses `n` deep (not in tail position) and calls the host's
/// `probe` at the bottom; `chain(n)` does the same but reaches `probe`
/// through a chain of tail calls `even -> odd -> even ...` (each replacing
/// its frame) at the bottom.
const PROGRAM: &str = "
import probe(i) -> i

func rec(i) -> i
    jlti i0, 1, bottom
    subi i1, i0, 1
    call i1, rec, 1
    addi i0, i1, 1
    reti i0
bottom:
    hcall i1, probe, 0
    reti i1
end

func chain(i) -> i
    jlti i0, 1, bottom
    subi i1, i0, 1
    call i1, chain, 1
    addi i0, i1, 1
    reti i0
bottom:
    iconst i1, 6
    call i1, even, 1
    reti i1
end

func even(i) -> i
    jlti i0, 1, done
    subi i0, i0, 1
    tcall odd, 0
done:
    hcall i1, probe, 0
    reti i1
end

func odd(i) -> i
    subi i0, i0, 1
    tcall even, 0
end
";

/// What the probe saw.
#[derive(Default)]
struct Seen {
    /// The backtrace, rendered.
    backtrace: String,
    /// How many frames of compiled code the frame-pointer chain links,
    /// starting at the compiled caller of the host function.
    fp_frames: usize,
}

type TraceFn = extern "C" fn(ctx: *mut c_void, arg: *mut c_void) -> i32;

unsafe extern "C" {
    // libgcc's unwinder, which `std::backtrace` uses too.
    fn _Unwind_Backtrace(trace: TraceFn, arg: *mut c_void) -> i32;
    fn _Unwind_GetIP(ctx: *mut c_void) -> usize;
    fn _Unwind_GetGR(ctx: *mut c_void, index: i32) -> usize;
}

/// The DWARF number of the frame-pointer register.
const FP_REGISTER: i32 = if cfg!(target_arch = "aarch64") { 29 } else { 6 };

/// `_Unwind_Backtrace` callback: at the first frame of compiled code, note
/// its frame pointer (which the unwinder restored through the Rust frames
/// in between, which need not keep a frame chain) and stop.
extern "C" fn note_jit_frame_pointer(ctx: *mut c_void, arg: *mut c_void) -> i32 {
    // SAFETY: `ctx` is the unwinder's context; `arg` our `usize`.
    unsafe {
        if is_registered_code(_Unwind_GetIP(ctx)) {
            *(arg as *mut usize) = _Unwind_GetGR(ctx, FP_REGISTER);
            return 5; // _URC_END_OF_STACK: stop here
        }
    }
    0 // _URC_NO_REASON: go on
}

/// The frame pointer of the innermost frame of compiled code on this
/// thread's stack, or 0.
fn jit_caller_frame_pointer() -> usize {
    let mut fp = 0usize;
    // SAFETY: the callback and its argument match.
    unsafe { _Unwind_Backtrace(note_jit_frame_pointer, &mut fp as *mut usize as *mut c_void) };
    fp
}

fn engine(tier: Tier, unwind_info: bool) -> Engine {
    let mut config = Config::new();
    config
        .tier(tier)
        .unwind_info(unwind_info)
        .hot_calls(1)
        .hot_loops(1)
        .background_compilation(false)
        // Inlined calls have no frames: keep one frame per call.
        .cranelift_inline_max_ops(0);
    Engine::new(config).unwrap()
}

/// [`run_to_probe`] with unwind info registered.
fn run_to_probe_in_unwind_test(tier: Tier, func: &str, depth: i64) -> Seen {
    run_to_probe(tier, true, func, depth)
}

/// Run `func(depth)` under `tier` (unwind info registered or not) with a
/// probe that captures the backtrace and walks the frame pointers. Never
/// inlined: the backtrace must show it.
#[inline(never)]
fn run_to_probe(tier: Tier, unwind_info: bool, func: &str, depth: i64) -> Seen {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut linker = Linker::new();
    let s = seen.clone();
    linker
        .func(
            "probe",
            Signature::new(vec![Bank::I], Some(Bank::I)),
            move |args| {
                let fp = jit_caller_frame_pointer();
                // SAFETY: 0 or the frame pointer of a live compiled frame.
                let fp_frames = unsafe { walk_frame_pointers(fp, 1000) }.len();
                let backtrace = Backtrace::force_capture().to_string();
                *s.lock().unwrap() = Seen {
                    backtrace,
                    fp_frames,
                };
                Ok(args.first().copied())
            },
        )
        .unwrap();
    let module = Module::new(&engine(tier, unwind_info), PROGRAM).unwrap();
    let mut instance = linker.instantiate(&module).unwrap();
    // Twice: the first call may still run older code while the tiers
    // settle (compiled at once, no background compilation).
    for _ in 0..2 {
        let r = instance.call(func, &[Value::I(depth)]).unwrap();
        assert!(matches!(r, Some(Value::I(_))), "{r:?}");
    }
    std::mem::take(&mut *seen.lock().unwrap())
}

/// Whether a rendered backtrace reaches [`run_to_probe`], the Rust code
/// that called the program (its probe closure is the innermost frame).
fn reaches_the_caller(backtrace: &str) -> bool {
    backtrace
        .lines()
        .any(|l| l.trim_end().ends_with(": unwind::run_to_probe"))
}

/// The frames of a rendered backtrace ("  12: name").
fn frame_count(backtrace: &str) -> usize {
    backtrace
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.split_once(": ")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count()
}

const DEPTH: i64 = 5;

fn check_backtrace(func: &str) {
    for tier in [Tier::Template, Tier::Cranelift] {
        if !tier.is_available() {
            eprintln!("{tier} is not available here: skipped");
            continue;
        }
        let deep = run_to_probe_in_unwind_test(tier, func, DEPTH);
        let shallow = run_to_probe_in_unwind_test(tier, func, 0);
        for seen in [&deep, &shallow] {
            assert!(
                reaches_the_caller(&seen.backtrace),
                "{tier} {func}: the backtrace stops in compiled code:\n{}",
                seen.backtrace
            );
        }
        let (d, s) = (
            frame_count(&deep.backtrace),
            frame_count(&shallow.backtrace),
        );
        assert!(
            d >= s + DEPTH as usize,
            "{tier} {func}: {d} frames at depth {DEPTH}, {s} at depth 0:\n{}",
            deep.backtrace
        );
    }
}

#[test]
fn a_backtrace_in_a_host_function_walks_through_compiled_frames() {
    check_backtrace("rec");
}

/// Without the registered unwind info the unwinder stops at the first
/// compiled frame: the info is what carries it through.
#[test]
fn without_unwind_info_a_backtrace_stops_in_compiled_code() {
    for tier in [Tier::Template, Tier::Cranelift] {
        if !tier.is_available() {
            continue;
        }
        let seen = run_to_probe(tier, false, "rec", DEPTH);
        assert!(
            !reaches_the_caller(&seen.backtrace),
            "{tier}:\n{}",
            seen.backtrace
        );
        assert_eq!(seen.fp_frames, 0, "{tier}: nothing is registered");
    }
}

#[test]
fn a_backtrace_walks_through_compiled_frames_after_tail_calls() {
    check_backtrace("chain");
}

#[test]
fn the_frame_pointer_chain_links_every_compiled_frame() {
    for tier in [Tier::Template, Tier::Cranelift] {
        if !tier.is_available() {
            continue;
        }
        // Only plain calls: a tail call is finished by a Rust helper (the
        // dispatcher) whose frame the walk does not cross (it is no compiled
        // code, and Rust code may use rbp / x29 as it likes).
        let func = "rec";
        let deep = run_to_probe_in_unwind_test(tier, func, DEPTH);
        let shallow = run_to_probe_in_unwind_test(tier, func, 0);
        // rec(0), called from the embedder, returns to the trampoline.
        assert_eq!(shallow.fp_frames, 0, "{tier} {func}");
        assert!(
            deep.fp_frames >= shallow.fp_frames + DEPTH as usize,
            "{tier} {func}: the frame chain links {} compiled frames at depth {DEPTH}, {} at 0",
            deep.fp_frames,
            shallow.fp_frames
        );
    }
}

/// `perf record --call-graph fp` on a recursive program sees call chains
/// of more than 3 compiled frames, in both tiers. Skipped (with a message)
/// where perf is missing or not permitted.
#[test]
fn perf_sees_call_chains_through_compiled_frames() {
    use std::process::Command;
    if let Ok(runner) = std::env::var("TIERJIT_TEST_RUNNER") {
        // Under an emulator perf would profile the emulator, not our code.
        eprintln!("the binary runs under `{runner}`: perf skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tierjit-unwind-perf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("perf.data");
    let probe = Command::new("perf")
        .args(["record", "-q", "-e", "cpu-clock", "-o"])
        .arg(&data)
        .args(["--", "true"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "perf may not record here: skipped ({})",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            eprintln!("perf is not available: skipped ({e})");
            return;
        }
    }
    let program = dir.join("fib.tj");
    std::fs::write(
        &program,
        format!("{RECURSIVE_FIB}func main(i) -> i\n    call i1, fib, 0\n    reti i1\nend\n"),
    )
    .unwrap();
    for tier in ["template", "cranelift"] {
        let record = Command::new("perf")
            .args([
                "record",
                "-q",
                "-e",
                "cpu-clock",
                "-F",
                "2000",
                "--call-graph",
                "fp",
                "-o",
            ])
            .arg(&data)
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_tierjit"))
            .args(["run", "--tier", tier])
            .arg(&program)
            .arg("30")
            .output()
            .unwrap();
        assert!(
            record.status.success(),
            "perf record: {}",
            String::from_utf8_lossy(&record.stderr)
        );
        let script = Command::new("perf")
            .args(["script", "-F", "ip,sym,dso", "-i"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(script.status.success());
        let text = String::from_utf8_lossy(&script.stdout);
        // Compiled code lies in anonymous memory, which perf attributes
        // to the perf map `/tmp/perf-PID.map` (whether one is written or not).
        let is_jit = |l: &str| l.contains("(/tmp/perf-");
        let deepest = text
            .split("\n\n")
            .map(|chain| {
                let mut run = 0;
                let mut best = 0;
                for l in chain.lines() {
                    run = if is_jit(l) { run + 1 } else { 0 };
                    best = best.max(run);
                }
                best
            })
            .max()
            .unwrap_or(0);
        assert!(
            deepest > 3,
            "{tier}: no perf call chain with more than 3 compiled frames:\n{}",
            &text[..text.len().min(4000)]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
