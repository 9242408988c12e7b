//! The embedding API, in the conventions of wasmtime: [`Config`] ->
//! [`Engine`] -> [`Module`] -> [`Instance`], with [`Linker`] for host
//! functions and [`TypedFunc`] for typed calls.
//!
//! ```
//! use tierjit::{Config, Engine, Instance, Module};
//!
//! let engine = Engine::new(Config::new())?;
//! let module = Module::new(&engine, r#"
//!     func add3(i, i, i) -> i
//!         add i0, i0, i1
//!         add i0, i0, i2
//!         reti i0
//!     end
//! "#)?;
//! let mut instance = Instance::new(&module)?;
//! let add3 = instance.typed_func::<(i64, i64, i64), i64>("add3")?;
//! assert_eq!(add3.call(&mut instance, (1, 2, 3))?, 6);
//! # Ok::<(), tierjit::Error>(())
//! ```

use crate::bytecode::{self, Bank, Signature};
pub use crate::cranelift_tier::{CraneliftSettings, OptLevel, RegallocAlgorithm};
use crate::error::{Error, Result};
use crate::interp;
use crate::runtime::Store;
use crate::runtime::context::FuncTier;
use crate::runtime::frame::FrameLayout;
use crate::runtime::heap::Heap;
use crate::runtime::host::HostFunc;
use crate::runtime::stacks::RegisterStacks;
use crate::runtime::trap::TrapKind;
use crate::runtime::value::Value;
pub use crate::tiering::TieringPolicy;
pub use crate::tiering::{CompileStats, TierStats};
use crate::tiering::{JitOptions, JitRuntime};
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Which engine runs the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Tier {
    /// Let tierjit choose (today: the interpreter; with the JIT tiers:
    /// template first, Cranelift when hot).
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
    tier: Tier,
    stack_slots: [usize; 3],
    max_call_depth: u32,
    heap_limit: usize,
    count_ops: bool,
    cranelift: CraneliftSettings,
    tiering: TieringPolicy,
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
        let mut c = Config::new();
        if let Some(v) = env_var(TIER_ENV)? {
            c.tier = v.trim().parse()?;
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

    /// Count the ops the interpreter executes ([`Instance::executed_ops`]).
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

    /// The Cranelift settings.
    pub fn get_cranelift(&self) -> CraneliftSettings {
        self.cranelift
    }
}

/// Shared, immutable engine state. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    config: Arc<Config>,
}

impl Engine {
    /// An engine with this configuration. Fails if the requested tier is not
    /// part of this build.
    pub fn new(config: Config) -> Result<Engine> {
        if !config.tier.is_available() {
            return Err(Error::Config(format!(
                "tier `{}` is not available in this build (available: {})",
                config.tier,
                Tier::ALL
                    .iter()
                    .filter(|t| t.is_available())
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if config.max_call_depth == 0 {
            return Err(Error::Config("max_call_depth must be at least 1".into()));
        }
        Ok(Engine {
            config: Arc::new(config),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The engine that runs code.
    pub fn effective_tier(&self) -> Tier {
        self.config.tier
    }
}

struct ModuleInner {
    engine: Engine,
    /// Shared with the instances' compiler threads.
    code: Arc<bytecode::Module>,
    layouts: Arc<[FrameLayout]>,
}

/// A verified module, ready to instantiate. Cheap to clone.
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("functions", &self.inner.code.functions.len())
            .field("imports", &self.inner.code.imports.len())
            .finish()
    }
}

impl Module {
    /// Parse and verify a module in the text format.
    pub fn new(engine: &Engine, text: &str) -> Result<Module> {
        let code = bytecode::text::parse(text)?;
        Module::from_bytecode(engine, code)
    }

    /// Read, parse and verify a `.tj` file.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let text = std::fs::read_to_string(path)?;
        Module::new(engine, &text)
    }

    /// The frame layout of every function, by index.
    pub fn layouts(&self) -> &[FrameLayout] {
        &self.inner.layouts
    }

    /// Verify a module built with the builder (or by hand).
    pub fn from_bytecode(engine: &Engine, code: bytecode::Module) -> Result<Module> {
        bytecode::verify::verify(&code)?;
        let layouts = code.functions.iter().map(FrameLayout::of).collect();
        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                code: Arc::new(code),
                layouts,
            }),
        })
    }

