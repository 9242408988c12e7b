//! Command-line parsing and the `run`, `check` and `dis` commands.

mod bench;
mod source;

use clap::{Args, Parser, Subcommand, ValueEnum};
use source::Source;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tierjit::{
    CompileBudget, Config, Engine, Error, Instance, OptLevel, RegallocAlgorithm, Tier, Value,
};

/// Every environment variable the crate reads, for `--help` (the README's
/// list says the same).
const ENVIRONMENT: &str = "\
Environment:
  TIERJIT_TIER=auto|template|cranelift|interp
          The engine (default: auto). --tier wins over it; an unknown value
          is an error.
  TIERJIT_HOT_CALLS=N
          Under auto, a function moves to Cranelift at its N-th call
          (default: 1000; from 1). Holds whatever chooses the tier.
  TIERJIT_HOT_LOOPS=N
          Under auto, a function's loops move to Cranelift, entered at their
          header, at its N-th loop back-edge (default: 10000; from 1). Holds
          whatever chooses the tier.
  RUST_LOG=FILTER
          Without --log, log tier-up events to standard error through this
          filter (tracing's EnvFilter syntax, e.g. tierjit=debug,
          tierjit::code=info); unset or empty: no log. A filter that does
          not parse is an error.
  TIERJIT_DEBUG_INFO=1
          Describe the JIT code to gdb (as --debug-info does): break on a
          bytecode function, backtraces through JIT frames with .tj lines.
          0 or unset: off.
  TIERJIT_PROFILE=perfmap|jitdump
          Announce every code version to perf: /tmp/perf-<pid>.map (names),
          or a jitdump jit-<pid>.dump (names, code and .tj lines, for perf
          inject --jit and perf annotate). Unset: neither.
  TIERJIT_JITDUMP_DIR=DIR
          Where the jitdump file goes (default: the current directory).
  PATH    bench --peers looks for lua5.4 and luajit there.

Read by the tests and scripts, not by tierjit:
  TIERJIT_BLESS=1
          cargo test rewrites the golden disassembly listings
          (tests/golden/) instead of comparing with them.
  TIERJIT_TEST_RUNNER=COMMAND
          The CLI tests run tierjit through COMMAND (qemu-aarch64 under
          scripts/test-aarch64.sh, which sets it).
  PROPTEST_CASES=N
          Cases of the random-program tests.
  TIERJIT_PEERS=DIR
          scripts/bench-suite.sh: where the peers are (default:
          ../shared/peers).
  PEERS=DIR
          scripts/gen-suite-expected.sh: where the peers' C programs are
          (DIR/c; default: ../shared/peers).";

#[derive(Parser)]
#[command(
    name = "tierjit",
    version,
    about = "A two-tier JIT for a typed register bytecode",
    after_help = ENVIRONMENT
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log tier-up events (queued, compiled, installed, OSR entered,
    /// refused, evicted, cancelled) to standard error, through FILTER
    /// (tracing's EnvFilter syntax; default: tierjit=debug). Wins over
    /// RUST_LOG. Standard output is unchanged.
    #[arg(
        long,
        global = true,
        value_name = "FILTER",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = DEFAULT_LOG_FILTER
    )]
    log: Option<String>,
}

/// The filter of a bare `--log`: every tier-up event.
const DEFAULT_LOG_FILTER: &str = "tierjit=debug";

/// The environment variable read for a log filter when `--log` is not given.
const LOG_ENV: &str = "RUST_LOG";

