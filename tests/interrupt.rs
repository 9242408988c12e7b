//! An interrupt from another thread stops a call that would never end, on
//! every engine: the call traps with `Interrupted` at a loop's back-edge or
//! a call (function and op index, as for any trap), and the instance stays
//! usable.
//! The loops cover each kind of back-edge the tiers emit: a plain jump, a
//! compare-and-branch whose loop keeps f64 registers (restored at the
//! back-edge), an f64 compare-and-branch, and a loop in a callee; calls
//! poll too, so recursion without loops stops as well.

mod differential;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use tierjit::{Engine, Error, Instance, Module, SharedOutput, TrapKind, Value};

const SPINNERS: &str = "
    func jump_loop() -> i
        iconst i0, 0
    top:
        addi i0, i0, 1
        jmp top
    end

    ; Nine f64 values live in the body: more than the template tier's
    ; registers, so the back-edge restores the header's.
    func fp_loop(f) -> f
        fconst f1, 1.5
        fconst f2, 0.25
        fconst f3, 2.0
        iconst i0, 0
    top:
        fmul f4, f0, f1
        fmul f5, f2, f3
        fadd f6, f4, f5
        fsub f7, f4, f5
        fmul f8, f6, f7
        fadd f0, f8, f2
        fsub f2, f6, f3
        fmul f0, f0, f2
        addi i0, i0, 1
        jgti i0, -1, top
        fmov f0, f8
        retf f0
    end

    ; inf never exceeds inf, NaN never compares: f1 < inf stays true.
    func fp_compare_loop(f) -> f
        fconst f1, 0.0
        fconst f2, 1.0
        fdiv f3, f2, f1
    top:
        fadd f1, f1, f2
        fjlt f1, f3, top
        retf f1
    end

    func calls_a_loop() -> i
        iconst i1, 5
        call i0, jump_loop, 0
        add i0, i0, i1
        reti i0
    end

    ; 2^n calls and no loop: only the calls can poll.
    func recurse(i) -> i
        jlei i0, 0, leaf
        subi i1, i0, 1
        call i1, recurse, 1
        subi i1, i0, 1
        call i1, recurse, 1
        reti i1
    leaf:
        reti i0
    end

    func count(i) -> i
        iconst i1, 0
    top:
        jge i1, i0, done
        addi i1, i1, 1
        jmp top
    done:
        reti i1
    end
";

/// Each spinner, the function that polls and the op indices it may trap
/// at (its back-edge, or any of its calls).
const CASES: &[(&str, &[Value], &str, &[u32])] = &[
    ("jump_loop", &[], "jump_loop", &[2]),
    ("fp_loop", &[Value::F(0.5)], "fp_loop", &[13]),
    ("fp_compare_loop", &[Value::F(0.0)], "fp_compare_loop", &[4]),
    ("calls_a_loop", &[], "jump_loop", &[2]),
    ("recurse", &[Value::I(62)], "recurse", &[2, 4]),
];

/// Fail the whole test binary instead of hanging if a call ignores the
/// interrupt.
fn watchdog(done: Arc<AtomicBool>) {
    thread::spawn(move || {
        for _ in 0..600 {
            if done.load(Ordering::Relaxed) {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        eprintln!("an interrupted call did not stop within 60 s");
        std::process::exit(1);
    });
}

#[test]
fn an_interrupt_stops_every_kind_of_loop_on_every_engine() {
    let done = Arc::new(AtomicBool::new(false));
    watchdog(done.clone());
    for &tier in differential::ENGINES {
        let engine = Engine::new(differential::base_config(tier)).expect("engine");
        let module = Module::new(&engine, SPINNERS).expect("module");
        let mut inst = Instance::new(&module).expect("instance");
        inst.set_output(SharedOutput::new());
        for &(func, args, trap_func, trap_pcs) in CASES {
            let handle = inst.interrupt_handle();
            let interrupter = thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                handle.interrupt();
            });
            match inst.call(func, args) {
                Err(Error::Trap(t)) => {
                    assert_eq!(
                        (t.kind, t.func_name.as_str()),
                        (TrapKind::Interrupted, trap_func),
                        "{tier}: {func}"
                    );
                    assert!(trap_pcs.contains(&t.pc), "{tier}: {func}: op {}", t.pc);
                }
                other => panic!("{tier}: {func}: expected an interrupt, got {other:?}"),
            }
            interrupter.join().expect("interrupter");
            // The trap cleared the request: a call that ends runs to its end.
            assert_eq!(
                inst.call("count", &[Value::I(1000)]).expect("count runs"),
                Some(Value::I(1000)),
                "{tier}: after {func}"
            );
        }
    }
    done.store(true, Ordering::Relaxed);
}

#[test]
/// Self, mutual and indirect tail-call loops (no loop, no call that
/// returns) stop too: each tail call polls.
fn tail_calls_poll_the_interrupt_flag() {
    let src = "type t = (i, r) -> i\n\
               func spin(i) -> i\n  addi i0, i0, 1\n  tcall spin, 0\nend\n\
               func ping(i) -> i\n  addi i0, i0, 1\n  tcall pong, 0\nend\n\
               func pong(i) -> i\n  tcall ping, 0\nend\n\
               func viaref(i, r) -> i\n  tcalli t, r0, 0\nend\n\
               func refs(i) -> i\n  fref r0, viaref\n  tcall viaref, 0\nend\n";
    for tier in differential::ENGINES {
        let mut config = tierjit::Config::new();
        config.tier(*tier).hot_calls(2).hot_loops(2);
        let engine = Engine::new(config).expect("engine");
        let module = Module::new(&engine, src).expect("module");
        let mut inst = Instance::new(&module).expect("instance");
        // Each tail call polls: any of them may see the request.
        for (func, at) in [
            ("spin", &[("spin", 1)][..]),
            ("ping", &[("ping", 1), ("pong", 0)]),
            ("refs", &[("viaref", 0)]),
        ] {
            let handle = inst.interrupt_handle();
            let interrupter = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                handle.interrupt();
            });
            match inst.call(func, &[Value::I(0)]) {
                Err(Error::Trap(t)) => {
                    assert_eq!(t.kind, TrapKind::Interrupted, "{tier} {func}");
                    assert!(
                        at.contains(&(t.func_name.as_str(), t.pc)),
                        "{tier} {func}: {t:?}"
                    );
                }
                other => panic!("{tier} {func}: {other:?}"),
            }
            interrupter.join().expect("interrupter");
        }
    }
}