    /// The verified bytecode.
    pub fn bytecode(&self) -> &bytecode::Module {
        &self.inner.code
    }

    /// The engine it was loaded into.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}

/// Host functions by import name, to instantiate modules that import them.
#[derive(Default)]
pub struct Linker {
    funcs: Vec<(String, Arc<Mutex<HostFunc>>)>,
}

impl Linker {
    /// An empty linker.
    pub fn new() -> Linker {
        Linker::default()
    }

    /// Define host function `name`. References may be passed to host
    /// functions but not returned from them. A later definition of the same
    /// name replaces the earlier one.
    pub fn func(
        &mut self,
        name: &str,
        sig: Signature,
        f: impl FnMut(&[Value]) -> Result<Option<Value>, String> + Send + 'static,
    ) -> Result<&mut Linker> {
        if sig.result == Some(Bank::R) {
            return Err(Error::Link(format!(
                "host function `{name}` cannot return a reference"
            )));
        }
        self.funcs.retain(|(n, _)| n != name);
        self.funcs
            .push((name.to_owned(), Arc::new(Mutex::new(HostFunc::new(sig, f)))));
        Ok(self)
    }

    /// Instantiate `module`, binding each of its imports by name and
    /// checking its signature.
    pub fn instantiate(&self, module: &Module) -> Result<Instance> {
        let mut hosts = Vec::new();
        for imp in &module.inner.code.imports {
            let Some((_, f)) = self.funcs.iter().find(|(n, _)| *n == imp.name) else {
                return Err(Error::Link(format!("import `{}` is not defined", imp.name)));
            };
            let sig = f
                .lock()
                .map_err(|_| Error::Link("host function poisoned".into()))?
                .sig
                .clone();
            if sig != imp.sig {
                return Err(Error::Link(format!(
                    "import `{}` has signature {} but the host function has {}",
                    imp.name, imp.sig, sig
                )));
            }
            let shared = f.clone();
            hosts.push(HostFunc::new(sig, move |args| match shared.lock() {
                Ok(mut h) => (h.func)(args),
                Err(_) => Err("host function poisoned".into()),
            }));
        }
        Instance::with_hosts(module, hosts)
    }
}

/// A handle that stops a running call from another thread: the call traps
/// with [`TrapKind::Interrupted`] at its next loop back-edge or call.
#[derive(Clone, Debug)]
pub struct InterruptHandle(Arc<AtomicBool>);

impl InterruptHandle {
    /// Ask the running call to stop.
    pub fn interrupt(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A `Write` sink shared with the embedder, to capture what a program prints.
#[derive(Clone, Debug, Default)]
pub struct SharedOutput(Arc<Mutex<Vec<u8>>>);

impl SharedOutput {
    /// An empty buffer.
    pub fn new() -> SharedOutput {
        SharedOutput::default()
    }

    /// Take what was written so far.
    pub fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    /// Take what was written so far, as (lossy) UTF-8.
    pub fn take_string(&self) -> String {
        String::from_utf8_lossy(&self.take()).into_owned()
    }
}

impl Write for SharedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut v) => {
                v.extend_from_slice(buf);
                Ok(buf.len())
            }
            Err(_) => Err(std::io::Error::other("output buffer poisoned")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What is known of one function of an instance (see
/// [`Instance::function_stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionStats {
    /// Its name.
    pub name: String,
    /// The tier it runs in now (`None`: not compiled yet).
    pub tier: Option<Tier>,
    /// Calls counted by its template code (under `auto` only).
    pub template_calls: Option<u64>,
    /// Template compile time and machine-code bytes.
    pub template: Option<(std::time::Duration, usize)>,
    /// Cranelift compile time and machine-code bytes (latest version).
    pub cranelift: Option<(std::time::Duration, usize)>,
    /// When its Cranelift version was installed, since the instance was made.
    pub tiered_up_at: Option<std::time::Duration>,
    /// Cranelift compile time and machine-code bytes of its versions entered
    /// at a loop header (on-stack replacement), summed.
    pub osr_compiles: Option<(std::time::Duration, usize)>,
    /// Times a running template activation continued in Cranelift code at a
    /// loop header.
    pub osr_entries: u64,
}

/// A module with its own register stacks, heap and host functions.
/// A trap ends the call that raised it; the instance stays usable.
pub struct Instance {
    module: Module,
    store: Store,
    /// The compiled tiers' state, unless the interpreter runs this instance.
    jit: Option<JitRuntime>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("module", &self.module)
            .finish()
    }
}

impl Instance {
    /// Instantiate a module that imports nothing (use [`Linker`] otherwise).
    pub fn new(module: &Module) -> Result<Instance> {
        Linker::new().instantiate(module)
    }

