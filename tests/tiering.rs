//! The tiering manager: tier-ups at the thresholds (seen in the
//! statistics), on-stack replacement inside loops and deep recursion, swaps
//! while other activations of the same function are live, the tier-up API
//! and the environment variables. Every result is the interpreter's.

mod common;
mod differential;

use common::cli::tierjit;
use common::programs::suite_source;

use tierjit::{Config, Engine, Instance, Module, SharedOutput, Tier, Value, bytecode};

fn auto(hot_calls: u32, hot_loops: u32, background: bool) -> Config {
    let mut c = differential::base_config(Tier::Auto);
    c.hot_calls(hot_calls)
        .hot_loops(hot_loops)
        .background_compilation(background);
    c
}

fn instance(config: Config, src: &str) -> Instance {
    let engine = Engine::new(config).expect("engine");
    let module = Module::new(&engine, src).expect("module");
    let mut instance = Instance::new(&module).expect("instance");
    instance.set_output(SharedOutput::new());
    instance
}

const COUNTED: &str = "
    func inc(i) -> i
        addi i0, i0, 1
        reti i0
    end
    func spin(i) -> i
        iconst i1, 0
    top:
        jge i1, i0, done
        addi i1, i1, 1
        jmp top
    done:
        reti i1
    end
";

#[test]
fn a_function_tiers_up_at_its_hot_calls_th_call() {
    let mut inst = instance(auto(5, 1_000_000, false), COUNTED);
    for k in 1..=4 {
        assert_eq!(
            inst.call("inc", &[Value::I(k)]).unwrap(),
            Some(Value::I(k + 1))
        );
        let s = inst.function_stats("inc").unwrap();
        assert_eq!(s.tier, Some(Tier::Template), "after call {k}");
        assert_eq!(s.template_calls, Some(k as u64));
        assert!(s.template.is_some() && s.cranelift.is_none());
    }
    // The 5th call finds it hot, compiles it and runs in Cranelift.
    assert_eq!(inst.call("inc", &[Value::I(5)]).unwrap(), Some(Value::I(6)));
    let s = inst.function_stats("inc").unwrap();
    assert_eq!(s.tier, Some(Tier::Cranelift));
    assert_eq!(s.template_calls, Some(5));
    assert!(s.cranelift.is_some_and(|(_, bytes)| bytes > 0));
    assert!(s.tiered_up_at.is_some());
    // Later calls do not reach template code any more.
    for k in 0..10 {
        assert_eq!(
            inst.call("inc", &[Value::I(k)]).unwrap(),
            Some(Value::I(k + 1))
        );
    }
    assert_eq!(inst.function_stats("inc").unwrap().template_calls, Some(5));
    let totals = inst.compile_stats();
    assert_eq!(totals.template.functions, 1);
    assert_eq!(totals.cranelift.functions, 1);
    // One hook call: the one that compiled (synchronous mode).
    assert_eq!(totals.hook_calls, 1);
    assert!(totals.hook_time >= totals.cranelift.time);
}

#[test]
fn a_hot_loop_continues_in_cranelift_at_its_header() {
    let mut inst = instance(auto(1_000_000, 100, false), COUNTED);
    // 50 back-edges: below the threshold.
    assert_eq!(
        inst.call("spin", &[Value::I(50)]).unwrap(),
        Some(Value::I(50))
    );
    let s = inst.function_stats("spin").unwrap();
    assert_eq!((s.tier, s.osr_entries), (Some(Tier::Template), 0));
    // 50 + 50 more back-edges reach 100: the loop moves mid-run into a
    // version entered at its header; calls still start in template code.
    assert_eq!(
        inst.call("spin", &[Value::I(1000)]).unwrap(),
        Some(Value::I(1000))
    );
    let s = inst.function_stats("spin").unwrap();
    assert_eq!(s.tier, Some(Tier::Template));
    assert_eq!(s.osr_entries, 1);
    assert!(s.osr_compiles.is_some_and(|(_, bytes)| bytes > 0));
    assert_eq!(s.template_calls, Some(2));
    // The next hot loop reuses that version.
    inst.call("spin", &[Value::I(1000)]).unwrap();
    assert_eq!(inst.function_stats("spin").unwrap().osr_entries, 2);
}

#[test]
fn the_tier_up_api_swaps_before_it_returns() {
    for tier in [Tier::Template, Tier::Auto] {
        let mut c = differential::base_config(tier);
        c.background_compilation(true);
        let mut inst = instance(c, COUNTED);
        assert_eq!(inst.tier_of("spin").unwrap(), None, "not compiled yet");
        assert_eq!(
            inst.call("spin", &[Value::I(3)]).unwrap(),
            Some(Value::I(3))
        );
        assert_eq!(inst.tier_of("spin").unwrap(), Some(Tier::Template));
        inst.tier_up("spin").unwrap();
        assert_eq!(inst.tier_of("spin").unwrap(), Some(Tier::Cranelift));
        assert_eq!(
            inst.call("spin", &[Value::I(7)]).unwrap(),
            Some(Value::I(7))
        );
    }
    let mut interp = instance(differential::base_config(Tier::Interp), COUNTED);
    assert!(interp.tier_up("spin").is_err());
    assert_eq!(interp.tier_of("spin").unwrap(), Some(Tier::Interp));
    assert!(interp.tier_up("nope").is_err());
}

