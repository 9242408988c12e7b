//! Code belongs to the module and the engine: many threads running many
//! instances of one module share one function table, one set of versions
//! and one compiler pool; the engine's code memory stays under its cap
//! (evicting and refusing Cranelift versions) without changing a result;
//! retired code outlives the activations that run it; queued compiles of a
//! module whose last instance went are cancelled. Every result is the
//! interpreter's.

mod common;
mod differential;

use common::programs::many_functions;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tierjit::{
    Bank, Config, Engine, Instance, Linker, Module, SharedOutput, Signature, Tier, Value, bytecode,
};

/// A hand-written module with a bit of everything shared code must get
/// right: a loop, recursion, direct and indirect calls (a function
/// reference and a closure), allocation, a struct, a string and globals.
const KITCHEN: &str = r#"
global i calls
global f scale = 0.5
global r last

type unary = (i) -> i

struct Pair { i a, f b }

func square(i) -> i
    ggeti i1, calls
    addi i1, i1, 1
    gseti calls, i1
    mul i0, i0, i0
    reti i0
end

func add_env(i, r) -> i
    iconst i1, 0
    geti i2, r0, i1
    add i0, i0, i2
    reti i0
end

; tri(n) = n + tri(n - 1), tri(0) = 0
func tri(i) -> i
    jgti i0, 0, more
    iconst i0, 0
    reti i0
more:
    subi i5, i0, 1
    call i5, tri, 5
    add i0, i0, i5
    reti i0
end

; pair(k): a struct holding k and k * scale, kept in global `last`
func pair(i) -> f
    snew r0, Pair
    sseti r0, Pair.a, i0
    i2f f0, i0
    ggetf f1, scale
    fmul f0, f0, f1
    ssetf r0, Pair.b, f0
    gsetr last, r0
    sgetf f2, r0, Pair.b
    retf f2
end

func main(i) -> i
    iconst i1, 0              ; k
    iconst i2, 0              ; acc
    fref r0, square
    iconst i3, 1
    newi r1, i3               ; the closure's environment: [k]
    fconst f3, 0.0
loop:
    jge i1, i0, done
    mov i5, i1
    calli unary, r0, 5        ; i5 = square(k)
    add i2, i2, i5
    iconst i3, 0
    seti r1, i3, i1
    closure r2, add_env, r1
    iconst i5, 7
    calli unary, r2, 5        ; i5 = 7 + k
    add i2, i2, i5
    andi i5, i1, 15
    call i5, tri, 5           ; i5 = tri(k & 15)
    add i2, i2, i5
    mov i5, i1
    call f5, pair, 5
    fadd f3, f3, f5
    addi i1, i1, 1
    jmp loop
done:
    sconst r3, "kitchen "
    printb r3
    printf f3, 3
    prints "\n"
    ggeti i3, calls
    muli i3, i3, 1000
    add i2, i2, i3
    reti i2
end
"#;

/// What a host function saw, for the test to check after the call.
type Log<T> = Arc<Mutex<Vec<T>>>;

/// A program to run: its bytecode, the function and the arguments.
#[derive(Clone)]
struct Workload {
    name: &'static str,
    code: bytecode::Module,
    args: Vec<Value>,
}

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tj(name: &'static str, path: &str, args: &[i64]) -> Workload {
    let text = std::fs::read_to_string(root().join(path)).expect(path);
    Workload {
        name,
        code: bytecode::text::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}")),
        args: args.iter().map(|&a| Value::I(a)).collect(),
    }
}

fn lark(name: &'static str, path: &str, args: &[i64]) -> Workload {
    let text = std::fs::read_to_string(root().join(path)).expect(path);
    Workload {
        name,
        code: tierjit::lang::compile(&text, path).unwrap_or_else(|e| panic!("{path}: {e}")),
        args: args.iter().map(|&a| Value::I(a)).collect(),
    }
}

fn kitchen() -> Workload {
    Workload {
        name: "kitchen",
        code: bytecode::text::parse(KITCHEN).unwrap_or_else(|e| panic!("kitchen: {e}")),
        args: vec![Value::I(40)],
    }
}

/// What one call of `main` did: its result (f64 by bits) or its error,
/// and what it printed.
fn outcome(instance: &mut Instance, args: &[Value]) -> (String, String) {
    let out = SharedOutput::new();
    instance.set_output(out.clone());
    let result = match instance.call("main", args) {
        Ok(Some(Value::F(f))) => format!("f64 bits {:#x}", f.to_bits()),
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("error: {e}"),
    };
    (result, out.take_string())
}

/// The interpreter's outcome of `w`.
fn oracle(w: &Workload) -> (String, String) {
    let mut c = differential::base_config(Tier::Interp);
    c.stack_slots(1 << 14, 1 << 14, 1 << 14);
    let engine = Engine::new(c).expect("engine");
    let module = Module::from_bytecode(&engine, w.code.clone()).expect("verifies");
    let mut instance = Instance::new(&module).expect("instance");
    let got = outcome(&mut instance, &w.args);
    assert!(!got.0.starts_with("error"), "{}: {}", w.name, got.0);
    got
}

/// An engine of `tier` with small register stacks (many instances are
/// cheap, under qemu too) and Cranelift's verifier on.
fn config(tier: Tier) -> Config {
    let mut c = differential::base_config(tier);
    c.stack_slots(1 << 14, 1 << 14, 1 << 14);
    c
}

