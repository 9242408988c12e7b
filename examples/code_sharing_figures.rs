//! The three goal figures of issue 20 (code belongs to the module) on this
//! machine: `cargo run --release --example code_sharing_figures`.
//!
//! 1. Instantiate + call nbody for one step, the module's code compiled:
//!    the median over 1,000 runs (goal: under 20 µs; it was 58.5 µs).
//! 2. 64 instances of `programs/mixed.tj` one after another on one thread
//!    under `auto`: the total, the first instance (which compiles), an
//!    instance once everything is compiled, and total / (first + 63 x
//!    that) (goal: under 2); and the compiler threads seen at most.
//! 3. 8 threads x 100 instances of nbody under `auto`: the executable
//!    memory against one instance's in a fresh engine (goal: within 1.2x).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tierjit::{Config, Engine, Instance, Module, Tier, Value};

fn program(name: &str) -> String {
    let path = format!("{}/programs/{name}.tj", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn engine(tier: Tier) -> Engine {
    let mut config = Config::new();
    config.tier(tier);
    Engine::new(config).expect("engine")
}

/// Run `main(args)` in a new instance of `module`, output discarded.
fn run_instance(module: &Module, args: &[Value]) {
    let mut instance = Instance::new(module).expect("instance");
    instance.set_output(std::io::sink());
    instance.call("main", args).expect("runs");
}

/// Wait (at most 30 s) until the engine's compiler pool has had nothing
/// queued and `module` compiled nothing more for half a second.
fn settle(engine: &Engine, module: &Module) {
    let start = Instant::now();
    let mut last = (usize::MAX, u64::MAX);
    let mut since = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let now = (
            engine.code_stats().queued,
            module.compile_stats().cranelift.functions,
        );
        if now != last {
            (last, since) = (now, Instant::now());
        } else if now.0 == 0 && since.elapsed() > Duration::from_millis(500) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Bytes of executable anonymous mappings (Linux; `None` elsewhere).
fn executable_anonymous_bytes() -> Option<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    Some(
        maps.lines()
            .filter_map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                let anonymous = cols.len() == 5 && cols[4] == "0";
                if !anonymous || !cols[1].starts_with("r-x") {
                    return None;
                }
                let (lo, hi) = cols[0].split_once('-')?;
                Some(usize::from_str_radix(hi, 16).ok()? - usize::from_str_radix(lo, 16).ok()?)
            })
            .sum(),
    )
}

/// Threads of this process now (Linux; `None` elsewhere).
fn process_threads() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/task").ok()?.count())
}

fn figure_1() {
    println!("1. instantiate + call nbody 1 step, code compiled (median of 1000)");
    let text = program("nbody");
    for tier in [Tier::Auto, Tier::Template] {
        let engine = engine(tier);
        let module = Module::new(&engine, &text).expect("module");
        // Past the threshold of 1,000 calls of `advance`: under `auto` the
        // hot functions move to Cranelift.
        let mut warm = Instance::new(&module).expect("instance");
        warm.set_output(std::io::sink());
        for _ in 0..1_100 {
            warm.call("main", &[Value::I(1)]).expect("runs");
        }
        settle(&engine, &module);
        let compiled = module.compile_stats();
        let times: Vec<Duration> = (0..1000)
            .map(|_| {
                let t = Instant::now();
                run_instance(&module, &[Value::I(1)]);
                t.elapsed()
            })
            .collect();
        let inst: Vec<Duration> = (0..1000)
            .map(|_| {
                let t = Instant::now();
                drop(Instance::new(&module).expect("instance"));
                t.elapsed()
            })
            .collect();
        assert_eq!(compiled, module.compile_stats(), "instances compiled");
        // What the register stacks (4 Mi registers per bank by default)
        // cost of that: the same module on an engine with small stacks.
        let mut small = Config::new();
        small.tier(tier).stack_slots(1 << 12, 1 << 12, 1 << 12);
        let small_engine = Engine::new(small).expect("engine");
        let small_module = Module::new(&small_engine, &text).expect("module");
        run_instance(&small_module, &[Value::I(1)]);
        let small_call: Vec<Duration> = (0..1000)
            .map(|_| {
                let t = Instant::now();
                run_instance(&small_module, &[Value::I(1)]);
                t.elapsed()
            })
            .collect();
        let small_inst: Vec<Duration> = (0..1000)
            .map(|_| {
                let t = Instant::now();
                drop(Instance::new(&small_module).expect("instance"));
                t.elapsed()
            })
            .collect();
        println!(
            "   {:<9} {:>7.1} µs  (instantiate only {:>5.1} µs; with 4 Ki-register stacks {:.1} µs and {:.1} µs; advance in {:?})",
            tier.name(),
            micros(median(times)),
            micros(median(inst)),
            micros(median(small_call)),
            micros(median(small_inst)),
            module
                .tier_of("advance")
                .expect("advance")
                .expect("compiled"),
        );
    }
}

