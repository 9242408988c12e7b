//! The per-instance orchestrator of the compiled tiers: the function table,
//! the context, the code of both tiers, compilation of one function in
//! either tier, and (under `auto`) the tiering manager's state.

use super::compiler_thread::CompilerThread;
use super::install::{install_cranelift, install_template};
use super::ledger::{Compilation, FuncRecord, Ledger, Records, TierStats, lock, record};
use super::osr::{OsrTable, lock_osr};
use super::policy::{SPENT_BUDGET, TieringPolicy};
use crate::bytecode::{Module, loop_headers};
use crate::cranelift_tier::{self, CraneliftSettings, EntryPoint};
use crate::runtime::call_profile::CallProfiles;
use crate::runtime::code_memory::CodeMemory;
use crate::runtime::compile_error::{CompileError, CompileFailure};
use crate::runtime::context::{FuncEntry, FuncTier, VmContext};
use crate::runtime::frame::FrameLayout;
use crate::runtime::helpers::HelperAddrs;
use crate::runtime::native_stack::NativeStack;
use crate::template::{HostMasm, emit};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Per-instance state of the compiled tiers: the function table, the
/// context, the code of both tiers and, under `auto`, the tiering manager.
pub struct JitRuntime {
    /// The verified module and its frame layouts (shared with the compiler
    /// thread).
    pub(super) code: Arc<Module>,
    pub(super) layouts: Arc<[FrameLayout]>,
    /// The template compiler, its buffers reused from function to function.
    template: emit::Compiler<HostMasm>,
    template_code: CodeMemory,
    /// The foreground Cranelift compiler (forced tier, `compile`, synchronous
    /// tier-up), made at first use.
    cranelift: Option<cranelift_tier::Compiler>,
    /// The code the foreground Cranelift compiler made.
    cranelift_code: CodeMemory,
    pub(super) cranelift_settings: CraneliftSettings,
    /// The tier a function is compiled in at its first call.
    first_tier: FuncTier,
    /// Counters and tier-up, when this runtime tiers (`auto`).
    pub(super) tiering: Option<Tiering>,
    pub(super) table: Arc<[FuncEntry]>,
    /// Versions entered at a loop header, shared with the compiler thread.
    pub(super) osr: OsrTable,
    pub(super) ctx: Box<VmContext>,
    /// The native stack compiled code runs on, made at the first call.
    pub(super) stack: Option<NativeStack>,
    pub(super) records: Records,
    /// When the runtime was made: tier-up times are relative to it.
    pub(super) started: Instant,
    /// What indirect call sites have called, under tiering: template code
    /// records it, Cranelift reads it.
    pub(super) profiles: Option<Arc<CallProfiles>>,
}

/// The tiering manager's part of a runtime.
pub(super) struct Tiering {
    pub(super) policy: TieringPolicy,
    /// The background compiler, started at the first request.
    pub(super) thread: Option<CompilerThread>,
}

// SAFETY: the raw pointers in the context point into this runtime and the
// instance's store, which move with the instance; the compiler thread only
// shares the function table (atomics) and the ledger (a mutex).
unsafe impl Send for JitRuntime {}

/// How a runtime compiles.
#[derive(Clone, Copy, Debug)]
pub struct JitOptions {
    /// The tier a function is compiled in at its first call.
    pub first_tier: FuncTier,
    /// Cranelift's settings.
    pub cranelift: CraneliftSettings,
    /// Tier up hot functions (template code then counts calls and loops).
    pub tiering: Option<TieringPolicy>,
}