    fn with_hosts(module: &Module, hosts: Vec<HostFunc>) -> Result<Instance> {
        let config = module.engine().config();
        let store = Store {
            stacks: RegisterStacks::new(config.stack_slots),
            heap: Heap::new(config.heap_limit),
            out: Box::new(std::io::stdout()),
            hosts,
            max_call_depth: config.max_call_depth,
            interrupt: Arc::new(AtomicBool::new(false)),
            count_ops: config.count_ops,
            executed_ops: 0,
        };
        let (first_tier, tiering) = match module.engine().effective_tier() {
            Tier::Template => (Some(FuncTier::Template), None),
            Tier::Cranelift => (Some(FuncTier::Cranelift), None),
            Tier::Auto => (Some(FuncTier::Template), Some(config.tiering)),
            Tier::Interp => (None, None),
        };
        let inner = &module.inner;
        let jit = first_tier.map(|first_tier| {
            let options = JitOptions {
                first_tier,
                cranelift: config.cranelift,
                tiering,
            };
            JitRuntime::new(inner.code.clone(), inner.layouts.clone(), options)
        });
        Ok(Instance {
            module: module.clone(),
            store,
            jit,
        })
    }

    /// Send what the program prints to `out` instead of standard output.
    pub fn set_output(&mut self, out: impl Write + Send + 'static) {
        self.store.out = Box::new(out);
    }

    /// A handle to interrupt running calls from another thread.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle(self.store.interrupt.clone())
    }

    /// The module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Ops executed by the interpreter so far (0 unless
    /// [`Config::count_ops`] is on).
    pub fn executed_ops(&self) -> u64 {
        self.store.executed_ops
    }

    /// What the JIT tiers compiled so far for this instance, per tier (zero
    /// under the interpreter).
    pub fn compile_stats(&self) -> TierStats {
        self.jit.as_ref().map(JitRuntime::stats).unwrap_or_default()
    }

    /// The tier function `name` runs in now: [`Tier::Interp`] under the
    /// interpreter, `None` when it has not been compiled yet.
    pub fn tier_of(&self, name: &str) -> Result<Option<Tier>> {
        let idx = self.func_index(name)?;
        Ok(self.tier_at(idx))
    }

    /// [`Instance::tier_of`] by index.
    fn tier_at(&self, idx: usize) -> Option<Tier> {
        match self.jit.as_ref().map(|rt| rt.tier_of(idx)) {
            None => Some(Tier::Interp),
            Some(Some(FuncTier::Template)) => Some(Tier::Template),
            Some(Some(FuncTier::Cranelift)) => Some(Tier::Cranelift),
            Some(_) => None,
        }
    }

