//! A module's compiled code, shared by all its instances on any thread: the
//! function table (entry addresses and the tier-up counters, which so count
//! over every instance), the loop-header versions, the template compiler,
//! the call profiles and the compilation records. An instance adds only its
//! state ([`super::JitRuntime`]).

use super::code_cache::{CodeCache, VersionCode, lock};
use super::events;
use super::install::{install_cranelift, install_template};
use super::ledger::{Compilation, FuncRecord, Ledger, TierStats, record};
use super::policy::{SPENT_BUDGET, TieringPolicy};
use super::pool::Request;
use crate::bytecode::{Module, loop_headers};
use crate::cranelift_tier::{self, EntryPoint};
use crate::runtime::call_profile::CallProfiles;
use crate::runtime::code_info::{CodeKind, CodeVersion, ModuleSource};
use crate::runtime::code_memory::CodeRef;
use crate::runtime::compile_error::{CompileError, CompileFailure};
use crate::runtime::context::{FuncEntry, FuncTier};
use crate::runtime::frame::FrameLayout;
use crate::runtime::helpers::HelperAddrs;
use crate::template::{HostMasm, emit};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

/// How a module's code is compiled.
#[derive(Clone, Copy, Debug)]
pub struct JitOptions {
    /// The tier a function is compiled in at its first call.
    pub first_tier: FuncTier,
    /// Tier up hot functions (template code then counts calls and loops).
    pub tiering: Option<TieringPolicy>,
}

/// A loop-header version's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LoopEntry {
    /// Queued or compiling.
    Pending,
    /// Compiled: its address.
    Ready(usize),
    /// Not to be compiled (refused, failed or evicted): the loop stays in
    /// template code.
    Never,
}

/// The compiled code of one module, shared by its instances.
pub struct ModuleCode {
    id: u64,
    me: Weak<ModuleCode>,
    pub(super) code: Arc<Module>,
    /// Its name and file, for profilers and debuggers.
    source: ModuleSource,
    pub(super) layouts: Arc<[FrameLayout]>,
    pub(super) cache: Arc<CodeCache>,
    pub(super) options: JitOptions,
    /// One entry per function: every instance's compiled code calls
    /// through it.
    pub(super) table: Box<[FuncEntry]>,
    /// Times each function's Cranelift version was evicted: its next
    /// tier-up waits longer.
    evicted: Box<[AtomicU32]>,
    pub(super) loops: Mutex<HashMap<(usize, u32), LoopEntry>>,
    pub(super) records: Mutex<Ledger>,
    /// What indirect call sites have called, under tiering: template code
    /// records it, Cranelift reads it.
    pub(super) profiles: Option<Arc<CallProfiles>>,
    template: Mutex<emit::Compiler<HostMasm>>,
    /// Instances alive: when the last goes, queued compiles are dropped.
    instances: AtomicUsize,
    pub(super) started: Instant,
}

impl Drop for ModuleCode {
    fn drop(&mut self) {
        self.cache.release_module(self.id);
    }
}

impl ModuleCode {
    /// The code of `module` (verified, with its frame layouts, read from
    /// `source`) in `cache`; nothing is compiled yet.
    pub fn new(
        module: Arc<Module>,
        source: ModuleSource,
        layouts: Arc<[FrameLayout]>,
        cache: Arc<CodeCache>,
        options: JitOptions,
    ) -> Arc<ModuleCode> {
        let functions = module.functions.len();
        let table: Box<[FuncEntry]> = (0..functions).map(|_| FuncEntry::new()).collect();
        if let Some(p) = options.tiering {
            for e in table.iter() {
                e.call_budget
                    .store(TieringPolicy::budget(p.hot_calls), Ordering::Relaxed);
                e.loop_budget
                    .store(TieringPolicy::budget(p.hot_loops), Ordering::Relaxed);
            }
        }
        // Template code with counters records indirect call sites'
        // callees; Cranelift reads them.
        let profiles = options
            .tiering
            .is_some()
            .then(|| Arc::new(CallProfiles::new(&module)));
        let mut template = emit::Compiler::new(HostMasm::new());
        template.set_call_profiles(profiles.clone());
        let id = cache.module_id();
        Arc::new_cyclic(|me| ModuleCode {
            id,
            me: me.clone(),
            source,
            layouts,
            cache,
            options,
            table,
            evicted: (0..functions).map(|_| AtomicU32::new(0)).collect(),
            loops: Mutex::new(HashMap::new()),
            records: Mutex::new(Ledger {
                funcs: vec![FuncRecord::default(); functions],
                ..Ledger::default()
            }),
            profiles,
            template: Mutex::new(template),
            instances: AtomicUsize::new(0),
            started: Instant::now(),
            code: module,
        })
    }

