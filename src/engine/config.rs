//! Engine settings: the tier, the tiering thresholds, the register-stack
//! capacities, the limits and Cranelift's settings, from code or from the
//! environment.

use crate::cranelift_tier::{CompileBudget, CraneliftSettings, OptLevel, RegallocAlgorithm};
use crate::error::{Error, Result};
use crate::runtime::code_info::CodeObserver;
use crate::runtime::profiling::Profiling;
use crate::tiering::TieringPolicy;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Which engine runs the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Tier {
    /// The default: every function starts in the template tier, and the
    /// tiering manager moves hot functions and loops to Cranelift while the
    /// program runs. Needs both JIT tiers in the build.
    #[default]
    Auto,
    /// The single-pass template JIT for every function.
    Template,
    /// The Cranelift JIT for every function.
    Cranelift,
    /// The reference interpreter.
    Interp,
}

impl Tier {
    /// Every tier, in the order of `TIERJIT_TIER` values.
    pub const ALL: [Tier; 4] = [Tier::Auto, Tier::Template, Tier::Cranelift, Tier::Interp];

    /// The name used by `TIERJIT_TIER` and `--tier`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Auto => "auto",
            Tier::Template => "template",
            Tier::Cranelift => "cranelift",
            Tier::Interp => "interp",
        }
    }

    /// Whether this build can run the tier.
    pub fn is_available(self) -> bool {
        match self {
            Tier::Interp => true,
            Tier::Auto => crate::template::AVAILABLE && crate::cranelift_tier::AVAILABLE,
            Tier::Template => crate::template::AVAILABLE,
            Tier::Cranelift => crate::cranelift_tier::AVAILABLE,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tier {
    type Err = Error;
    fn from_str(s: &str) -> Result<Tier> {
        Tier::ALL
            .iter()
            .copied()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown tier `{s}` (expected one of: auto, template, cranelift, interp)"
                ))
            })
    }
}

/// The environment variable that forces a tier.
pub const TIER_ENV: &str = "TIERJIT_TIER";
/// The environment variable that sets [`Config::hot_calls`].
pub const HOT_CALLS_ENV: &str = "TIERJIT_HOT_CALLS";
/// The environment variable that sets [`Config::hot_loops`].
pub const HOT_LOOPS_ENV: &str = "TIERJIT_HOT_LOOPS";

/// An environment variable, `None` when unset.
fn env_var(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Config(format!("{name} is not valid UTF-8")))
        }
    }
}

/// A tiering threshold: a whole number from 1.
fn parse_threshold(name: &str, v: &str) -> Result<u32> {
    match v.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(Error::Config(format!(
            "{name} must be a whole number from 1 to {}, got `{v}`",
            u32::MAX
        ))),
    }
}

/// Engine settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub(super) tier: Tier,
    pub(super) stack_slots: [usize; 3],
    pub(super) max_call_depth: u32,
    pub(super) heap_limit: usize,
    pub(super) count_ops: bool,
    pub(super) cranelift: CraneliftSettings,
    pub(super) tiering: TieringPolicy,
    pub(super) code_memory_limit: usize,
    pub(super) compiler_threads: usize,
    pub(super) debug_info: bool,
    pub(super) observers: CodeObservers,
    pub(super) unwind_info: bool,
    pub(super) profiling: Profiling,
}

/// The code observers of a [`Config`]: compared by identity.
#[derive(Clone, Default)]
pub(super) struct CodeObservers(Vec<Arc<dyn CodeObserver>>);

impl PartialEq for CodeObservers {
    fn eq(&self, other: &CodeObservers) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

impl Eq for CodeObservers {}

impl std::fmt::Debug for CodeObservers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} code observer(s)", self.0.len())
    }
}

/// The default of [`Config::code_memory_limit`]: 512 MiB.
pub const DEFAULT_CODE_MEMORY_LIMIT: usize = 512 << 20;

/// The default of [`Config::compiler_threads`]: half the cores the process
/// may use (at least one, at most eight), so the program keeps the others.
pub fn default_compiler_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).clamp(1, 8)
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tier: Tier::Auto,
            stack_slots: [1 << 22; 3],
            max_call_depth: 200_000,
            heap_limit: 4 << 30,
            count_ops: false,
            cranelift: CraneliftSettings::default(),
            tiering: TieringPolicy {
                hot_calls: 1000,
                hot_loops: 10_000,
                background: true,
            },
            code_memory_limit: DEFAULT_CODE_MEMORY_LIMIT,
            compiler_threads: default_compiler_threads(),
            debug_info: false,
            observers: CodeObservers::default(),
            unwind_info: true,
            profiling: Profiling::None,
        }
    }
}

impl Config {
    /// The defaults: tier auto, 4 Mi registers per bank, call depth 200,000,
    /// heap limit 4 GiB.
    pub fn new() -> Config {
        Config::default()
    }