    /// Compile function `name` in `tier` (template or Cranelift) now, so
    /// that its next call runs there, whatever tier the engine starts
    /// functions in. Calls between tiers go through the function table.
    /// Fails under the interpreter.
    pub fn compile_function(&mut self, name: &str, tier: Tier) -> Result<()> {
        let idx = self.func_index(name)?;
        let func_tier = match tier {
            Tier::Template => FuncTier::Template,
            Tier::Cranelift => FuncTier::Cranelift,
            _ => {
                return Err(Error::Call(format!(
                    "functions can be compiled in the template or cranelift tier, not `{tier}`"
                )));
            }
        };
        let Some(rt) = &mut self.jit else {
            return Err(Error::Call(
                "this instance runs the interpreter: it compiles nothing".into(),
            ));
        };
        rt.compile(idx, func_tier).map(|_| ())?;
        Ok(())
    }

    /// Move function `name` to the Cranelift tier now (with loop-header
    /// entries, so running template activations can continue in it), and
    /// return once it is installed: its next call runs there. Fails under
    /// the interpreter.
    pub fn tier_up(&mut self, name: &str) -> Result<()> {
        let idx = self.func_index(name)?;
        let Some(rt) = &mut self.jit else {
            return Err(Error::Call(
                "this instance runs the interpreter: it compiles nothing".into(),
            ));
        };
        rt.tier_up(idx)?;
        Ok(())
    }

    /// What is known of function `name`: its tier, calls counted in the
    /// template tier, compile times and code sizes per tier, when it tiered
    /// up, and how often a running loop moved to Cranelift.
    pub fn function_stats(&self, name: &str) -> Result<FunctionStats> {
        let idx = self.func_index(name)?;
        Ok(self.function_stats_at(idx))
    }

    /// [`Instance::function_stats`] of every function, in module order.
    pub fn all_function_stats(&self) -> Vec<FunctionStats> {
        (0..self.module.bytecode().functions.len())
            .map(|idx| self.function_stats_at(idx))
            .collect()
    }

    fn function_stats_at(&self, idx: usize) -> FunctionStats {
        let name = self.module.bytecode().functions[idx].name.clone();
        let Some(rt) = &self.jit else {
            return FunctionStats {
                name,
                tier: Some(Tier::Interp),
                ..FunctionStats::default()
            };
        };
        let rec = rt.record(idx).unwrap_or_default();
        FunctionStats {
            name,
            tier: self.tier_at(idx),
            template_calls: rt.counted_calls(idx),
            template: rec.template,
            cranelift: rec.cranelift,
            tiered_up_at: rec.tiered_up_at,
            osr_compiles: rec.osr_compiles,
            osr_entries: rec.osr_entries,
        }
    }

    /// Bytes the heap holds now.
    pub fn heap_bytes(&self) -> usize {
        self.store.heap.bytes()
    }

    /// Call function `name`. Missing trailing i64 arguments take the
    /// parameters' declared defaults.
    pub fn call(&mut self, name: &str, args: &[Value]) -> Result<Option<Value>> {
        let idx = self.func_index(name)?;
        self.call_index(idx, args)
    }

    /// The index of function `name`.
    pub fn func_index(&self, name: &str) -> Result<usize> {
        self.module
            .bytecode()
            .function_index(name)
            .ok_or_else(|| Error::Call(format!("no function named `{name}`")))
    }

    /// Call function number `idx`.
    pub fn call_index(&mut self, idx: usize, args: &[Value]) -> Result<Option<Value>> {
        self.enter(idx, args)?;
        let code = self.module.bytecode();
        let layouts = &self.module.inner.layouts;
        let result = match &mut self.jit {
            Some(rt) => rt.run(&mut self.store, idx).map_err(Error::from),
            None => interp::run(code, layouts, &mut self.store, idx).map_err(Error::from),
        };
        self.leave(idx, result)
    }