fn figure_2() {
    let args = [Value::I(3), Value::I(3_000_000)];
    println!("2. 64 instances of mixed.tj main(3, 3000000), one after another, one thread, auto");
    let threads_before = process_threads();
    let engine = engine(Tier::Auto);
    let stop = Arc::new(AtomicBool::new(false));
    let max_pool = Arc::new(AtomicUsize::new(0));
    let max_tasks = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, max_pool, max_tasks, engine) = (
            stop.clone(),
            max_pool.clone(),
            max_tasks.clone(),
            engine.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                max_pool.fetch_max(engine.code_stats().compiler_threads, Ordering::Relaxed);
                if let Some(n) = process_threads() {
                    max_tasks.fetch_max(n, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let text = program("mixed");
    let start = Instant::now();
    let module = Module::new(&engine, &text).expect("module");
    let mut each = Vec::new();
    for _ in 0..64 {
        let t = Instant::now();
        run_instance(&module, &args);
        each.push(t.elapsed());
    }
    let total = start.elapsed();
    settle(&engine, &module);
    let run_only = median(
        (0..9)
            .map(|_| {
                let t = Instant::now();
                run_instance(&module, &args);
                t.elapsed()
            })
            .collect(),
    );
    stop.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let first = each[0];
    let ideal = first + run_only * 63;
    println!(
        "   total {:.1} ms, first {:.1} ms (parse, verify, compile and run), run-only {:.2} ms",
        total.as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3,
        run_only.as_secs_f64() * 1e3
    );
    println!(
        "   total / (first + 63 x run-only) = {:.2}  (goal < 2); instances 2..64: median {:.2} ms",
        total.as_secs_f64() / ideal.as_secs_f64(),
        median(each[1..].to_vec()).as_secs_f64() * 1e3
    );
    println!(
        "   compiler threads at most: {} by code_stats (limit {}), process threads {} -> {} at most (the sampler is one)",
        max_pool.load(Ordering::Relaxed),
        engine.config().get_compiler_threads(),
        threads_before.map_or("?".into(), |n| n.to_string()),
        max_tasks.load(Ordering::Relaxed),
    );
    let stats = module.compile_stats();
    println!(
        "   compiled: {} template functions, {} Cranelift versions; code {:?}",
        stats.template.functions,
        stats.cranelift.functions,
        engine.code_stats()
    );
}

/// Executable memory once `threads` x `instances` instances of nbody ran
/// `main(steps)` in a fresh engine under `auto`: code_stats' bytes in use,
/// the process's executable anonymous bytes added, Cranelift versions.
fn nbody_memory(threads: usize, instances: usize, steps: i64) -> (usize, Option<usize>, usize) {
    let before = executable_anonymous_bytes();
    let engine = engine(Tier::Auto);
    let module = Module::new(&engine, &program("nbody")).expect("module");
    // One instance stays, so queued compiles are not dropped.
    let keeper = Instance::new(&module).expect("instance");
    std::thread::scope(|s| {
        for _ in 0..threads {
            let module = module.clone();
            s.spawn(move || {
                for _ in 0..instances {
                    run_instance(&module, &[Value::I(steps)]);
                }
            });
        }
    });
    settle(&engine, &module);
    let stats = engine.code_stats();
    let mapped = executable_anonymous_bytes()
        .zip(before)
        .map(|(now, before)| now.saturating_sub(before));
    drop(keeper);
    (stats.bytes_in_use, mapped, stats.cranelift_versions)
}

fn figure_3() {
    // The same work both ways: 800 runs of main(100). (Counters are the
    // module's, so 800 instances tier up what one instance running 800
    // times does; one instance running 100 times, an eighth of the work,
    // leaves loops cold that the 800 instances' back-edges make hot.)
    println!(
        "3. executable memory: 8 threads x 100 instances of nbody(100) vs 1 instance x 800 calls"
    );
    let (many, many_mapped, many_versions) = nbody_memory(8, 100, 100);
    let (one, one_mapped, one_versions) = {
        let before = executable_anonymous_bytes();
        let engine = engine(Tier::Auto);
        let module = Module::new(&engine, &program("nbody")).expect("module");
        let mut instance = Instance::new(&module).expect("instance");
        instance.set_output(std::io::sink());
        for _ in 0..800 {
            instance.call("main", &[Value::I(100)]).expect("runs");
        }
        settle(&engine, &module);
        let stats = engine.code_stats();
        let mapped = executable_anonymous_bytes()
            .zip(before)
            .map(|(now, before)| now.saturating_sub(before));
        (stats.bytes_in_use, mapped, stats.cranelift_versions)
    };
    println!(
        "   800 instances: {} bytes in use ({} Cranelift versions), {} executable bytes mapped",
        many,
        many_versions,
        many_mapped.map_or("?".into(), |b| b.to_string())
    );
    println!(
        "   1 instance:    {} bytes in use ({} Cranelift versions), {} executable bytes mapped",
        one,
        one_versions,
        one_mapped.map_or("?".into(), |b| b.to_string())
    );
    println!(
        "   ratio {:.2} by bytes in use, {} by executable bytes mapped (goal <= 1.2)",
        many as f64 / one.max(1) as f64,
        many_mapped
            .zip(one_mapped)
            .map_or("?".into(), |(m, o)| format!(
                "{:.2}",
                m as f64 / o.max(1) as f64
            ))
    );
}

fn main() {
    figure_1();
    figure_2();
    figure_3();
}
