//! End to end (parse, verify, compile, run) under `auto` against the
//! forced tiers, side by side: the mixed workload, where tiering should win
//! over both, and suite programs, where `auto` should stay close to the
//! faster forced tier. Run: `cargo bench --bench tiers`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tierjit::{Config, Engine, Instance, Module, Tier, Value};

/// Programs and `main` arguments: sizes that run in tens of milliseconds.
const CASES: &[(&str, &[i64])] = &[
    ("mixed", &[3, 3_000_000]),
    ("fib", &[27]),
    ("nbody", &[100_000]),
    ("spectralnorm", &[200]),
    ("matmul", &[120]),
];

fn run(tier: Tier, text: &str, args: &[Value]) {
    let mut config = Config::new();
    config.tier(tier);
    let engine = Engine::new(config).expect("engine");
    let module = Module::new(&engine, text).expect("module");
    let mut instance = Instance::new(&module).expect("instance");
    instance.set_output(std::io::sink());
    instance.call("main", args).expect("runs");
}

fn tiers(c: &mut Criterion) {
    for (name, args) in CASES {
        let path = format!("{}/programs/{name}.tj", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("program");
        let args: Vec<Value> = args.iter().map(|&v| Value::I(v)).collect();
        let mut group = c.benchmark_group(format!("end_to_end/{name}"));
        group.sample_size(10);
        for tier in [Tier::Template, Tier::Cranelift, Tier::Auto] {
            group.bench_with_input(BenchmarkId::from_parameter(tier.name()), &text, |b, t| {
                b.iter(|| run(tier, t, &args))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, tiers);
criterion_main!(benches);