/// Synchronous tier-up at these thresholds (deterministic tier-up points).
fn synchronous(hot_calls: u32, hot_loops: u32) -> Config {
    let mut c = config(Tier::Auto);
    c.hot_calls(hot_calls)
        .hot_loops(hot_loops)
        .background_compilation(false);
    c
}

/// Tiny thresholds: everything called twice or looping three times moves.
fn eager(background: bool, threads: usize) -> Config {
    let mut c = config(Tier::Auto);
    c.hot_calls(2)
        .hot_loops(3)
        .background_compilation(background)
        .compiler_threads(threads);
    c
}

/// Wait until `done` holds, at most `limit`.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// Wait (at most 60 s) until the compiler pool has nothing queued and the
/// module's compile records stopped changing for a second: the compile a
/// thread took last has landed (a compile takes milliseconds; under qemu
/// tens of them).
fn settle(engine: &Engine, module: &Module) -> bool {
    let start = Instant::now();
    let mut last = (usize::MAX, u64::MAX);
    let mut since = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let now = (
            engine.code_stats().queued,
            module.compile_stats().cranelift.functions,
        );
        if now != last {
            last = now;
            since = Instant::now();
        } else if now.0 == 0 && since.elapsed() > Duration::from_millis(1000) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

const THREADS: usize = 4;
const INSTANCES: usize = 10;
const COMPILER_THREADS: usize = 2;

/// `THREADS` threads each run `INSTANCES` instances of one module of `w`
/// under `auto` with tiny thresholds: every outcome is the interpreter's.
/// Then the engine used at most its compiler threads, and the module's
/// function table agrees with its compile records.
fn many_threads_many_instances(w: Workload, background: bool) {
    let want = oracle(&w);
    let engine = Engine::new(eager(background, COMPILER_THREADS)).expect("engine");
    let module = Module::from_bytecode(&engine, w.code.clone()).expect("verifies");
    // One instance lives throughout, so queued compiles are not cancelled.
    let mut keeper = Instance::new(&module).expect("instance");
    assert_eq!(outcome(&mut keeper, &w.args), want, "{}: first", w.name);
    let max_threads_seen = Arc::new(Mutex::new(0usize));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (module, engine, want, w) = (module.clone(), engine.clone(), &want, &w);
            let seen = max_threads_seen.clone();
            s.spawn(move || {
                for i in 0..INSTANCES {
                    let mut instance = Instance::new(&module).expect("instance");
                    let got = outcome(&mut instance, &w.args);
                    assert_eq!(&got, want, "{}: thread {t} instance {i}", w.name);
                    let n = engine.code_stats().compiler_threads;
                    let mut m = seen.lock().unwrap();
                    *m = (*m).max(n);
                }
            });
        }
    });
    if background {
        // Let the pool finish what it was given: `main` (called 4 * 10 + 2
        // times) is among it.
        assert!(
            wait_for(Duration::from_secs(60), || module.tier_of("main").unwrap()
                == Some(Tier::Cranelift)),
            "{}: main tiers up",
            w.name
        );
        assert!(settle(&engine, &module), "{}: the queue drains", w.name);
    }
    // And the compiled code still computes the same (in a fresh instance:
    // the globals are the instance's).
    let mut last = Instance::new(&module).expect("instance");
    assert_eq!(outcome(&mut last, &w.args), want, "{}: last", w.name);
    let stats = engine.code_stats();
    assert!(
        stats.compiler_threads <= COMPILER_THREADS
            && *max_threads_seen.lock().unwrap() <= COMPILER_THREADS,
        "{}: {stats:?}",
        w.name
    );
    if !background {
        assert_eq!(stats.compiler_threads, 0, "synchronous: no pool thread");
    }
    // The function table: `main` (called 4 * 10 + 2 times) went to
    // Cranelift; each function's tier agrees with its records.
    let main_tier = module.tier_of("main").expect("main");
    assert_eq!(main_tier, Some(Tier::Cranelift), "{}: main", w.name);
    let code = module.bytecode();
    let mut in_cranelift = 0;
    let mut loop_headers = 0;
    for (idx, f) in code.functions.iter().enumerate() {
        let fs = keeper.function_stats(&f.name).expect("stats");
        assert_eq!(fs.tier, module.tier_of(&f.name).unwrap());
        match fs.tier {
            Some(Tier::Cranelift) => {
                in_cranelift += 1;
                assert!(fs.cranelift.is_some(), "{}: {}: {fs:?}", w.name, f.name);
            }
            Some(Tier::Template) => assert!(fs.template.is_some(), "{}: {fs:?}", w.name),
            None => assert!(fs.template.is_none() && fs.cranelift.is_none()),
            Some(other) => panic!("{}: {} in {other}", w.name, f.name),
        }
        assert!(fs.cranelift_refusal.is_none(), "{}: {fs:?}", w.name);
        loop_headers += bytecode::loop_headers(&code.functions[idx].code).len() as u64;
    }
    let compiled = module.compile_stats();
    assert!(in_cranelift > 0);
    assert!(
        compiled.cranelift.functions >= in_cranelift,
        "{}: {compiled:?}",
        w.name
    );
    // Each function and each loop header is compiled once, whichever
    // instance found it hot first.
    assert!(
        compiled.cranelift.functions <= in_cranelift + loop_headers,
        "{}: {} Cranelift compiles for {in_cranelift} functions and {loop_headers} loop headers",
        w.name,
        compiled.cranelift.functions
    );
    assert!(
        compiled.template.functions <= code.functions.len() as u64,
        "{}: template compiles {} for {} functions",
        w.name,
        compiled.template.functions,
        code.functions.len()
    );
    assert_eq!(
        stats.cranelift_versions as u64,
        compiled.cranelift.functions
    );
}

