//! What an instance costs once its module's code is compiled: code belongs
//! to the module, so a new instance compiles nothing. (a) instantiate and
//! call nbody for one step, the module warmed up first (under `auto` its
//! hot functions are in Cranelift by then), under `auto` and `template`;
//! (b) instantiate only. The goal of issue 20: (a) under 20 µs (it was
//! 58.5 µs when every instance compiled its own code). Run: `cargo bench
//! --bench instances`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::time::{Duration, Instant};
use tierjit::{Config, Engine, Instance, Module, Tier, Value};

/// nbody's module on an engine of `tier`, with every function compiled
/// (and, under `auto`, the hot ones moved to Cranelift).
fn warm_nbody(tier: Tier) -> Module {
    let path = format!("{}/programs/nbody.tj", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("programs/nbody.tj");
    let mut config = Config::new();
    config.tier(tier);
    let engine = Engine::new(config).expect("engine");
    let module = Module::new(&engine, &text).expect("module");
    let mut instance = Instance::new(&module).expect("instance");
    instance.set_output(std::io::sink());
    // Past the default threshold of 1,000 calls of `advance`.
    for _ in 0..1_100 {
        instance.call("main", &[Value::I(1)]).expect("runs");
    }
    if tier == Tier::Auto {
        let start = Instant::now();
        while module.tier_of("advance").expect("advance") != Some(Tier::Cranelift)
            && start.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    module
}

fn instances(c: &mut Criterion) {
    let mut group = c.benchmark_group("instances");
    for tier in [Tier::Auto, Tier::Template] {
        let module = warm_nbody(tier);
        group.bench_with_input(
            BenchmarkId::new("instantiate + call nbody 1 step", tier.name()),
            &module,
            |b, m| {
                b.iter(|| {
                    let mut instance = Instance::new(m).expect("instance");
                    instance.set_output(std::io::sink());
                    instance.call("main", &[Value::I(1)]).expect("runs")
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("instantiate", tier.name()),
            &module,
            |b, m| b.iter(|| Instance::new(m).expect("instance")),
        );
    }
    group.finish();
}

criterion_group!(benches, instances);
criterion_main!(benches);