    /// Its id in the engine's code cache.
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// Version `kind` of `func`, published as `code`, as observers are
    /// told of it.
    pub(super) fn code_version<'a>(
        &'a self,
        func: usize,
        kind: CodeKind,
        code: CodeRef,
        version: VersionCode<'a>,
    ) -> CodeVersion<'a> {
        let f = self.code.functions.get(func);
        CodeVersion {
            module_name: &self.source.name,
            source_path: self.source.path.as_deref(),
            func: func as u32,
            func_name: f.map_or("", |f| &f.name),
            kind,
            addr: code.ptr as usize,
            len: code.len,
            ops: version.ops,
            lines: f.map_or(&[], |f| &f.lines),
            stubs_offset: version.stubs_offset,
            unwind: version.unwind,
        }
    }

    /// A weak handle to itself.
    pub(super) fn weak(&self) -> Weak<ModuleCode> {
        self.me.clone()
    }

    /// An instance was made.
    pub(super) fn instance_made(&self) {
        self.instances.fetch_add(1, Ordering::AcqRel);
    }

    /// An instance went; the last one drops the module's queued compiles.
    pub(super) fn instance_dropped(&self) {
        if self.instances.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.cache
                .pool()
                .cancel_module(self.id, |r| self.cancelled(r));
        }
    }

    /// Instances alive now.
    pub fn instances(&self) -> usize {
        self.instances.load(Ordering::Acquire)
    }

    /// A queued request was dropped: it may be asked for again.
    fn cancelled(&self, request: Request) {
        events::cancelled(self, request);
        match request {
            Request::Function(f) => {
                if let Some(e) = self.table.get(f) {
                    e.queued.store(0, Ordering::Release);
                    if let Some(p) = self.options.tiering {
                        e.call_budget
                            .store(TieringPolicy::budget(p.hot_calls), Ordering::Relaxed);
                    }
                }
            }
            Request::Loop(f, h) => {
                lock(&self.loops).remove(&(f, h));
            }
        }
    }

    /// Calls of `func` counted since its compile was queued (the heat the
    /// compiler pool orders by).
    pub(super) fn calls_since_queued(&self, func: usize) -> u64 {
        self.table.get(func).map_or(0, |e| {
            let left = e.call_budget.load(Ordering::Relaxed);
            SPENT_BUDGET.saturating_sub(left).max(0) as u64
        })
    }

    /// Compilation statistics so far, per tier, over every instance.
    pub fn stats(&self) -> TierStats {
        lock(&self.records).totals
    }

    /// What is known of function `func`'s compilations.
    pub fn record(&self, func: usize) -> Option<FuncRecord> {
        lock(&self.records).funcs.get(func).copied()
    }

    /// Why the Cranelift tier refused `func`, if it did.
    pub fn refusal(&self, func: usize) -> Option<String> {
        lock(&self.records).refusals.get(&func).cloned()
    }

    /// Calls of `func` counted by its template code (with counters), over
    /// every instance, if it counts.
    pub fn counted_calls(&self, func: usize) -> Option<u64> {
        let p = self.options.tiering?;
        let left = self.table.get(func)?.call_budget.load(Ordering::Relaxed);
        let start = TieringPolicy::budget(p.hot_calls);
        Some(if left > start {
            // Tripped: the budget was spent, then set to SPENT_BUDGET.
            (start + 1) as u64 + (SPENT_BUDGET - left).max(0) as u64
        } else {
            (start - left).max(0) as u64
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

    /// The entry address of `func`, compiling it first if needed (in the
    /// first tier; in the template tier when Cranelift refuses it).
    pub fn ensure_compiled(&self, func: usize) -> Result<usize, CompileError> {
        let first = self.options.first_tier;
        let Some(entry) = self.table.get(func) else {
            return Err(self.error(func, first, CompileFailure::NoSuchFunction(func)));
        };
        let addr = entry.code.load(Ordering::Acquire);
        if addr != 0 {
            return Ok(addr);
        }
        match self.compile_in(func, first, false) {
            Ok(addr) => Ok(addr),
            Err(failure) if first == FuncTier::Cranelift && refused(&failure) => {
                // A function must run somewhere: the template tier never
                // refuses.
                self.note_refusal(func, &failure);
                self.compile_in(func, FuncTier::Template, false)
                    .map_err(|f| self.error(func, FuncTier::Template, f))
            }
            Err(failure) => Err(self.error(func, first, failure)),
        }
    }

    /// Compile `func` in `tier` now and install it; returns its entry
    /// address. Activations of an older version finish in it; the next call
    /// runs the new one.
    pub fn compile(&self, func: usize, tier: FuncTier) -> Result<usize, CompileError> {
        let tier = match tier {
            FuncTier::Cranelift => FuncTier::Cranelift,
            _ => FuncTier::Template,
        };
        self.compile_in(func, tier, true).map_err(|failure| {
            if refused(&failure) {
                self.note_refusal(func, &failure);
            }
            self.error(func, tier, failure)
        })
    }

    /// Compile `func` in `tier`: again when `again`, else only if no call
    /// compiled it meanwhile.
    fn compile_in(
        &self,
        func: usize,
        tier: FuncTier,
        again: bool,
    ) -> Result<usize, CompileFailure> {
        if tier == FuncTier::Cranelift {
            self.compile_whole_cranelift(None, func)
        } else {
            self.compile_template(func, again)
        }
    }

    /// Compile `func` in the template tier and install it (unless a racing
    /// call did and `again` is false).
    fn compile_template(&self, func: usize, again: bool) -> Result<usize, CompileFailure> {
        let entry = self
            .table
            .get(func)
            .ok_or(CompileFailure::NoSuchFunction(func))?;
        let start = Instant::now();
        // One template compile at a time per module: the compiler's buffers
        // are reused, and a racing first call finds the code.
        let mut template = lock(&self.template);
        let current = entry.code.load(Ordering::Acquire);
        if current != 0 && !again {
            return Ok(current);
        }
        let counters = self.options.tiering.is_some();
        let compiled = template.compile_with_offsets(
            &HelperAddrs::native(),
            &self.code,
            &self.layouts,
            func,
            counters,
        )?;
        let code = compiled.code;
        events::compiled(self, func, CodeKind::Template, start, code.len());
        let version = VersionCode {
            code,
            ops: compiled.ops,
            stubs_offset: Some(compiled.stubs_offset),
            unwind: crate::template::frame_unwind(),
        };
        let addr = self
            .cache
            .install(self, func, CodeKind::Template, version, |a| {
                install_template(entry, a)
            })?;
        self.note_compiled(func, FuncTier::Template, false, start, code.len());
        Ok(addr)
    }

    /// Compile `func` entered at its start in Cranelift (with `compiler`, or
    /// one of the cache's) and install it.
    fn compile_whole_cranelift(
        &self,
        compiler: Option<&mut cranelift_tier::Compiler>,
        func: usize,
    ) -> Result<usize, CompileFailure> {
        let entry = self
            .table
            .get(func)
            .ok_or(CompileFailure::NoSuchFunction(func))?;
        let start = Instant::now();
        let c = match compiler {
            Some(c) => self.compile_cranelift(c, func, EntryPoint::Start),
            None => self
                .cache
                .with_compiler(|c| self.compile_cranelift(c, func, EntryPoint::Start)),
        }?;
        events::compiled(self, func, CodeKind::Cranelift, start, c.code.len());
        let addr = self
            .cache
            .install(self, func, CodeKind::Cranelift, c.version(), |a| {
                install_cranelift(entry, a)
            })?;
        self.note_compiled(func, FuncTier::Cranelift, false, start, c.code.len());
        Ok(addr)
    }

    /// Record a compile of `func` in `tier` (a loop-header version when
    /// `osr`) that began at `start` and made `code_bytes` of code.
    fn note_compiled(
        &self,
        func: usize,
        tier: FuncTier,
        osr: bool,
        start: Instant,
        code_bytes: usize,
    ) {
        let c = Compilation {
            func,
            ops: self.code.functions.get(func).map_or(0, |f| f.code.len()),
            tier,
            osr,
            took: start.elapsed(),
            code_bytes,
        };
        record(&mut lock(&self.records), c, self.started);
    }

    /// Compile `func` for `entry` with `compiler`, within the budget.
    fn compile_cranelift(
        &self,
        compiler: &mut cranelift_tier::Compiler,
        func: usize,
        entry: EntryPoint,
    ) -> Result<cranelift_tier::CompiledCode, CompileFailure> {
        let compiled = compiler.compile_code(
            &self.code,
            &self.layouts,
            &HelperAddrs::native(),
            self.profiles.as_deref(),
            func,
            entry,
        );
        if self.code.functions.get(func).map_or(0, |f| f.code.len()) >= BIG_COMPILE_OPS {
            compiler.release_buffers();
            give_back_heap();
        }
        compiled
    }

    /// The Cranelift version of `func` entered at loop header `header`,
    /// compiled now if there is none yet; returns its address.
    pub fn compile_loop_entry(&self, func: usize, header: u32) -> Result<usize, CompileError> {
        self.compile_loop_entry_in(None, func, header)
            .map_err(|failure| {
                if refused(&failure) {
                    self.note_refusal(func, &failure);
                }
                self.error(func, FuncTier::Cranelift, failure)
            })
    }

    /// [`ModuleCode::compile_loop_entry`], with `compiler` or one of the
    /// cache's.
    fn compile_loop_entry_in(
        &self,
        compiler: Option<&mut cranelift_tier::Compiler>,
        func: usize,
        header: u32,
    ) -> Result<usize, CompileFailure> {
        let code = &self
            .code
            .functions
            .get(func)
            .ok_or(CompileFailure::NoSuchFunction(func))?
            .code;
        if !loop_headers(code).contains(&header) {
            return Err(CompileFailure::NotLoopHeader(header));
        }
        if let Some(LoopEntry::Ready(addr)) = lock(&self.loops).get(&(func, header)).copied() {
            return Ok(addr);
        }
        let start = Instant::now();
        let entry = EntryPoint::LoopHeader(header);
        let compiled = match compiler {
            Some(c) => self.compile_cranelift(c, func, entry),
            None => self
                .cache
                .with_compiler(|c| self.compile_cranelift(c, func, entry)),
        };
        let result = compiled.and_then(|c| {
            let kind = CodeKind::LoopEntry { header };
            events::compiled(self, func, kind, start, c.code.len());
            self.cache
                .install(self, func, kind, c.version(), |a| {
                    lock(&self.loops).insert((func, header), LoopEntry::Ready(a));
                })
                .map(|addr| (addr, c.code.len()))
        });
        let (addr, code_bytes) = match result {
            Ok(done) => done,
            Err(e) => {
                lock(&self.loops).insert((func, header), LoopEntry::Never);
                return Err(e);
            }
        };
        self.note_compiled(func, FuncTier::Cranelift, true, start, code_bytes);
        Ok(addr)
    }

    /// Serve a request of the compiler pool with `compiler`. What Cranelift
    /// cannot compile (or refuses) stays in the template tier, noted; the
    /// request stays marked so it is not repeated.
    pub(super) fn compile_request(
        &self,
        compiler: &mut cranelift_tier::Compiler,
        request: Request,
    ) {
        match request {
            Request::Function(func) => {
                if let Err(failure) = self.compile_whole_cranelift(Some(compiler), func) {
                    self.note_refusal(func, &failure);
                }
            }
            Request::Loop(func, header) => {
                if let Err(failure) = self.compile_loop_entry_in(Some(compiler), func, header) {
                    self.note_refusal(func, &failure);
                }
            }
        }
    }

    /// Note why Cranelift did not take `func`.
    fn note_refusal(&self, func: usize, failure: &CompileFailure) {
        events::refused(self, func, failure);
        if matches!(failure, CompileFailure::OverBudget { .. }) {
            self.cache.note_over_budget();
        }
        lock(&self.records)
            .refusals
            .insert(func, failure.to_string());
    }

    /// Version `kind` of `func` was evicted: calls go back to its template
    /// code (`template`, or a compile at the next call), its loop header
    /// stays in template code. Called by the code cache, under its lock.
    pub(super) fn restore(&self, func: usize, kind: CodeKind, template: Option<usize>) {
        match kind {
            CodeKind::Template => {}
            CodeKind::Cranelift => {
                let Some(entry) = self.table.get(func) else {
                    return;
                };
                match template {
                    Some(addr) => install_template(entry, addr),
                    None => {
                        entry.tier.store(FuncTier::None as u32, Ordering::Release);
                        entry.code.store(0, Ordering::Release);
                    }
                }
                // It may tier up again, later each time it is evicted.
                let times = self.evicted[func].fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(p) = self.options.tiering {
                    let later = u64::from(p.hot_calls) << times.min(16);
                    entry.call_budget.store(
                        TieringPolicy::budget(later.min(u64::from(u32::MAX)) as u32),
                        Ordering::Relaxed,
                    );
                    entry.queued.store(0, Ordering::Release);
                }
            }
            CodeKind::LoopEntry { header } => {
                lock(&self.loops).insert((func, header), LoopEntry::Never);
            }
        }
    }

    /// How many times `func`'s whole-function Cranelift version was
    /// evicted.
    pub(super) fn times_evicted(&self, func: usize) -> u32 {
        self.evicted
            .get(func)
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// Evict every Cranelift version of this module (functions go back to
    /// template code); returns how many.
    pub fn evict_cranelift(&self) -> usize {
        self.cache.evict_module(self.id)
    }

    /// Move `func` to the Cranelift tier now and return once it is
    /// installed (at once when it is there already).
    pub fn tier_up(&self, func: usize) -> Result<(), CompileError> {
        if self.tier_of(func) == Some(FuncTier::Cranelift) {
            return Ok(());
        }
        self.compile(func, FuncTier::Cranelift).map(|_| ())
    }

    /// Queue `request` on the engine's compiler pool.
    pub(super) fn submit(&self, request: Request) -> bool {
        match self.me.upgrade() {
            Some(me) => self.cache.pool().submit(&me, request),
            None => false,
        }
    }
}

/// A Cranelift compile of a function of at least this many ops hands the
/// memory it used back to the system: mixed.tj's 3,004-op `all` takes about
/// 200 MB while it compiles, which the compiler's reused buffers and then
/// the allocator would otherwise keep for the rest of the process.
const BIG_COMPILE_OPS: usize = 1000;

/// Return the allocator's free memory to the system (glibc keeps it).
fn give_back_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Whether `failure` is a refusal (budget or cap) rather than an error.
fn refused(failure: &CompileFailure) -> bool {
    matches!(
        failure,
        CompileFailure::OverBudget { .. } | CompileFailure::CodeCap(_)
    )
}

impl cranelift_tier::CompiledCode {
    /// Its code and op offsets, for the code cache.
    fn version(&self) -> VersionCode<'_> {
        VersionCode {
            code: &self.code,
            ops: &self.ops,
            stubs_offset: None,
            unwind: &self.unwind,
        }
    }
}