macro_rules! shared_by_threads {
    ($($name:ident: $make:expr;)*) => {
        mod shared_by_threads {
            use super::*;
            $(
                pub(super) mod $name {
                    use super::*;
                    #[test]
                    fn background() {
                        many_threads_many_instances($make, true);
                    }
                    #[test]
                    fn synchronous() {
                        many_threads_many_instances($make, false);
                    }
                }
            )*
        }
    };
}

shared_by_threads! {
    kitchen_sink: kitchen();
    op_closures: tj("closures", "programs/ops/closures.tj", &[]);
    op_structs: tj("structs", "programs/ops/structs.tj", &[]);
    op_globals_switch: tj("globals_switch", "programs/ops/globals_switch.tj", &[]);
    op_calls: tj("calls", "programs/ops/calls.tj", &[7, -3, 10_000_000_000]);
    fib: tj("fib", "programs/fib.tj", &[12]);
    nbody: tj("nbody", "programs/nbody.tj", &[5]);
    lark_closures: lark("closures", "programs/lang/closures.lark", &[]);
    lark_shapes: lark("shapes", "programs/lang/shapes.lark", &[30]);
    lark_binarytrees: lark("binarytrees", "programs/lang/binarytrees.lark", &[4]);
    lark_json: lark("json", "programs/lang/json.lark", &[3]);
}

#[test]
fn synchronous_tier_up_compiles_a_loop_once_across_threads() {
    let c = synchronous(1_000_000, 3);
    let engine = Engine::new(c).expect("engine");
    let text = slow_loop(300);
    let want = interp_result(&text, "spin", &[Value::I(2_000)]);
    let module = Module::new(&engine, &text).expect("verifies");
    let threads = 6;
    let mut instances: Vec<Instance> = (0..threads)
        .map(|_| Instance::new(&module).expect("instance"))
        .collect();
    // Compiled in the template tier first, so the threads race only on
    // the loop.
    instances[0].call("spin", &[Value::I(0)]).expect("runs");
    let start = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        for instance in instances.iter_mut() {
            let (start, want) = (&start, &want);
            s.spawn(move || {
                start.wait();
                assert_eq!(&instance.call("spin", &[Value::I(2_000)]).unwrap(), want);
            });
        }
    });
    let fs = instances[0].function_stats("spin").unwrap();
    assert_eq!(fs.tier, Some(Tier::Template), "{fs:?}");
    // The thread that compiles the version enters it; the others go on in
    // template code meanwhile and may finish there.
    assert!((1..=threads as u64).contains(&fs.osr_entries), "{fs:?}");
    assert_eq!(
        module.compile_stats().cranelift.functions,
        1,
        "spin's loop was compiled by more than one thread: {fs:?}"
    );
}

/// The figures of compiled code that instantiation must not change.
fn compiled_figures(module: &Module) -> (u64, u64, u64, u64) {
    let s = module.compile_stats();
    (
        s.template.functions,
        s.template.code_bytes,
        s.cranelift.functions,
        s.cranelift.code_bytes,
    )
}

#[test]
fn the_hundredth_instance_compiles_nothing() {
    let w = kitchen();
    let want = oracle(&w);
    let engine = Engine::new(eager(false, 1)).expect("engine");
    let module = Module::from_bytecode(&engine, w.code.clone()).expect("verifies");
    let mut instances: Vec<Instance> = (0..99)
        .map(|_| Instance::new(&module).expect("instance"))
        .collect();
    for instance in instances.iter_mut().take(3) {
        assert_eq!(outcome(instance, &w.args), want);
    }
    assert_eq!(module.tier_of("main").unwrap(), Some(Tier::Cranelift));
    let before = compiled_figures(&module);
    let code_before = engine.code_stats();
    assert!(before.2 > 0, "something went to Cranelift");
    let mut hundredth = Instance::new(&module).expect("instance");
    assert_eq!(compiled_figures(&module), before, "instantiating compiled");
    assert_eq!(outcome(&mut hundredth, &w.args), want);
    assert_eq!(compiled_figures(&module), before, "its first call compiled");
    let code_after = engine.code_stats();
    assert_eq!(
        (
            code_after.template_versions,
            code_after.cranelift_versions,
            code_after.bytes_in_use
        ),
        (
            code_before.template_versions,
            code_before.cranelift_versions,
            code_before.bytes_in_use
        )
    );
    assert_eq!(
        hundredth.compile_stats().hook_calls,
        0,
        "no tiering hook ran"
    );
    drop(instances);
}

/// `main(n)` calls `g` n times and, every `every` iterations, the host
/// function `tick(k)`; `loop(n)` is a loop of its own.
const CALLER: &str = r#"
import tick(i) -> none

func g(i) -> i
    muli i0, i0, 3
    addi i0, i0, 1
    reti i0