/// A recursion in which every activation runs a loop, then recurses from
/// inside it: with thresholds of 1 each activation's loop moves to
/// Cranelift while the activations below it are still in template code.
const RECURSIVE_LOOPS: &str = "
    func walk(i, f) -> f
        jlei i0, 0, leaf
        iconst i1, 0
        fconst f1, 0.0
    top:
        i2f f2, i1
        fadd f1, f1, f2
        fmul f1, f1, f0
        addi i1, i1, 1
        jlti i1, 7, top
        subi i2, i0, 1
        call f3, walk, 2
        fadd f1, f1, f3
        iconst i3, 0
    again:
        addi i3, i3, 1
        fsub f1, f1, f0
        jlt i3, i0, again
        retf f1
    leaf:
        retf f0
    end
    func main(i) -> f
        fconst f0, 0.999
        mov i2, i0
        call f1, walk, 2
        retf f1
    end
";

#[test]
fn osr_inside_deep_recursion_agrees_with_the_interpreter() {
    let module = bytecode::text::parse(RECURSIVE_LOOPS).expect("parses");
    let out = differential::check_with(&module, "main", &[Value::I(3000)], |c| {
        c.stack_slots(1 << 16, 1 << 16, 1 << 10);
    });
    assert!(out.float().is_finite());
}

#[test]
fn swaps_land_while_other_activations_of_the_function_are_live() {
    let module = bytecode::text::parse(RECURSIVE_LOOPS).expect("parses");
    let args = [Value::I(2000)];
    let mut big = differential::base_config(Tier::Interp);
    big.stack_slots(1 << 16, 1 << 16, 1 << 10);
    let oracle = differential::run_on(big, &module, "main", &args);
    // Several instances at once, each with its own compiler thread, each
    // swapping `walk` at a moment that depends on the threads' timing.
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|k| {
                let (module, oracle) = (&module, &oracle);
                s.spawn(move || {
                    for round in 0..5 {
                        let mut c = auto(1 + k * 3 + round, 1 + round * 40, true);
                        c.stack_slots(1 << 16, 1 << 16, 1 << 10);
                        let got = differential::run_on(c, module, "main", &args);
                        assert!(oracle.same_as(&got), "thread {k} round {round}: {got:?}");
                    }
                })
            })
            .collect();
        for r in runs {
            r.join().expect("no thread failed");
        }
    });
}

#[test]
fn every_function_of_the_suite_swaps_mid_run_in_synchronous_mode() {
    for (name, args) in [
        ("fib", vec![18]),
        ("sieve", vec![2000, 2]),
        ("nbody", vec![200]),
        ("spectralnorm", vec![30]),
        ("matmul", vec![10]),
    ] {
        let text = suite_source(name);
        let engine = Engine::new(auto(2, 3, false)).expect("engine");
        let module = Module::new(&engine, &text).expect("module");
        let mut inst = Instance::new(&module).expect("instance");
        inst.set_output(SharedOutput::new());
        let args: Vec<Value> = args.into_iter().map(Value::I).collect();
        inst.call("main", &args).expect("runs");
        for s in inst.all_function_stats() {
            // Every function called twice moved up.
            if s.template_calls.unwrap_or(0) >= 2 {
                assert_eq!(s.tier, Some(Tier::Cranelift), "{name}: {s:?}");
            }
        }
        // fib has no loop; every other program's loops move mid-run.
        assert_eq!(
            inst.all_function_stats().iter().any(|s| s.osr_entries > 0),
            name != "fib",
            "{name}: loops moved mid-run"
        );
    }
}