impl JitRuntime {
    /// State for `module` (verified, with its frame layouts); nothing is
    /// compiled yet.
    pub fn new(
        module: Arc<Module>,
        layouts: Arc<[FrameLayout]>,
        options: JitOptions,
    ) -> JitRuntime {
        let functions = module.functions.len();
        let table: Arc<[FuncEntry]> = (0..functions).map(|_| FuncEntry::new()).collect();
        if let Some(p) = options.tiering {
            for e in table.iter() {
                e.call_budget
                    .store(TieringPolicy::budget(p.hot_calls), Ordering::Relaxed);
                e.loop_budget
                    .store(TieringPolicy::budget(p.hot_loops), Ordering::Relaxed);
            }
        }
        let records = Arc::new(Mutex::new(Ledger {
            funcs: vec![FuncRecord::default(); functions],
            totals: TierStats::default(),
        }));
        // Template code with counters records indirect call sites'
        // callees; Cranelift reads them.
        let profiles = options
            .tiering
            .is_some()
            .then(|| Arc::new(CallProfiles::new(&module)));
        let mut template = emit::Compiler::new(HostMasm::new());
        template.set_call_profiles(profiles.clone());
        JitRuntime {
            layouts,
            template,
            template_code: CodeMemory::new(),
            cranelift: None,
            cranelift_code: CodeMemory::new(),
            cranelift_settings: options.cranelift,
            first_tier: options.first_tier,
            tiering: options.tiering.map(|policy| Tiering {
                policy,
                thread: None,
            }),
            table,
            osr: OsrTable::default(),
            ctx: Box::new(VmContext::empty()),
            stack: None,
            records,
            started: Instant::now(),
            profiles,
            code: module,
        }
    }

    /// Compilation statistics so far, per tier.
    pub fn stats(&self) -> TierStats {
        lock(&self.records).totals
    }

    /// What is known of function `func`'s compilations.
    pub fn record(&self, func: usize) -> Option<FuncRecord> {
        lock(&self.records).funcs.get(func).copied()
    }

    /// Calls of `func` counted by its template code (with counters), if it
    /// counts.
    pub fn counted_calls(&self, func: usize) -> Option<u64> {
        let t = self.tiering.as_ref()?;
        let left = self.table.get(func)?.call_budget.load(Ordering::Relaxed);
        let start = TieringPolicy::budget(t.policy.hot_calls);
        Some(if left > start {
            // Tripped: the budget was spent, then set to SPENT_BUDGET.
            (start + 1) as u64 + (SPENT_BUDGET - left) as u64
        } else {
            (start - left) as u64
        })
    }

    /// The tier `func` runs in now.
    pub fn tier_of(&self, func: usize) -> Option<FuncTier> {
        Some(self.table.get(func)?.tier())
    }

    /// Whether `func` has been compiled.
    pub fn is_compiled(&self, func: usize) -> bool {
        self.table
            .get(func)
            .is_some_and(|e| e.code.load(Ordering::Acquire) != 0)
    }

    /// A compile error for `func` in `tier`.
    pub(super) fn error(
        &self,
        func: usize,
        tier: FuncTier,
        failure: CompileFailure,
    ) -> CompileError {
        CompileError::in_module(&self.code, func, tier, failure)
    }

    /// The entry address of `func`, compiling it first if needed.
    pub fn ensure_compiled(&mut self, func: usize) -> Result<usize, CompileError> {
        let Some(entry) = self.table.get(func) else {
            return Err(self.error(func, self.first_tier, CompileFailure::NoSuchFunction(func)));
        };
        let addr = entry.code.load(Ordering::Acquire);
        if addr != 0 {
            return Ok(addr);
        }
        self.compile(func, self.first_tier)
    }

    /// Compile `func` in `tier` now and install it in the function table;
    /// returns its entry address. Activations of an older version finish in
    /// it; the next call runs the new one.
    pub fn compile(&mut self, func: usize, tier: FuncTier) -> Result<usize, CompileError> {
        let tier = match tier {
            FuncTier::Cranelift => FuncTier::Cranelift,
            _ => FuncTier::Template,
        };
        self.compile_in(func, tier)
            .map_err(|failure| self.error(func, tier, failure))
    }

    fn compile_in(&mut self, func: usize, tier: FuncTier) -> Result<usize, CompileFailure> {
        let (code, layouts) = (self.code.clone(), self.layouts.clone());
        let (module, layouts) = (&*code, &*layouts);
        let ops = module
            .functions
            .get(func)
            .ok_or(CompileFailure::NoSuchFunction(func))?
            .code
            .len();
        let start = Instant::now();
        let table = self.table.clone();
        let entry = &table[func];
        let (addr, code_bytes) = if tier == FuncTier::Cranelift {
            let c = self.compile_cranelift(module, layouts, func, EntryPoint::Start)?;
            install_cranelift(entry, c.addr());
            (c.addr(), c.code.len)
        } else {
            let counters = self.tiering.is_some();
            let code =
                self.template
                    .compile(&HelperAddrs::native(), module, layouts, func, counters)?;
            let published = self
                .template_code
                .publish(code)
                .map_err(|e| CompileFailure::CodeMemory(e.to_string()))?;
            let addr = published.ptr as usize;
            install_template(entry, addr);
            (addr, code.len())
        };
        let c = Compilation {
            func,
            ops,
            tier,
            osr: false,
            took: start.elapsed(),
            code_bytes,
        };
        record(&self.records, c, self.started);
        Ok(addr)
    }