end

func main(i, i) -> i
    iconst i2, 0          ; k
    iconst i3, 0          ; acc
top:
    jge i2, i0, done
    mov i5, i2
    call i5, g, 5
    add i3, i3, i5
    rem i4, i2, i1
    jnz i4, next
    mov i5, i2
    hcall -, tick, 5
next:
    addi i2, i2, 1
    jmp top
done:
    reti i3
end

func spin(i) -> i
    iconst i1, 0
    iconst i2, 0
again:
    jge i1, i0, out
    xor i2, i2, i1
    muli i2, i2, 5
    addi i1, i1, 1
    jmp again
out:
    reti i2
end
"#;

fn caller_want(n: i64) -> i64 {
    (0..n).map(|k| k * 3 + 1).sum()
}

fn spin_want(n: i64) -> i64 {
    (0..n).fold(0i64, |acc, k| (acc ^ k).wrapping_mul(5))
}

/// Instances of `CALLER` whose `tick` runs `on_tick`.
fn caller_linker(on_tick: impl FnMut(i64) + Send + 'static) -> Linker {
    let on_tick = Arc::new(Mutex::new(on_tick));
    let mut linker = Linker::new();
    linker
        .func("tick", Signature::new(vec![Bank::I], None), move |args| {
            let [Value::I(k)] = args else {
                return Err("tick takes an i64".into());
            };
            (on_tick.lock().unwrap())(*k);
            Ok(None)
        })
        .expect("tick");
    linker
}

#[test]
fn a_function_tiered_up_through_one_instance_runs_in_cranelift_in_the_others() {
    // Thresholds that never trip: only explicit tier-ups move code.
    let c = synchronous(1_000_000, 1_000_000);
    let engine = Engine::new(c).expect("engine");
    let module = Module::new(&engine, CALLER).expect("verifies");
    let idle = caller_linker(|_| {});
    let mut a = idle.instantiate(&module).expect("a");
    let mut b = idle.instantiate(&module).expect("b");
    assert_eq!(
        a.call("main", &[Value::I(10), Value::I(100)]).unwrap(),
        Some(Value::I(caller_want(10)))
    );
    assert_eq!(b.tier_of("g").unwrap(), Some(Tier::Template));
    let counted = |i: &Instance| i.function_stats("g").unwrap().template_calls.unwrap();
    assert_eq!(counted(&b), 10, "a's calls count for every instance");
    a.tier_up("g").expect("tier up");
    assert_eq!(b.tier_of("g").unwrap(), Some(Tier::Cranelift));
    let before = compiled_figures(&module);
    assert_eq!(
        b.call("main", &[Value::I(50), Value::I(100)]).unwrap(),
        Some(Value::I(caller_want(50)))
    );
    assert_eq!(counted(&b), 10, "b's calls of g ran a's Cranelift version");
    assert_eq!(compiled_figures(&module), before, "b compiled nothing");

    // A running instance: c's `main` is in its loop when instance a, from
    // c's host function, moves `g` to Cranelift; c's next calls of g run
    // there (its template calls stop counting).
    module.evict_cranelift_code().expect("evict");
    assert_eq!(b.tier_of("g").unwrap(), Some(Tier::Template));
    let shared_a = Arc::new(Mutex::new(a));
    let seen: Log<(i64, u64, Option<Tier>)> = Arc::default();
    let (a2, seen2) = (shared_a.clone(), seen.clone());
    let mut c = caller_linker(move |k| {
        let mut a = a2.lock().unwrap();
        if k == 20 {
            a.tier_up("g").expect("tier up from a");
        }
        let fs = a.function_stats("g").unwrap();
        seen2
            .lock()
            .unwrap()
            .push((k, fs.template_calls.unwrap(), fs.tier));
    })
    .instantiate(&module)
    .expect("c");
    let n = 60;
    assert_eq!(
        c.call("main", &[Value::I(n), Value::I(10)]).unwrap(),
        Some(Value::I(caller_want(n)))
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6, "{seen:?}");
    let at_20 = seen[2];
    assert_eq!((at_20.0, at_20.2), (20, Some(Tier::Cranelift)), "{seen:?}");
    for later in &seen[3..] {
        assert_eq!(
            later.1, at_20.1,
            "g ran in Cranelift after the tier-up: {seen:?}"
        );
    }
    assert!(
        seen[1].1 < seen[2].1,
        "g counted in template code before: {seen:?}"
    );
}

