//! Compile speed of both tiers side by side: ns per op (criterion's
//! throughput) and bytes per op (printed), over the suite and over a
//! generated 10,000-op function; and the Lark front end: every program of
//! `programs/lang/` compiled from source (the standard library included)
//! and then template-compiled, whole. Run: `cargo bench --bench compile`
//! (`-- lark` for the front end only).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tierjit::bytecode::{self, Module};
use tierjit::cranelift_tier::{Compiler, CraneliftSettings, EntryPoint};
use tierjit::runtime::frame::FrameLayout;
use tierjit::runtime::helpers::HelperAddrs;
use tierjit::template::HostMasm;
use tierjit::template::emit;

const SUITE: &[&str] = &[
    "fib",
    "loop",
    "sieve",
    "nbody",
    "mandelbrot",
    "spectralnorm",
    "matmul",
];

/// One function of `n` ops mixing every family the suite uses, with loops.
fn generated(n: usize) -> Module {
    let mut src = String::from("func big(i, f) -> i\n");
    let body = [
        "add i1, i1, i0",
        "muli i2, i1, 3",
        "rem i3, i2, i0",
        "fadd f1, f1, f0",
        "fmul f2, f1, f1",
        "i2f f3, i3",
        "f2i i4, f2",
        "lt i5, i4, i3",
        "subi i0, i0, 1",
        "xor i6, i5, i1",
    ];
    for k in 0..n - 2 {
        if k % 50 == 49 {
            src += &format!("    jgti i0, {}, L{}\n", 1000, k / 50);
        } else {
            if k % 50 == 0 {
                src += &format!("L{}:\n", k / 50);
            }
            src += "    ";
            src += body[k % body.len()];
            src += "\n";
        }
    }
    src += "    mov i0, i1\n    reti i0\nend\n";
    bytecode::text::parse(&src).expect("generated function parses")
}

/// Compile every function of `module` with `compiler` (reused, as the
/// runtime reuses one); code bytes.
fn compile_all(
    compiler: &mut emit::Compiler<HostMasm>,
    module: &Module,
    layouts: &[FrameLayout],
) -> usize {
    let helpers = HelperAddrs::native();
    (0..module.functions.len())
        .map(|f| {
            compiler
                .compile(&helpers, module, layouts, f, false)
                .expect("compiles")
                .len()
        })
        .sum()
}

/// Compile every function of `module` with Cranelift, to code that runs at
/// any address (publishing it is not timed); code bytes.
fn cranelift_compile_all(
    compiler: &mut Compiler,
    module: &Module,
    layouts: &[FrameLayout],
) -> usize {
    let helpers = HelperAddrs::native();
    (0..module.functions.len())
        .map(|f| {
            compiler
                .compile_code(module, layouts, &helpers, None, f, EntryPoint::Start)
                .expect("compiles")
                .code
                .len()
        })
        .sum()
}

/// The suite's programs and the generated function.
fn inputs() -> Vec<(String, Module)> {
    let mut modules: Vec<(String, Module)> = SUITE
        .iter()
        .map(|name| {
            let path = format!("{}/programs/{name}.tj", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).expect("suite program");
            (
                name.to_string(),
                bytecode::text::parse(&text).expect("parses"),
            )
        })
        .collect();
    modules.push(("generated_10000".into(), generated(10_000)));
    modules
}

fn template_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("template_compile");
    let mut compiler = emit::Compiler::new(HostMasm::new());
    for (name, module) in &inputs() {
        let layouts: Vec<FrameLayout> = FrameLayout::all(module);
        let ops = module.op_count();
        let bytes = compile_all(&mut compiler, module, &layouts);
        println!(
            "{name}: {ops} ops, {bytes} bytes of code, {:.1} bytes/op",
            bytes as f64 / ops as f64
        );
        group.throughput(Throughput::Elements(ops as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), module, |b, m| {
            b.iter(|| compile_all(&mut compiler, black_box(m), &layouts))
        });
    }
    group.finish();
}

fn cranelift_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("cranelift_compile");
    // Milliseconds per iteration: fewer samples keep the run short.
    group.sample_size(10);
    // The engine's defaults (speed, backtracking), verifier off as in
    // release builds.
    let settings = CraneliftSettings {
        verifier: false,
        ..CraneliftSettings::default()
    };
    let mut compiler = Compiler::new(settings).expect("cranelift");
    for (name, module) in &inputs() {
        let layouts: Vec<FrameLayout> = FrameLayout::all(module);
        let ops = module.op_count();
        let bytes = cranelift_compile_all(&mut compiler, module, &layouts);
        println!(
            "{name}: {ops} ops, {bytes} bytes of Cranelift code, {:.1} bytes/op",
            bytes as f64 / ops as f64
        );
        group.throughput(Throughput::Elements(ops as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), module, |b, m| {
            b.iter(|| cranelift_compile_all(&mut compiler, black_box(m), &layouts))
        });
    }
    group.finish();
}

/// Lark source to template code: `lang::compile` (parse, check, the
/// library, lowering, verification) plus the template tier over every
/// function, for each program of `programs/lang/`, the largest first.
fn lark_compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("lark_to_template");
    let dir = format!("{}/programs/lang", env!("CARGO_MANIFEST_DIR"));
    let mut programs: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("programs/lang")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == tierjit::lang::EXTENSION))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("lark source"))
        })
        .collect();
    programs.sort_by_key(|(name, text)| (std::cmp::Reverse(text.len()), name.clone()));
    let mut compiler = emit::Compiler::new(HostMasm::new());
    for (name, text) in &programs {
        let module = tierjit::lang::compile(text, name).expect("compiles");
        let layouts: Vec<FrameLayout> = FrameLayout::all(&module);
        let bytes = compile_all(&mut compiler, &module, &layouts);
        println!(
            "{name}.lark: {} source bytes, {} functions, {} ops, {bytes} bytes of template code",
            text.len(),
            module.functions.len(),
            module.op_count()
        );
        group.bench_with_input(BenchmarkId::from_parameter(name), text, |b, t| {
            b.iter(|| {
                let module = tierjit::lang::compile(black_box(t), name).expect("compiles");
                let layouts: Vec<FrameLayout> = FrameLayout::all(&module);
                compile_all(&mut compiler, &module, &layouts)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, template_compile, cranelift_compile, lark_compile);
criterion_main!(benches);
