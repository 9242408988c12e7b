//! How long Lark takes to compile a large program that uses the standard
//! library throughout, and the template tier to compile all of it:
//! `cargo run --release --example lark_compile_time [functions]`.

use std::time::{Duration, Instant};

use tierjit::{Config, Engine, Instance, Module, SharedOutput, Tier};

/// A program of `n` functions, each using vectors, maps, closures,
/// strings and formatting, and a `main` calling each once.
fn program(n: usize) -> String {
    let mut src = String::new();
    for k in 0..n {
        src.push_str(&format!(
            "fn work{k}(n: int) -> int {{
    let v = new Vec<int>()
    for i in 0..n {{
        v.push(i * {k} + 1)
    }}
    let doubled = map(v, fun(x: int) -> int {{ return x * 2 }})
    let odd = filter(doubled, fun(x: int) -> bool {{ return x % 3 == 1 }})
    let total = fold(odd, 0, fun(a: int, x: int) -> int {{ return a + x }})
    let m = new Map<string, int>()
    for i in 0..n {{
        m.put(\"key\" + fmt_int(i), v.get(i))
    }}
    let sb = new StringBuilder()
    sb.add(\"work{k}: \")
    sb.add_int(total)
    sb.add_char(32)
    sb.add_float(total as float / 7.0, 3)
    if m.has(\"key1\") && sb.len() > 0 {{
        return total + m.get(\"key1\") + parse_int(fmt_int({k}), 0, len(fmt_int({k})))
    }}
    return total
}}
"
        ));
    }
    src.push_str("fn main() {\n    var sum = 0\n");
    for k in 0..n {
        src.push_str(&format!("    sum += work{k}(3)\n"));
    }
    src.push_str("    println(sum)\n}\n");
    src
}

/// The CPU time this thread has used: unlike the wall clock, it does not
/// count the time other processes on a busy machine take.
fn thread_cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill in.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The best of several runs: the least disturbed by other processes.
fn best(v: &[Duration]) -> Duration {
    v.iter().copied().min().unwrap_or_default()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let c0 = thread_cpu_time();
    tierjit::lang::library::library().expect("the library parses");
    println!(
        "the library parsed (once per process) in {:.2} ms of CPU",
        (thread_cpu_time() - c0).as_secs_f64() * 1e3
    );
    let src = program(n);
    let mut front = Vec::new();
    let mut front_cpu = Vec::new();
    let mut template = Vec::new();
    let mut ops = 0;
    for _ in 0..11 {
        let (t0, c0) = (Instant::now(), thread_cpu_time());
        let code = tierjit::lang::compile(&src, "large.lark").expect("compiles");
        front.push(t0.elapsed());
        front_cpu.push(thread_cpu_time() - c0);
        ops = code.functions.iter().map(|f| f.code.len()).sum();
        let mut config = Config::new();
        config.tier(Tier::Template);
        let engine = Engine::new(config).expect("engine");
        let module = Module::from_bytecode(&engine, code).expect("module");
        let mut instance = Instance::new(&module).expect("instance");
        instance.set_output(SharedOutput::new());
        instance.call("main", &[]).expect("runs");
        template.push(instance.compile_stats().total().time);
    }
    let (front, front_cpu, template) = (best(&front), best(&front_cpu), best(&template));
    println!(
        "{} lines, {n} functions, {ops} ops (best of 11): lang::compile {:.2} ms \
         ({:.2} ms of CPU), template tier {:.2} ms, together {:.2} ms",
        src.lines().count(),
        front.as_secs_f64() * 1e3,
        front_cpu.as_secs_f64() * 1e3,
        template.as_secs_f64() * 1e3,
        (front + template).as_secs_f64() * 1e3
    );
}