#[test]
fn a_hot_loop_found_by_one_instance_is_entered_by_the_next() {
    let c = synchronous(1_000_000, 50);
    let engine = Engine::new(c).expect("engine");
    let module = Module::new(&engine, CALLER).expect("verifies");
    let linker = caller_linker(|_| {});
    let mut a = linker.instantiate(&module).expect("a");
    // 30 back-edges: under the threshold.
    assert_eq!(
        a.call("spin", &[Value::I(30)]).unwrap(),
        Some(Value::I(spin_want(30)))
    );
    assert_eq!(a.function_stats("spin").unwrap().osr_entries, 0);
    let mut b = linker.instantiate(&module).expect("b");
    // b's back-edges add to a's: its loop trips and moves to Cranelift.
    assert_eq!(
        b.call("spin", &[Value::I(100)]).unwrap(),
        Some(Value::I(spin_want(100)))
    );
    let fs = b.function_stats("spin").unwrap();
    assert_eq!((fs.osr_entries, fs.instance_osr_entries), (1, 1), "{fs:?}");
    assert_eq!(fs.tier, Some(Tier::Template), "the function itself stays");
    let loop_version = fs.osr_compiles.expect("a loop-header version");
    let mut c = linker.instantiate(&module).expect("c");
    assert_eq!(
        c.call("spin", &[Value::I(100)]).unwrap(),
        Some(Value::I(spin_want(100)))
    );
    let fs = c.function_stats("spin").unwrap();
    assert_eq!((fs.osr_entries, fs.instance_osr_entries), (2, 1), "{fs:?}");
    assert_eq!(fs.osr_compiles, Some(loop_version), "c entered b's version");
    // A second activation entering it asks for the whole function, which
    // every instance's next call starts in.
    assert_eq!(fs.tier, Some(Tier::Cranelift), "{fs:?}");
    assert_eq!(a.function_stats("spin").unwrap().instance_osr_entries, 0);
    assert_eq!(
        a.call("spin", &[Value::I(100)]).unwrap(),
        Some(Value::I(spin_want(100)))
    );
    let fs = a.function_stats("spin").unwrap();
    assert_eq!((fs.osr_entries, fs.instance_osr_entries), (2, 0), "{fs:?}");
}

fn interp_result(text: &str, func: &str, args: &[Value]) -> Option<Value> {
    let engine = Engine::new(config(Tier::Interp)).expect("engine");
    let module = Module::new(&engine, text).expect("verifies");
    Instance::new(&module)
        .expect("instance")
        .call(func, args)
        .expect("runs")
}

#[test]
fn at_a_cap_of_nothing_every_cranelift_version_is_refused() {
    let text = many_functions(12);
    let want = interp_result(&text, "main", &[Value::I(20)]);
    for tier in [Tier::Cranelift, Tier::Auto] {
        let mut c = config(tier);
        c.code_memory_limit(0)
            .hot_calls(2)
            .hot_loops(3)
            .background_compilation(false);
        let engine = Engine::new(c).expect("engine");
        let module = Module::new(&engine, &text).expect("verifies");
        let mut instance = Instance::new(&module).expect("instance");
        for _ in 0..4 {
            assert_eq!(
                instance.call("main", &[Value::I(20)]).unwrap(),
                want,
                "{tier}"
            );
        }
        let stats = engine.code_stats();
        assert!(stats.refusals >= 13, "{tier}: {stats:?}");
        assert_eq!(stats.cranelift_versions, 0, "{tier}: {stats:?}");
        assert_eq!(stats.template_versions, 13, "{tier}: {stats:?}");
        for fs in instance.all_function_stats() {
            assert_eq!(fs.tier, Some(Tier::Template), "{tier}: {fs:?}");
            let why = fs.cranelift_refusal.unwrap_or_default();
            assert!(
                why.contains("code memory cap"),
                "{tier}: {}: {why}",
                fs.name
            );
        }
        assert_eq!(module.compile_stats().cranelift.functions, 0);
    }
}

/// The engine's executable bytes once every function of `text` reachable
/// from `main(args)` runs in template code: a cap a little above it leaves
/// room for a few Cranelift versions only.
fn template_baseline(text: &str, linker: &Linker, args: &[Value]) -> usize {
    let mut c = config(Tier::Auto);
    c.hot_calls(1_000_000).hot_loops(1_000_000);
    let engine = Engine::new(c).expect("engine");
    let module = Module::new(&engine, text).expect("verifies");
    let mut instance = linker.instantiate(&module).expect("instance");
    instance.call("main", args).expect("runs");
    engine.code_stats().bytes_in_use
}

#[test]
fn a_small_cap_evicts_old_versions_and_results_stay_right() {
    // More versions than one chunk of code memory holds, so the cap is
    // crossed whether or not released pages are given back.
    let count = 36;
    let text = many_functions(count);
    let args = [Value::I(20)];
    let want = interp_result(&text, "main", &args);
    let cap = template_baseline(&text, &Linker::new(), &args) + 8 * 4096;
    // (Under `cranelift` the 37 versions fit one chunk: the cap-of-nothing
    // test above covers that tier.)
    for (tier, background) in [(Tier::Auto, false), (Tier::Auto, true)] {
        let mut c = config(tier);
        // No inlining: every function is called, so compiled, on its own.
        c.code_memory_limit(cap)
            .cranelift_inline_max_ops(0)
            .hot_calls(2)
            .hot_loops(3)
            .background_compilation(background);
        let engine = Engine::new(c).expect("engine");
        let module = Module::new(&engine, &text).expect("verifies");
        let mut instance = Instance::new(&module).expect("instance");
        for round in 0..4 {
            assert_eq!(
                instance.call("main", &args).unwrap(),
                want,
                "{tier} background {background} round {round}"
            );
        }
        if background {
            assert!(settle(&engine, &module));
        }
        assert_eq!(instance.call("main", &args).unwrap(), want);
        let stats = engine.code_stats();
        assert!(
            stats.evictions > 0,
            "{tier} background {background}: {stats:?}"
        );
        assert!(stats.peak_bytes >= stats.bytes_in_use, "{stats:?}");
        // Whatever was refused says why; every function runs somewhere.
        let mut refused = 0;
        for fs in instance.all_function_stats() {
            if let Some(why) = &fs.cranelift_refusal {
                refused += 1;
                assert!(why.contains("code memory cap"), "{}: {why}", fs.name);
            }
            assert!(fs.tier.is_some(), "{fs:?}");
        }
        assert!(
            (refused > 0) == (stats.refusals > 0),
            "{tier}: {refused} functions refused, {stats:?}"
        );
    }
}