    /// Call `name` in the interpreter until its own activation jumps back to
    /// loop header `header` for the `nth` time, then continue from that
    /// frame in the Cranelift tier, entered at the header with every
    /// register taken from the frame (on-stack replacement; nothing is
    /// translated). Returns the result and whether the switch happened
    /// (`false` when the call returned first). For tests and experiments;
    /// fails under the interpreter.
    pub fn call_with_osr(
        &mut self,
        name: &str,
        args: &[Value],
        header: u32,
        nth: u64,
    ) -> Result<(Option<Value>, bool)> {
        let idx = self.func_index(name)?;
        if self.jit.is_none() {
            return Err(Error::Call(
                "this instance runs the interpreter: it has no Cranelift tier".into(),
            ));
        }
        let module = self.module.clone();
        let code = module.bytecode();
        if !crate::bytecode::loop_headers(&code.functions[idx].code).contains(&header) {
            return Err(Error::Call(format!(
                "op {header} of `{name}` is not a loop header"
            )));
        }
        self.enter(idx, args)?;
        let layouts = module.layouts();
        let paused =
            interp::run_until_loop_header(code, layouts, &mut self.store, idx, header, nth);
        let (result, switched) = match (paused, &mut self.jit) {
            (Ok(true), Some(rt)) => (
                rt.run_at_loop_header(&mut self.store, idx, header)
                    .map_err(Error::from),
                true,
            ),
            (other, _) => (other.map(|_| ()).map_err(Error::from), false),
        };
        Ok((self.leave(idx, result)?, switched))
    }

    /// Check a call's arguments and put them into the entry frame.
    fn enter(&mut self, idx: usize, args: &[Value]) -> Result<()> {
        let code = self.module.bytecode();
        let func = code
            .functions
            .get(idx)
            .ok_or_else(|| Error::Call(format!("no function with index {idx}")))?;
        let layout = self.module.inner.layouts[idx];
        if args.len() > func.sig.params.len() {
            return Err(Error::Call(format!(
                "`{}` takes {} arguments, got {}",
                func.name,
                func.sig.params.len(),
                args.len()
            )));
        }
        let cap = self.store.stacks.capacity();
        if (0..3).any(|b| layout.regs[b] as usize > cap[b]) {
            return Err(Error::Trap(crate::runtime::trap::Trap {
                kind: TrapKind::StackOverflow,
                func: idx as u32,
                func_name: func.name.clone(),
                pc: 0,
                detail: None,
            }));
        }
        let mut next = [0usize; 3];
        for (j, &bank) in func.sig.params.iter().enumerate() {
            let v = match args.get(j) {
                Some(v) => *v,
                None => match func.param_default(j) {
                    Some(d) => Value::I(d),
                    None => {
                        return Err(Error::Call(format!(
                            "`{}` takes {} arguments, got {} (parameter {j} has no default)",
                            func.name,
                            func.sig.params.len(),
                            args.len()
                        )));
                    }
                },
            };
            if v.bank() != bank {
                return Err(Error::Call(format!(
                    "argument {j} of `{}` must be of bank {bank}, got {v}",
                    func.name
                )));
            }
            if let Value::R(r) = v
                && !r.is_null()
            {
                return Err(Error::Call(
                    "only null references can be passed into a call".into(),
                ));
            }
            let k = next[bank.index()];
            next[bank.index()] += 1;
            match v {
                Value::I(x) => self.store.stacks.i[k] = x,
                Value::F(x) => self.store.stacks.f[k] = x,
                Value::R(r) => self.store.stacks.r[k] = r.0,
            }
        }
        Ok(())
    }