    /// The Cranelift version of `func` entered at loop header `header`,
    /// compiled now if there is none yet; returns its address.
    pub fn compile_loop_entry(&mut self, func: usize, header: u32) -> Result<usize, CompileError> {
        self.compile_loop_entry_in(func, header)
            .map_err(|failure| self.error(func, FuncTier::Cranelift, failure))
    }

    fn compile_loop_entry_in(&mut self, func: usize, header: u32) -> Result<usize, CompileFailure> {
        let (source, layouts) = (self.code.clone(), self.layouts.clone());
        let (module, layouts) = (&*source, &*layouts);
        let code = &module
            .functions
            .get(func)
            .ok_or(CompileFailure::NoSuchFunction(func))?
            .code;
        if !loop_headers(code).contains(&header) {
            return Err(CompileFailure::NotLoopHeader(header));
        }
        if let Some(&addr) = lock_osr(&self.osr).get(&(func, header))
            && addr != 0
        {
            return Ok(addr);
        }
        let start = Instant::now();
        let c = self.compile_cranelift(module, layouts, func, EntryPoint::LoopHeader(header))?;
        lock_osr(&self.osr).insert((func, header), c.addr());
        let done = Compilation {
            func,
            ops: code.len(),
            tier: FuncTier::Cranelift,
            osr: true,
            took: start.elapsed(),
            code_bytes: c.code.len,
        };
        record(&self.records, done, self.started);
        Ok(c.addr())
    }

    /// Compile `func` at `entry` with the foreground Cranelift compiler
    /// (made at first use) into this runtime's Cranelift code memory.
    fn compile_cranelift(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        func: usize,
        entry: EntryPoint,
    ) -> Result<cranelift_tier::Compiled, CompileFailure> {
        let compiler = match &mut self.cranelift {
            Some(c) => c,
            slot @ None => slot.insert(cranelift_tier::Compiler::new(self.cranelift_settings)?),
        };
        compiler.compile_into(
            &mut self.cranelift_code,
            module,
            layouts,
            &HelperAddrs::native(),
            self.profiles.as_deref(),
            func,
            entry,
        )
    }

    /// Move `func` to the Cranelift tier now and return once it is
    /// installed.
    pub fn tier_up(&mut self, func: usize) -> Result<(), CompileError> {
        self.compile(func, FuncTier::Cranelift).map(|_| ())
    }
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;

    fn runtime(src: &str) -> JitRuntime {
        let module = crate::bytecode::text::parse(src).expect("parses");
        crate::bytecode::verify::verify(&module).expect("verifies");
        let layouts: Arc<[FrameLayout]> = FrameLayout::all(&module).into();
        let options = JitOptions {
            first_tier: FuncTier::Template,
            cranelift: CraneliftSettings::default(),
            tiering: None,
        };
        JitRuntime::new(Arc::new(module), layouts, options)
    }

    #[test]
    fn failed_compiles_say_which_function_tier_and_why() {
        let mut rt =
            runtime("func f(i) -> i\ntop:\n  subi i0, i0, 1\n  jgti i0, 0, top\n  reti i0\nend\n");
        let e = rt
            .compile_loop_entry(0, 2)
            .expect_err("op 2 is no loop header");
        assert_eq!(e.failure, CompileFailure::NotLoopHeader(2));
        assert_eq!(
            (e.func, e.func_name.as_str(), e.tier),
            (0, "f", FuncTier::Cranelift)
        );
        assert_eq!(
            e.to_string(),
            "cannot compile function `f` in the Cranelift tier: op 2 is not a loop header"
        );
        let e = rt
            .compile(7, FuncTier::Template)
            .expect_err("no function 7");
        assert_eq!(e.failure, CompileFailure::NoSuchFunction(7));
        assert_eq!(e.func_name, "");
        // And the real header compiles.
        assert!(rt.compile_loop_entry(0, 0).is_ok());
        assert!(
            !rt.is_compiled(0),
            "an OSR version is not the function's entry"
        );
    }
}