/// `main(n)` calls `f(n)`, a loop that calls the host function `evict`
/// once, half-way; the host function evicts `f`'s Cranelift version (which
/// is running) and, through another instance, compiles and evicts more.
const LIVE: &str = r#"
import evict(i) -> i

func f(i) -> i
    iconst i1, 0
    iconst i2, 0
    shri i3, i0, 1
top:
    jge i1, i0, done
    jne i1, i3, work
    mov i5, i1
    hcall i5, evict, 5
    add i2, i2, i5
work:
    mul i4, i1, i1
    add i2, i2, i4
    addi i1, i1, 1
    jmp top
done:
    reti i2
end

func other(i) -> i
    muli i0, i0, 7
    reti i0
end

func main(i) -> i
    mov i5, i0
    call i5, f, 5
    reti i5
end
"#;

/// A linker whose `evict` does nothing and returns 0.
fn quiet_linker() -> Linker {
    let mut quiet = Linker::new();
    quiet
        .func(
            "evict",
            Signature::new(vec![Bank::I], Some(Bank::I)),
            |_| Ok(Some(Value::I(0))),
        )
        .expect("evict");
    quiet
}

fn live_want(n: i64) -> i64 {
    (0..n).map(|k| k * k).sum::<i64>() + 1000
}

#[test]
fn code_evicted_under_a_live_activation_stays_until_it_returns() {
    let c = synchronous(1_000_000, 1_000_000);
    let engine = Engine::new(c).expect("engine");
    let module = Module::new(&engine, LIVE).expect("verifies");
    // What the host function saw: (f's tier, retired_pending) after each
    // step.
    let seen: Log<(Option<Tier>, usize, usize)> = Arc::default();
    let (m, e, s) = (module.clone(), engine.clone(), seen.clone());
    let mut linker = Linker::new();
    linker
        .func_with_caller(
            "evict",
            Signature::new(vec![Bank::I], Some(Bank::I)),
            move |_caller, _args| {
                let tier_before = m.tier_of("f").map_err(|e| e.to_string())?;
                let evicted = m.evict_cranelift_code().map_err(|e| e.to_string())?;
                let pending = e.code_stats().retired_pending;
                s.lock().unwrap().push((tier_before, evicted, pending));
                // Another instance of the module compiles `other` and `f`
                // again and runs them, then their versions go too.
                let mut quiet = Linker::new();
                quiet
                    .func(
                        "evict",
                        Signature::new(vec![Bank::I], Some(Bank::I)),
                        |_| Ok(Some(Value::I(0))),
                    )
                    .map_err(|e| e.to_string())?;
                let mut second = quiet.instantiate(&m).map_err(|e| e.to_string())?;
                second.tier_up("other").map_err(|e| e.to_string())?;
                second.tier_up("f").map_err(|e| e.to_string())?;
                let r = second
                    .call("main", &[Value::I(10)])
                    .map_err(|e| e.to_string())?;
                if r != Some(Value::I((0..10).map(|k| k * k).sum())) {
                    return Err(format!("second instance: {r:?}"));
                }
                let evicted = m.evict_cranelift_code().map_err(|e| e.to_string())?;
                let pending = e.code_stats().retired_pending;
                s.lock()
                    .unwrap()
                    .push((m.tier_of("f").ok().flatten(), evicted, pending));
                Ok(Some(Value::I(1000)))
            },
        )
        .expect("evict");
    let mut instance = linker.instantiate(&module).expect("instance");
    // f runs once in template code, then moves to Cranelift.
    let n = 200;
    assert_eq!(
        instance.call("main", &[Value::I(n)]).unwrap(),
        Some(Value::I(live_want(n)))
    );
    seen.lock().unwrap().clear();
    instance.tier_up("f").expect("tier up");
    assert_eq!(module.tier_of("f").unwrap(), Some(Tier::Cranelift));
    // f, in Cranelift, calls the host, which evicts f's code: f returns
    // into it and finishes.
    assert_eq!(
        instance.call("main", &[Value::I(n)]).unwrap(),
        Some(Value::I(live_want(n)))
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen[0].0,
        Some(Tier::Cranelift),
        "f was running Cranelift code"
    );
    assert_eq!(seen[0].1, 1, "f's version went");
    assert!(
        seen[0].2 > 0,
        "retired code waits for the live activation: {seen:?}"
    );
    assert_eq!(seen[1], (Some(Tier::Template), 2, seen[1].2), "{seen:?}");
    assert!(seen[1].2 >= 3, "{seen:?}");
    assert_eq!(module.tier_of("f").unwrap(), Some(Tier::Template));
    // The call returned: nothing runs the retired code; the next call
    // frees it.
    assert_eq!(
        instance.call("main", &[Value::I(n)]).unwrap(),
        Some(Value::I(live_want(n)))
    );
    assert_eq!(
        engine.code_stats().retired_pending,
        0,
        "{:?}",
        engine.code_stats()
    );
}