    /// Flush the output and turn a finished call into its result.
    fn leave(&mut self, idx: usize, result: Result<()>) -> Result<Option<Value>> {
        let func = &self.module.bytecode().functions[idx];
        let _ = self.store.out.flush();
        if let Err(e) = result {
            // The instance stays usable: nothing of the dead call is live.
            self.store.interrupt.store(false, Ordering::Relaxed);
            return Err(e);
        }
        Ok(func.sig.result.map(|b| match b {
            Bank::I => Value::I(self.store.stacks.i[0]),
            Bank::F => Value::F(self.store.stacks.f[0]),
            Bank::R => Value::R(crate::runtime::value::Ref(self.store.stacks.r[0])),
        }))
    }

    /// A typed handle to function `name`, checked against `P` and `R`.
    pub fn typed_func<P: Params, R: Results>(&self, name: &str) -> Result<TypedFunc<P, R>> {
        let idx = self.func_index(name)?;
        let sig = &self.module.bytecode().functions[idx].sig;
        if sig.params != P::banks() || sig.result != R::bank() {
            return Err(Error::Call(format!(
                "`{name}` has signature {sig}, not {}",
                Signature::new(P::banks(), R::bank())
            )));
        }
        Ok(TypedFunc {
            idx,
            _marker: std::marker::PhantomData,
        })
    }
}

/// A function handle whose parameter and result types were checked once.
pub struct TypedFunc<P, R> {
    idx: usize,
    _marker: std::marker::PhantomData<fn(P) -> R>,
}

impl<P: Params, R: Results> TypedFunc<P, R> {
    /// Call it.
    pub fn call(&self, instance: &mut Instance, params: P) -> Result<R> {
        let out = instance.call_index(self.idx, &params.into_values())?;
        R::from_value(out)
    }
}

/// A Rust type that is one bytecode value.
pub trait ValType: Copy {
    /// Its bank.
    const BANK: Bank;
    /// As a [`Value`].
    fn into_value(self) -> Value;
    /// From a [`Value`] of its bank.
    fn from_value(v: Value) -> Option<Self>;
}

impl ValType for i64 {
    const BANK: Bank = Bank::I;
    fn into_value(self) -> Value {
        Value::I(self)
    }
    fn from_value(v: Value) -> Option<i64> {
        if let Value::I(x) = v { Some(x) } else { None }
    }
}

impl ValType for f64 {
    const BANK: Bank = Bank::F;
    fn into_value(self) -> Value {
        Value::F(self)
    }
    fn from_value(v: Value) -> Option<f64> {
        if let Value::F(x) = v { Some(x) } else { None }
    }
}

/// Parameter lists of typed calls: tuples of [`ValType`]s.
pub trait Params {
    /// The parameter banks.
    fn banks() -> Vec<Bank>;
    /// The values.
    fn into_values(self) -> Vec<Value>;
}

/// Results of typed calls: `()` or one [`ValType`].
pub trait Results: Sized {
    /// The result bank.
    fn bank() -> Option<Bank>;
    /// From the call's result.
    fn from_value(v: Option<Value>) -> Result<Self>;
}

impl Results for () {
    fn bank() -> Option<Bank> {
        None
    }
    fn from_value(_: Option<Value>) -> Result<()> {
        Ok(())
    }
}

impl<T: ValType> Results for T {
    fn bank() -> Option<Bank> {
        Some(T::BANK)
    }
    fn from_value(v: Option<Value>) -> Result<T> {
        v.and_then(T::from_value)
            .ok_or_else(|| Error::Call("result of the wrong bank".into()))
    }
}

macro_rules! impl_params {
    ($($t:ident),*) => {
        impl<$($t: ValType),*> Params for ($($t,)*) {
            fn banks() -> Vec<Bank> {
                vec![$($t::BANK),*]
            }
            #[allow(non_snake_case)]
            fn into_values(self) -> Vec<Value> {
                let ($($t,)*) = self;
                vec![$($t.into_value()),*]
            }
        }
    };
}

impl_params!();
impl_params!(A);
impl_params!(A, B);
impl_params!(A, B, C);
impl_params!(A, B, C, D);
impl_params!(A, B, C, D, E);
impl_params!(A, B, C, D, E, G);
