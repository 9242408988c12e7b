//! Criterion bench of the interpreter on the suite at small sizes.
//! (Each tier adds a group beside it.) Run: `cargo bench --bench interp`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tierjit::{Config, Engine, Instance, Module, Tier, Value};

/// Suite programs with sizes that take a few milliseconds in the interpreter.
const SUITE: &[(&str, &[i64])] = &[
    ("fib", &[22]),
    ("loop", &[200_000]),
    ("sieve", &[100_000, 2]),
    ("nbody", &[5_000]),
    ("mandelbrot", &[100, 50]),
    ("spectralnorm", &[60]),
    ("matmul", &[40]),
];

fn suite(c: &mut Criterion) {
    let mut group = c.benchmark_group("interp");
    group.sample_size(20);
    for &(name, args) in SUITE {
        let path = format!("{}/programs/{name}.tj", env!("CARGO_MANIFEST_DIR"));
        let mut config = Config::new();
        config.tier(Tier::Interp);
        let engine = Engine::new(config).expect("engine");
        let module = Module::from_file(&engine, &path).expect("suite program loads");
        let mut instance = Instance::new(&module).expect("instance");
        instance.set_output(std::io::sink());
        let args: Vec<Value> = args.iter().map(|&v| Value::I(v)).collect();
        group.bench_function(name, |b| {
            b.iter(|| instance.call("main", black_box(&args)).expect("runs"))
        });
    }
    group.finish();
}

criterion_group!(benches, suite);
criterion_main!(benches);