/// Install a subscriber that writes tier-up events to standard error,
/// filtered by `--log`'s filter, or else by `RUST_LOG`; with neither, none
/// (the events then cost a branch each).
fn init_log(log: Option<&str>) -> Result<(), String> {
    let (filter, from) = match log {
        Some(f) => (f.to_string(), "--log"),
        None => match std::env::var(LOG_ENV) {
            Ok(f) if !f.trim().is_empty() => (f, LOG_ENV),
            _ => return Ok(()),
        },
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .map_err(|e| format!("{from}: bad log filter `{filter}`: {e}"))?;
    // Only one subscriber is ever installed: an error cannot happen here.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_thread_names(true)
        .try_init();
    Ok(())
}

#[derive(Subcommand)]
enum Command {
    /// Run `main` of a .tj file with i64 arguments and print what it prints.
    #[command(after_help = ENVIRONMENT)]
    Run {
        /// Engine: auto, template, cranelift or interp (overrides TIERJIT_TIER).
        #[arg(long)]
        tier: Option<String>,
        #[command(flatten)]
        cranelift: CraneliftArgs,
        /// Print per-function tiering statistics to standard error.
        #[arg(long)]
        stats: bool,
        /// The program (`-`: standard input).
        file: PathBuf,
        /// Arguments of `main` (i64), as the text format writes integers
        /// (`-12`, `0xff`, 64-bit hex patterns); missing ones take main's
        /// defaults.
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Parse and verify a .tj file.
    Check {
        /// The program (`-`: standard input).
        file: PathBuf,
    },
    /// Print a .tj file in canonical form, with op indices; or what the
    /// JIT tiers make of each function.
    #[command(after_help = ENVIRONMENT)]
    Dis {
        /// The program (`-`: standard input).
        file: PathBuf,
        /// Print each function's Cranelift IR instead.
        #[arg(long, conflicts_with_all = ["cranelift_asm", "asm"])]
        clif: bool,
        /// Print each function's Cranelift machine code instead, as
        /// Cranelift lists it.
        #[arg(long, conflicts_with = "asm")]
        cranelift_asm: bool,
        /// Print the machine code of every version of every function a run
        /// can use instead, disassembled: its template code (with tier-up
        /// counters under auto), its Cranelift code, and its Cranelift
        /// code entered at each loop header. Helper addresses are fake.
        #[arg(long)]
        asm: bool,
        /// With --asm: the tier whose template code to show, with or
        /// without counters (overrides TIERJIT_TIER; default auto).
        #[arg(long, requires = "asm")]
        tier: Option<String>,
    },
    /// Time programs under several engines, side by side.
    #[command(after_help = ENVIRONMENT)]
    Bench(bench::BenchArgs),
}

/// Cranelift's optimisation level, on the command line.
#[derive(Clone, Copy, ValueEnum)]
enum OptArg {
    None,
    Speed,
    SpeedAndSize,
}

/// Cranelift's register allocator, on the command line.
#[derive(Clone, Copy, ValueEnum)]
enum RegallocArg {
    Backtracking,
    SinglePass,
}

/// Cranelift settings shared by `run` and `bench`.
#[derive(Args, Clone, Copy, Default)]
pub(crate) struct CraneliftArgs {
    /// Cranelift's optimisation level (default: speed).
    #[arg(long, value_enum)]
    cranelift_opt: Option<OptArg>,
    /// Cranelift's register allocator (default: backtracking).
    #[arg(long, value_enum)]
    cranelift_regalloc: Option<RegallocArg>,
    /// Inline calls to functions of at most this many ops in Cranelift
    /// code (default: 32; 0 inlines nothing).
    #[arg(long, value_name = "OPS")]
    cranelift_inline: Option<u32>,
    /// Inline calls in Cranelift code at most this many levels deep
    /// (default: 4, at most 16; 0 inlines nothing).
    #[arg(long, value_name = "LEVELS")]
    cranelift_inline_depth: Option<u32>,
    /// Give up compiling a function in Cranelift when it measures more than
    /// this many ops, inlined bodies, touched registers and passed
    /// arguments included (default: 50000).
    #[arg(long, value_name = "N")]
    cranelift_max_ops: Option<u32>,
    /// Under auto, compile hot functions at once on the running thread
    /// instead of on the background compiler thread (deterministic).
    #[arg(long)]
    sync_tier_up: bool,
    /// Cap the engine's executable memory at this many bytes (default: 512
    /// MiB); at the cap, old Cranelift versions are evicted and new ones
    /// refused.
    #[arg(long, value_name = "BYTES")]
    code_memory_limit: Option<usize>,
    /// At most this many background compiler threads (default: half the
    /// cores, at least 1).
    #[arg(long, value_name = "N")]
    compiler_threads: Option<usize>,
    /// Describe every code version to gdb through its JIT interface (`break
    /// fib`, `bt` with .tj lines); costs time per compile (also
    /// TIERJIT_DEBUG_INFO=1).
    #[arg(long)]
    debug_info: bool,
}

/// The configuration of the environment (every setting
/// [`Config::from_env`] reads: the tier and the tiering thresholds), with the
/// tier from `--tier` when given, and the Cranelift settings given.
pub(crate) fn config_for(tier: Option<&str>, cranelift: CraneliftArgs) -> Result<Config, Error> {
    let tier = tier.map(str::parse::<Tier>).transpose()?;
    let mut config = Config::from_env_with_tier(tier)?;
    if let Some(p) = tierjit::Profiling::from_env().map_err(Error::Config)? {
        config.profiling(p);
    }
    if let Some(opt) = cranelift.cranelift_opt {
        config.cranelift_opt_level(match opt {
            OptArg::None => OptLevel::None,
            OptArg::Speed => OptLevel::Speed,
            OptArg::SpeedAndSize => OptLevel::SpeedAndSize,
        });
    }
    if let Some(ops) = cranelift.cranelift_inline {
        config.cranelift_inline_max_ops(ops);
    }
    if let Some(levels) = cranelift.cranelift_inline_depth {
        config.cranelift_inline_max_depth(levels);
    }
    if let Some(max_ops) = cranelift.cranelift_max_ops {
        let budget = config.get_cranelift().budget;
        config.cranelift_budget(CompileBudget { max_ops, ..budget });
    }
    if cranelift.sync_tier_up {
        config.background_compilation(false);
    }
    if let Some(bytes) = cranelift.code_memory_limit {
        config.code_memory_limit(bytes);
    }
    if let Some(n) = cranelift.compiler_threads {
        config.compiler_threads(n);
    }
    if cranelift.debug_info || debug_info_from_env()? {
        config.debug_info(true);
    }
    if let Some(r) = cranelift.cranelift_regalloc {
        config.cranelift_regalloc(match r {
            RegallocArg::Backtracking => RegallocAlgorithm::Backtracking,
            RegallocArg::SinglePass => RegallocAlgorithm::SinglePass,
        });
    }
    Ok(config)
}

/// The environment variable that turns on [`Config::debug_info`].
const DEBUG_INFO_ENV: &str = "TIERJIT_DEBUG_INFO";

/// Whether `TIERJIT_DEBUG_INFO` asks for debug info: `1` yes, `0` or unset
/// no, anything else an error.
fn debug_info_from_env() -> Result<bool, Error> {
    match std::env::var(DEBUG_INFO_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(false),
        Ok(v) if v.trim() == "1" => Ok(true),
        Ok(v) if v.trim() == "0" || v.trim().is_empty() => Ok(false),
        Ok(v) => Err(Error::Config(format!(
            "{DEBUG_INFO_ENV} must be 0 or 1, got `{v}`"
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::Config(format!(
            "{DEBUG_INFO_ENV} is not valid UTF-8"
        ))),
    }
}

/// Parse `main`'s arguments as i64s, with the text format's integer
/// literal rules (`-12`, `0xff`, 64-bit hex patterns); an error names the
/// argument (from 1) and says what is wrong.
pub(crate) fn parse_args(args: &[String]) -> Result<Vec<Value>, String> {
    args.iter()
        .enumerate()
        .map(|(k, a)| {
            tierjit::bytecode::text::parse_int_literal(a)
                .map(Value::I)
                .map_err(|why| format!("argument {} of `main`: {why}", k + 1))
        })
        .collect()
}

fn run(
    tier: Option<&str>,
    cranelift: CraneliftArgs,
    stats: bool,
    file: &Path,
    args: &[String],
) -> Result<(), String> {
    let config = config_for(tier, cranelift).map_err(|e| e.to_string())?;
    let engine = Engine::new(config).map_err(|e| e.to_string())?;
    let source = Source::read(file)?;
    let module = source.module(&engine)?;
    let args = parse_args(args)?;
    let mut instance = Instance::new(&module).map_err(|e| e.to_string())?;
    instance.set_output(std::io::BufWriter::new(std::io::stdout()));
    let result = instance.call(tierjit::bytecode::ENTRY_NAME, &args);
    if stats {
        print_stats(&instance);
    }
    match result {
        Ok(Some(v)) => {
            let _ = writeln!(std::io::stdout(), "{v}");
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(source.error(e)),
    }
}

/// Per-function statistics and totals, to standard error.
fn print_stats(instance: &Instance) {
    use std::time::Duration;
    let compiled = |c: Option<(Duration, usize)>| match c {
        Some((t, bytes)) => format!("{:.1}µs/{bytes}B", t.as_secs_f64() * 1e6),
        None => "-".into(),
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{:<24} {:>9} {:>14} {:>18} {:>18} {:>12} {:>18} {:>5}",
        "function",
        "tier",
        "template-calls",
        "template",
        "cranelift",
        "tiered-up",
        "loop-entry code",
        "osr"
    );
    for s in instance.all_function_stats() {
        let _ = writeln!(
            err,
            "{:<24} {:>9} {:>14} {:>18} {:>18} {:>12} {:>18} {:>5}",
            s.name,
            s.tier.map_or("-", |t| t.name()),
            s.template_calls.map_or("-".into(), |c| c.to_string()),
            compiled(s.template),
            compiled(s.cranelift),
            s.tiered_up_at
                .map_or("-".into(), |t| format!("{:.3}ms", t.as_secs_f64() * 1e3)),
            compiled(s.osr_compiles),
            s.osr_entries
        );
    }
    let heap = instance.heap_stats();
    let _ = writeln!(
        err,
        "heap: {} bytes now, peak {}, largest live {}, {} objects, {} collections",
        heap.bytes, heap.peak_bytes, heap.max_live_bytes, heap.objects, heap.collections
    );
    for s in instance.all_function_stats() {
        if let Some(why) = &s.cranelift_refusal {
            let _ = writeln!(err, "not in Cranelift: {}: {why}", s.name);
        }
    }
    let code = instance.module().engine().code_stats();
    let _ = writeln!(
        err,
        "code memory: {} bytes in use (peak {}, cap {}), {} template and {} Cranelift versions, \
         {} evicted, {} refused at the cap, {} over the compile budget; {} compiler threads",
        code.bytes_in_use,
        code.peak_bytes,
        code.bytes_limit,
        code.template_versions,
        code.cranelift_versions,
        code.evictions,
        code.refusals,
        code.over_budget,
        code.compiler_threads
    );
    let totals = instance.compile_stats();
    let _ = writeln!(
        err,
        "tiering hooks on the running thread: {} calls, {:.3} ms",
        totals.hook_calls,
        totals.hook_time.as_secs_f64() * 1e3
    );
    for (tier, t) in [
        ("template", totals.template),
        ("cranelift", totals.cranelift),
    ] {
        let _ = writeln!(
            err,
            "total {tier}: {} functions, {} ops, {} bytes, {:.3} ms",
            t.functions,
            t.ops,
            t.code_bytes,
            t.time.as_secs_f64() * 1e3
        );
    }
}

fn check(file: &Path) -> Result<(), String> {
    let engine = Engine::new(Config::new()).map_err(|e| e.to_string())?;
    let source = Source::read(file)?;
    let module = source.module(&engine)?;
    let code = module.bytecode();
    println!(
        "{}: ok ({} functions, {} ops, {} imports)",
        source.name,
        code.functions.len(),
        code.op_count(),
        code.imports.len()
    );
    Ok(())
}

/// `dis --asm`: the machine code of every version of every function.
#[cfg(feature = "disasm")]
fn dis_asm(file: &Path, tier: Option<&str>) -> Result<(), String> {
    let config = config_for(tier, CraneliftArgs::default()).map_err(|e| e.to_string())?;
    let engine = Engine::new(config).map_err(|e| e.to_string())?;
    let source = Source::read(file)?;
    let module = source.module(&engine)?;
    let text = tierjit::disasm::listing(&module).map_err(|e| source.error(e))?;
    print!("{text}");
    Ok(())
}

/// `dis --asm` in a build without the disassemblers.
#[cfg(not(feature = "disasm"))]
fn dis_asm(_file: &Path, _tier: Option<&str>) -> Result<(), String> {
    Err(
        "dis --asm needs the `disasm` feature, and this tierjit was built without it \
         (it is on by default: build without --no-default-features, or with --features disasm)"
            .into(),
    )
}

fn dis(file: &Path, clif: bool, cranelift_asm: bool) -> Result<(), String> {
    let config = Config::new();
    let engine = Engine::new(config.clone()).map_err(|e| e.to_string())?;
    let module = Source::read(file)?.module(&engine)?;
    if !clif && !cranelift_asm {
        print!(
            "{}",
            tierjit::bytecode::text::print_annotated(module.bytecode())
        );
        return Ok(());
    }
    let mut compiler = tierjit::cranelift_tier::Compiler::new(config.get_cranelift())
        .map_err(|e| e.to_string())?;
    let code = module.bytecode();
    for (idx, f) in code.functions.iter().enumerate() {
        let start = tierjit::cranelift_tier::EntryPoint::Start;
        let text = compiler
            .listing(code, module.layouts(), idx, start, cranelift_asm)
            .map_err(|e| e.to_string())?;
        println!("; function {idx}: {}\n{text}", f.name);
    }
    Ok(())
}

pub fn main() -> ExitCode {
    // A reader that stops early (`tierjit dis f.tj | head`) ends us as it
    // ends other Unix tools, by SIGPIPE: Rust ignores the signal, and
    // `println!` then panics on the broken pipe.
    // SAFETY: restoring a signal's default action, before any thread runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Err(msg) = init_log(cli.log.as_deref()) {
        eprintln!("tierjit: {msg}");
        return ExitCode::FAILURE;
    }
    let result = match &cli.command {
        Command::Run {
            tier,
            cranelift,
            stats,
            file,
            args,
        } => run(tier.as_deref(), *cranelift, *stats, file, args),
        Command::Check { file } => check(file),
        Command::Dis {
            file,
            asm: true,
            tier,
            ..
        } => dis_asm(file, tier.as_deref()),
        Command::Dis {
            file,
            clif,
            cranelift_asm,
            ..
        } => dis(file, *clif, *cranelift_asm),
        Command::Bench(args) => bench::bench(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            let _ = std::io::stdout().flush();
            eprintln!("tierjit: {msg}");
            ExitCode::FAILURE
        }
    }
}