    /// The defaults, with the tier taken from `TIERJIT_TIER` and the
    /// tiering thresholds from `TIERJIT_HOT_CALLS` and `TIERJIT_HOT_LOOPS`
    /// when they are set. A value that does not parse is an error.
    pub fn from_env() -> Result<Config> {
        Config::from_env_with_tier(None)
    }

    /// [`Config::from_env`] for a caller that chooses the tier itself (a
    /// command-line flag, say): `tier`, when given, wins over
    /// `TIERJIT_TIER`, which is then not read at all (a bad value there does
    /// not matter); every other setting of the environment holds.
    pub fn from_env_with_tier(tier: Option<Tier>) -> Result<Config> {
        let mut c = Config::new();
        match tier {
            Some(t) => c.tier = t,
            None => {
                if let Some(v) = env_var(TIER_ENV)? {
                    c.tier = v.trim().parse()?;
                }
            }
        }
        if let Some(v) = env_var(HOT_CALLS_ENV)? {
            c.tiering.hot_calls = parse_threshold(HOT_CALLS_ENV, &v)?;
        }
        if let Some(v) = env_var(HOT_LOOPS_ENV)? {
            c.tiering.hot_loops = parse_threshold(HOT_LOOPS_ENV, &v)?;
        }
        Ok(c)
    }

    /// Under `auto`, a function moves to Cranelift at its `calls`-th call
    /// (default 1000, at least 1).
    pub fn hot_calls(&mut self, calls: u32) -> &mut Config {
        self.tiering.hot_calls = calls.max(1);
        self
    }

    /// Under `auto`, a function's loops move to Cranelift (on-stack
    /// replacement) at its `back_edges`-th loop back-edge, counted over all
    /// its activations (default 10,000, at least 1).
    pub fn hot_loops(&mut self, back_edges: u32) -> &mut Config {
        self.tiering.hot_loops = back_edges.max(1);
        self
    }

    /// Under `auto`, compile hot functions on a background thread (the
    /// default: the program never waits for Cranelift), or at once on the
    /// thread that found them hot (deterministic tier-up points, for tests).
    pub fn background_compilation(&mut self, on: bool) -> &mut Config {
        self.tiering.background = on;
        self
    }

    /// The tiering thresholds and mode.
    pub fn get_tiering(&self) -> TieringPolicy {
        self.tiering
    }

    /// Choose the engine.
    pub fn tier(&mut self, tier: Tier) -> &mut Config {
        self.tier = tier;
        self
    }

    /// The chosen engine.
    pub fn get_tier(&self) -> Tier {
        self.tier
    }

    /// Capacity of the i64, f64 and reference register stacks, in registers.
    pub fn stack_slots(&mut self, i: usize, f: usize, r: usize) -> &mut Config {
        self.stack_slots = [i, f, r];
        self
    }

    /// Calls nested deeper than this trap with a stack overflow.
    pub fn max_call_depth(&mut self, depth: u32) -> &mut Config {
        self.max_call_depth = depth;
        self
    }

    /// Count the ops the interpreter executes ([`Instance::executed_ops`](super::Instance::executed_ops)).
    /// Costs time; for measurements only.
    pub fn count_ops(&mut self, on: bool) -> &mut Config {
        self.count_ops = on;
        self
    }

    /// Allocation past this many heap bytes traps with out-of-memory.
    pub fn heap_limit(&mut self, bytes: usize) -> &mut Config {
        self.heap_limit = bytes;
        self
    }

    /// Cranelift's optimisation level (default [`OptLevel::Speed`]).
    pub fn cranelift_opt_level(&mut self, level: OptLevel) -> &mut Config {
        self.cranelift.opt_level = level;
        self
    }

    /// Cranelift's register allocator (default
    /// [`RegallocAlgorithm::Backtracking`]).
    pub fn cranelift_regalloc(&mut self, algorithm: RegallocAlgorithm) -> &mut Config {
        self.cranelift.regalloc = algorithm;
        self
    }

    /// Run Cranelift's IR verifier on every function it compiles (default:
    /// on in debug builds, off in release builds).
    pub fn cranelift_verifier(&mut self, on: bool) -> &mut Config {
        self.cranelift.verifier = on;
        self
    }

    /// Inline calls to functions of at most `ops` ops (that neither
    /// allocate, nor print, nor call the host) in Cranelift code (default
    /// [`crate::cranelift_tier::DEFAULT_INLINE_MAX_OPS`]; 0 inlines
    /// nothing). An inlined callee runs as Cranelift code inside its
    /// caller whatever tier the callee itself is in, and its calls from
    /// there are not counted toward its own tier-up.
    pub fn cranelift_inline_max_ops(&mut self, ops: u32) -> &mut Config {
        self.cranelift.inline_max_ops = ops;
        self
    }

    /// Inline calls in Cranelift code at most `levels` deep: a callee's
    /// calls are inlined too, down to that depth (default
    /// [`crate::cranelift_tier::DEFAULT_INLINE_MAX_DEPTH`]; 0 inlines
    /// nothing; more than [`crate::cranelift_tier::MAX_INLINE_DEPTH`] counts
    /// as that). Recursion unrolls that many levels.
    pub fn cranelift_inline_max_depth(&mut self, levels: u32) -> &mut Config {
        self.cranelift.inline_max_depth = levels;
        self
    }