#[test]
fn environment_thresholds_are_honoured_and_checked() {
    let o = tierjit(
        &["run", "--stats", "--sync-tier-up", "programs/fib.tj", "12"],
        &[("TIERJIT_HOT_CALLS", "3")],
    );
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    assert_eq!(out, "fib(12) = 144\n");
    let fib = err
        .lines()
        .find(|l| l.split_whitespace().next() == Some("fib"))
        .unwrap_or_else(|| panic!("no stats line for fib:\n{err}"));
    assert!(fib.contains("cranelift"), "{fib}");
    assert!(
        fib.contains(" 3 "),
        "3 calls counted before the tier-up: {fib}"
    );
    // With the default threshold fib(12) (465 calls) stays in the template tier.
    let o = tierjit(
        &["run", "--stats", "--sync-tier-up", "programs/fib.tj", "12"],
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let fib = err
        .lines()
        .find(|l| l.split_whitespace().next() == Some("fib"))
        .unwrap_or_else(|| panic!("no stats line for fib:\n{err}"));
    assert!(fib.contains("template"), "{fib}");
    for bad in ["0", "-4", "lots"] {
        let o = tierjit(
            &["run", "programs/fib.tj", "5"],
            &[("TIERJIT_HOT_LOOPS", bad)],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(err.contains("TIERJIT_HOT_LOOPS"), "{err}");
    }
}

#[test]
fn the_mixed_workload_agrees_on_every_engine() {
    let text = suite_source("mixed");
    let module = tierjit::bytecode::text::parse(&text).expect("parses");
    assert!(module.functions.len() > 1000, "thousands of cold functions");
    let args = [Value::I(2), Value::I(5000)];
    let oracle = differential::run_on(
        differential::base_config(Tier::Interp),
        &module,
        "main",
        &args,
    );
    assert!(
        oracle.output.starts_with("mixed: cold checksum = "),
        "{}",
        oracle.output
    );
    // The cold functions stay in the template tier (2 calls each); the
    // kernel's loop moves to Cranelift.
    for config in [
        differential::base_config(Tier::Template),
        differential::base_config(Tier::Auto),
        auto(1000, 100, false),
    ] {
        let got = differential::run_on(config, &module, "main", &args);
        assert!(oracle.same_as(&got), "{got:?}");
    }
    let mut inst = instance(auto(1000, 100, false), &text);
    inst.call("main", &args).expect("runs");
    let stats = inst.all_function_stats();
    let kernel = stats.iter().find(|s| s.name == "kernel").expect("kernel");
    assert_eq!(kernel.osr_entries, 1, "{kernel:?}");
    let cold_in_cranelift = stats
        .iter()
        .filter(|s| s.name.starts_with('f') && s.tier == Some(Tier::Cranelift))
        .count();
    assert_eq!(cold_in_cranelift, 0);
}

/// `spin(3)` called `times` times: three back-edges each.
fn spin_short(inst: &mut Instance, times: u64) {
    for _ in 0..times {
        assert_eq!(
            inst.call("spin", &[Value::I(3)]).unwrap(),
            Some(Value::I(3))
        );
    }
}

#[test]
fn a_hot_loop_of_short_activations_tiers_up_the_whole_function() {
    // 100 back-edges are spent during the 34th call, three a call: the
    // activations are short and the function is over half-way to its 60
    // calls, so it is compiled whole (at once, synchronous mode) rather
    // than entered at its loop header.
    let mut inst = instance(auto(60, 100, false), COUNTED);
    spin_short(&mut inst, 40);
    let s = inst.function_stats("spin").unwrap();
    assert_eq!(s.tier, Some(Tier::Cranelift));
    assert_eq!(s.template_calls, Some(34));
    assert_eq!(s.osr_entries, 0);
    assert!(s.osr_compiles.is_none(), "no loop-header version");
    assert!(s.cranelift.is_some());
    // The one hook call that compiled it.
    assert_eq!(inst.compile_stats().hook_calls, 1);
}

#[test]
fn a_function_entered_at_its_loop_header_by_two_calls_tiers_up_whole() {
    // Each call loops 1,000 times, past the 100 back-edge budget: the
    // first two calls enter the loop-header version, and the second asks
    // for the whole function (synchronous: compiled at once), which the
    // later calls start in.
    let mut inst = instance(auto(1_000, 100, false), COUNTED);
    let spin = |inst: &mut Instance| {
        assert_eq!(
            inst.call("spin", &[Value::I(1000)]).unwrap(),
            Some(Value::I(1000))
        );
    };
    spin(&mut inst);
    let s = inst.function_stats("spin").unwrap();
    assert_eq!((s.tier, s.osr_entries), (Some(Tier::Template), 1), "{s:?}");
    assert!(s.cranelift.is_none());
    spin(&mut inst);
    let s = inst.function_stats("spin").unwrap();
    assert_eq!((s.tier, s.osr_entries), (Some(Tier::Cranelift), 2), "{s:?}");
    for _ in 0..3 {
        spin(&mut inst);
    }
    let s = inst.function_stats("spin").unwrap();
    assert_eq!(s.osr_entries, 2, "later calls start in Cranelift");
    assert_eq!(s.template_calls, Some(2));
}

#[test]
fn short_activations_call_the_loop_hook_once_a_budget_while_their_compile_is_queued() {
    // In the background: whatever the compiler thread's pace, no
    // loop-header version is made, so no template activation calls the
    // hook at its first back-edge to enter one; the hook runs at most once
    // per 100 back-edges (9,000 in all) and once for the call budget.
    let mut inst = instance(auto(60, 100, true), COUNTED);
    spin_short(&mut inst, 3000);
    let s = inst.function_stats("spin").unwrap();
    assert_eq!(s.osr_entries, 0);
    assert!(s.osr_compiles.is_none(), "no loop-header version");
    let hooks = inst.compile_stats().hook_calls;
    assert!((1..=91).contains(&hooks), "{hooks} hook calls");
}