#[test]
fn a_code_cap_hit_from_a_host_function_keeps_the_caller_running() {
    // Like the test above, but the host function forces evictions by
    // compiling more than the cap holds instead of evicting by hand.
    let count = 40;
    let mut text = many_functions(count).replace("func main(i)", "func all(i)");
    text.push_str(
        LIVE.replace("import evict(i) -> i", "import evict(i) -> i\n")
            .as_str(),
    );
    let mut c = synchronous(1_000_000, 1_000_000);
    // Room for four Cranelift versions over the template code.
    let baseline = {
        let engine = Engine::new(c.clone()).expect("engine");
        let module = Module::new(&engine, &text).expect("verifies");
        let mut instance = quiet_linker().instantiate(&module).expect("instance");
        instance.call("main", &[Value::I(3)]).expect("runs");
        instance.call("all", &[Value::I(3)]).expect("runs");
        engine.code_stats().bytes_in_use
    };
    c.code_memory_limit(baseline + 4 * 4096);
    let engine = Engine::new(c).expect("engine");
    let module = Module::new(&engine, &text).expect("verifies");
    let seen: Log<(Option<Tier>, usize, u64)> = Arc::default();
    let (m, e, s) = (module.clone(), engine.clone(), seen.clone());
    let mut linker = Linker::new();
    linker
        .func(
            "evict",
            Signature::new(vec![Bank::I], Some(Bank::I)),
            move |_| {
                let mut second = quiet_linker().instantiate(&m).map_err(|e| e.to_string())?;
                // Template code of every `w` first (it is never refused),
                // so their Cranelift versions come on top of it.
                second
                    .call("all", &[Value::I(5)])
                    .map_err(|e| e.to_string())?;
                for k in 0..count {
                    // A version that finds no room is refused: fine.
                    if let Err(e) = second.tier_up(&format!("w{k}"))
                        && !e.to_string().contains("code memory cap")
                    {
                        return Err(e.to_string());
                    }
                }
                second
                    .call("all", &[Value::I(5)])
                    .map_err(|e| e.to_string())?;
                let stats = e.code_stats();
                s.lock().unwrap().push((
                    m.tier_of("f").ok().flatten(),
                    stats.retired_pending,
                    stats.evictions,
                ));
                Ok(Some(Value::I(1000)))
            },
        )
        .expect("evict");
    let mut instance = linker.instantiate(&module).expect("instance");
    let n = 100;
    assert_eq!(
        instance.call("main", &[Value::I(n)]).unwrap(),
        Some(Value::I(live_want(n)))
    );
    instance.tier_up("f").expect("tier up");
    seen.lock().unwrap().clear();
    assert_eq!(
        instance.call("main", &[Value::I(n)]).unwrap(),
        Some(Value::I(live_want(n)))
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (f_tier, pending, evictions) = seen[0];
    assert!(evictions > 0, "{seen:?}");
    assert_eq!(
        f_tier,
        Some(Tier::Template),
        "f's version, the oldest, went first"
    );
    assert!(pending > 0, "{seen:?}");
    assert_eq!(
        instance.call("main", &[Value::I(n)]).unwrap(),
        Some(Value::I(live_want(n)))
    );
    assert_eq!(engine.code_stats().retired_pending, 0);
}

#[test]
fn a_function_over_the_compile_budget_stays_in_the_template_tier() {
    use tierjit::CompileBudget;
    let text = many_functions(3);
    let want = interp_result(&text, "main", &[Value::I(20)]);
    for (tier, background) in [
        (Tier::Auto, false),
        (Tier::Auto, true),
        (Tier::Cranelift, false),
    ] {
        let mut c = config(tier);
        c.hot_calls(2)
            .hot_loops(3)
            .background_compilation(background)
            .cranelift_budget(CompileBudget {
                max_ops: 3,
                max_time: Duration::from_secs(2),
            });
        let engine = Engine::new(c).expect("engine");
        let module = Module::new(&engine, &text).expect("verifies");
        let mut instance = Instance::new(&module).expect("instance");
        for _ in 0..5 {
            assert_eq!(instance.call("main", &[Value::I(20)]).unwrap(), want);
        }
        if background {
            assert!(settle(&engine, &module));
        }
        assert_eq!(instance.call("main", &[Value::I(20)]).unwrap(), want);
        for fs in instance.all_function_stats() {
            assert_eq!(fs.tier, Some(Tier::Template), "{tier}: {fs:?}");
            let why = fs.cranelift_refusal.clone().unwrap_or_default();
            assert!(why.contains("budget"), "{tier}: {fs:?}");
        }
        let stats = engine.code_stats();
        assert!(stats.over_budget >= 4, "{tier}: {stats:?}");
        assert_eq!(stats.cranelift_versions, 0, "{stats:?}");
        assert_eq!(module.compile_stats().cranelift.functions, 0);
    }
}

/// `spin(n)`: a loop of n rounds whose body is `blocks` blocks of
/// arithmetic, slow for Cranelift to compile.
fn slow_loop(blocks: usize) -> String {
    let mut s = String::from(
        "func spin(i) -> i\n    iconst i1, 0\n    iconst i2, 0\nagain:\n    jge i1, i0, out\n",
    );
    for k in 0..blocks {
        s.push_str(&format!(
            "    jgti i1, {k}, b{k}\n    addi i2, i2, {k}\nb{k}:\n    muli i2, i2, 3\n    xor i2, i2, i1\n"
        ));
    }
    s.push_str("    addi i1, i1, 1\n    jmp again\nout:\n    reti i2\nend\n");
    s
}

/// A function of `blocks` blocks of arithmetic: slow for Cranelift to
/// compile, quick to run once.
fn slow_to_compile(blocks: usize) -> String {
    let mut s = String::from("func big(i) -> i\n    iconst i1, 1\n");
    for k in 0..blocks {
        s.push_str(&format!(
            "    jgti i0, {k}, b{k}\n    addi i1, i1, {k}\nb{k}:\n    muli i1, i1, 3\n    xor i1, i1, i0\n"
        ));
    }
    s.push_str("    reti i1\nend\n");
    s
}

#[test]
fn dropping_the_last_instance_cancels_its_queued_compiles() {
    let mut c = config(Tier::Auto);
    c.hot_calls(1)
        .hot_loops(1_000_000)
        .background_compilation(true)
        .compiler_threads(1);
    let engine = Engine::new(c).expect("engine");
    // The one compiler thread is kept busy by a slow compile...
    let slow = Module::new(&engine, &slow_to_compile(1500)).expect("verifies");
    let mut busy = Instance::new(&slow).expect("instance");
    busy.call("big", &[Value::I(7)]).expect("runs");
    assert!(
        wait_for(Duration::from_secs(5), || {
            let s = engine.code_stats();
            s.compiler_threads == 1 && s.queued == 0
        }),
        "the thread took the slow compile: {:?}",
        engine.code_stats()
    );
    // ... while a second module queues work behind it.
    let text = many_functions(6);
    let second = Module::new(&engine, &text).expect("verifies");
    let mut instance = Instance::new(&second).expect("instance");
    instance.call("main", &[Value::I(3)]).expect("runs");
    // The slow compile takes ~170 ms on a 2020s x86-64 in a debug build:
    // the second module's requests are still queued behind it.
    let queued = engine.code_stats().queued;
    assert!(queued > 0, "{:?}", engine.code_stats());
    let cancelled_before = engine.code_stats().cancelled;
    drop(instance);
    let stats = engine.code_stats();
    assert_eq!(stats.queued, 0, "{stats:?}");
    assert_eq!(
        stats.cancelled,
        cancelled_before + queued as u64,
        "every queued compile of the module went: {stats:?}"
    );
    // The slow module is untouched: its compile lands.
    assert!(
        wait_for(Duration::from_secs(60), || slow.tier_of("big").unwrap()
            == Some(Tier::Cranelift)),
        "{:?}",
        engine.code_stats()
    );
    // And the second module, instantiated again, tiers up again.
    let mut again = Instance::new(&second).expect("instance");
    let want = interp_result(&text, "main", &[Value::I(3)]);
    for _ in 0..3 {
        assert_eq!(again.call("main", &[Value::I(3)]).unwrap(), want);
    }
    assert!(
        wait_for(Duration::from_secs(20), || second.tier_of("main").unwrap()
            == Some(Tier::Cranelift)),
        "{:?}",
        engine.code_stats()
    );
    drop(busy);
}

#[test]
fn the_compiler_thread_takes_loops_first_then_the_hottest_function() {
    let mut c = config(Tier::Auto);
    c.hot_calls(1)
        .hot_loops(3)
        .background_compilation(true)
        .compiler_threads(1);
    let engine = Engine::new(c).expect("engine");
    let slow = Module::new(&engine, &slow_to_compile(1500)).expect("verifies");
    let mut busy = Instance::new(&slow).expect("instance");
    busy.call("big", &[Value::I(7)]).expect("runs");
    assert!(wait_for(Duration::from_secs(5), || engine
        .code_stats()
        .queued
        == 0));
    let module = Module::new(&engine, CALLER).expect("verifies");
    let mut instance = caller_linker(|_| {})
        .instantiate(&module)
        .expect("instance");
    // `g` queued first, called 40 times after; `spin`'s loop queued last;
    // `main` queued second, called once.
    instance
        .call("main", &[Value::I(40), Value::I(1000)])
        .expect("runs");
    assert_eq!(
        instance.call("spin", &[Value::I(10)]).unwrap(),
        Some(Value::I(spin_want(10)))
    );
    let queued = engine.code_stats().queued;
    if queued < 3 {
        // The slow compile finished first (a very fast host): nothing to
        // order.
        eprintln!("skipped: only {queued} compiles queued behind the slow one");
        return;
    }
    assert!(
        wait_for(Duration::from_secs(60), || engine.code_stats().queued == 0
            && module.tier_of("main").unwrap() == Some(Tier::Cranelift)),
        "{:?}",
        engine.code_stats()
    );
    let at = |name: &str| instance.function_stats(name).unwrap();
    let spin = at("spin");
    let g = at("g");
    let main = at("main");
    let (g_at, main_at) = (g.tiered_up_at.unwrap(), main.tiered_up_at.unwrap());
    assert!(spin.osr_compiles.is_some(), "{spin:?}");
    assert!(g_at < main_at, "the hotter g first: {g:?} {main:?}");
    drop(busy);
}