    /// Give up a Cranelift compile of a function larger or slower than
    /// `budget` (default [`CompileBudget::default`]); the function stays in
    /// (or, under a forced `cranelift` tier, is compiled in) the template
    /// tier, and the refusal is reported
    /// ([`FunctionStats::cranelift_refusal`](super::FunctionStats::cranelift_refusal),
    /// [`CodeStats::over_budget`](super::CodeStats::over_budget)).
    pub fn cranelift_budget(&mut self, budget: CompileBudget) -> &mut Config {
        self.cranelift.budget = budget;
        self
    }

    /// The Cranelift settings.
    pub fn get_cranelift(&self) -> CraneliftSettings {
        self.cranelift
    }

    /// Cap the engine's executable memory at `bytes` (default
    /// [`DEFAULT_CODE_MEMORY_LIMIT`]): at the cap, older Cranelift versions
    /// are evicted (their functions go back to template code) and new ones
    /// refused; template code is never refused, so every function can run
    /// (see [`Engine::code_stats`](super::Engine::code_stats)).
    pub fn code_memory_limit(&mut self, bytes: usize) -> &mut Config {
        self.code_memory_limit = bytes;
        self
    }

    /// The cap on executable memory.
    pub fn get_code_memory_limit(&self) -> usize {
        self.code_memory_limit
    }

    /// At most `threads` background compiler threads per engine, shared by
    /// all its modules and instances (default
    /// [`default_compiler_threads`]; at least 1).
    pub fn compiler_threads(&mut self, threads: usize) -> &mut Config {
        self.compiler_threads = threads.max(1);
        self
    }

    /// The most background compiler threads.
    pub fn get_compiler_threads(&self) -> usize {
        self.compiler_threads
    }

    /// Describe every code version to a debugger through the GDB JIT
    /// interface (default off): each version published gets an in-memory
    /// ELF image (its function's name as symbol, DWARF lines mapping its
    /// code to the source file's lines, or to op indices when there is no
    /// file) registered with `__jit_debug_register_code`, and unregistered
    /// when its memory is freed, so `break fib` and `bt` in gdb see the JIT
    /// code. Off by default because building an image costs more than a
    /// template compile (see [`crate::runtime::gdb_jit`]). The CLI turns it on
    /// with `--debug-info` or `TIERJIT_DEBUG_INFO=1`.
    pub fn debug_info(&mut self, on: bool) -> &mut Config {
        self.debug_info = on;
        self
    }

    /// Whether code versions are described to debuggers.
    pub fn get_debug_info(&self) -> bool {
        self.debug_info
    }

    /// Tell `observer` of every code version the engine publishes into
    /// executable memory and frees (a profiler's or debugger's view of the
    /// JIT code; see [`CodeObserver`]). Observers are called in the order
    /// added, with the engine's code lock held.
    pub fn code_observer(&mut self, observer: Arc<dyn CodeObserver>) -> &mut Config {
        self.observers.0.push(observer);
        self
    }

    /// Every code observer the engine tells of its code: the unwind-info
    /// registry first (if on), then the profiling mode's, then those
    /// added, then the debugger's when [`Config::debug_info`] is on.
    pub(super) fn code_observers(&self) -> Vec<Arc<dyn CodeObserver>> {
        let mut all: Vec<Arc<dyn CodeObserver>> = Vec::with_capacity(self.observers.0.len() + 3);
        if self.unwind_info && crate::runtime::unwind::SUPPORTED {
            all.push(Arc::new(crate::runtime::unwind::UnwindRegistry));
        }
        all.extend(self.profiling.observer());
        all.extend(self.observers.0.iter().cloned());
        if self.debug_info {
            all.push(Arc::new(
                crate::runtime::gdb_jit::observer::GdbJitObserver::new(),
            ));
        }
        all
    }

    /// Register the unwind info of compiled code with the system unwinder
    /// (on by default), so Rust backtraces, gdb and `perf --call-graph
    /// dwarf` walk through compiled frames (see [`crate::runtime::unwind`]).
    /// Off saves building and registering an `.eh_frame` per version.
    pub fn unwind_info(&mut self, on: bool) -> &mut Config {
        self.unwind_info = on;
        self
    }

    /// Whether [`Config::unwind_info`] is on.
    pub fn get_unwind_info(&self) -> bool {
        self.unwind_info
    }

    /// Write every code version to a perf map or a jitdump file for
    /// Linux `perf` (default [`Profiling::None`]; see
    /// [`crate::runtime::profiling`]). Not read from the environment here:
    /// the CLI reads `TIERJIT_PROFILE` ([`Profiling::from_env`]).
    pub fn profiling(&mut self, profiling: Profiling) -> &mut Config {
        self.profiling = profiling;
        self
    }

    /// The profiling mode.
    pub fn get_profiling(&self) -> Profiling {
        self.profiling
    }
}
