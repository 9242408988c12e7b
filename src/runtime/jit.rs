//! The per-instance state that compiled code of either tier runs on (the
//! function table, the context, the native stack, the code of both tiers)
//! and the Rust-side entry into it.

use super::helpers::HelperAddrs;
use crate::bytecode::Module;
use crate::cranelift_tier::EntryPoint;
use crate::cranelift_tier::{self, CraneliftSettings};
use crate::runtime::Store;
use crate::runtime::context::{FuncEntry, FuncTier, NativeEntry, VmContext};
use crate::runtime::frame::{FrameLayout, SLOT_SIZE};
use crate::runtime::native_stack::{NativeStack, call_on_stack};
use crate::runtime::trap::{Trap, TrapKind};
use crate::template::code_memory::CodeMemory;
use crate::template::{HostMasm, emit};
use crate::tiering::{
    self, Compilation, CompilerThread, FuncRecord, Ledger, OsrTable, Records, Request,
    SPENT_BUDGET, TieringPolicy,
};
use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Compilation statistics of one tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileStats {
    /// Functions compiled.
    pub functions: u64,
    /// Bytecode ops compiled.
    pub ops: u64,
    /// Machine-code bytes produced.
    pub code_bytes: u64,
    /// Time spent compiling.
    pub time: Duration,
}

/// Compilation statistics of an instance, per tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TierStats {
    /// The template tier.
    pub template: CompileStats,
    /// The Cranelift tier.
    pub cranelift: CompileStats,
    /// Time the running program spent in the tiering hooks (queueing a
    /// compile; in synchronous mode, compiling), and how many hook calls.
    /// Under background compilation this is what tier-up costs the program.
    pub hook_time: Duration,
    /// Calls of the tiering hooks.
    pub hook_calls: u64,
}

impl TierStats {
    /// Both tiers together.
    pub fn total(&self) -> CompileStats {
        let (t, c) = (self.template, self.cranelift);
        CompileStats {
            functions: t.functions + c.functions,
            ops: t.ops + c.ops,
            code_bytes: t.code_bytes + c.code_bytes,
            time: t.time + c.time,
        }
    }
}

/// Per-instance state of the compiled tiers: the function table, the
/// context, the code of both tiers and, under `auto`, the tiering manager.
pub struct JitRuntime {
    /// The verified module and its frame layouts (shared with the compiler
    /// thread).
    code: Arc<Module>,
    layouts: Arc<[FrameLayout]>,
    /// The template compiler, its buffers reused from function to function.
    template: emit::Compiler<HostMasm>,
    template_code: CodeMemory,
    /// The foreground Cranelift compiler (forced tier, `compile`, synchronous
    /// tier-up), made at first use.
    cranelift: Option<cranelift_tier::Compiler>,
    cranelift_settings: CraneliftSettings,
    /// The tier a function is compiled in at its first call.
    first_tier: FuncTier,
    /// Counters and tier-up, when this runtime tiers (`auto`).
    tiering: Option<Tiering>,
    table: Arc<[FuncEntry]>,
    /// Versions entered at a loop header, shared with the compiler thread.
    osr: OsrTable,
    ctx: Box<VmContext>,
    /// The native stack compiled code runs on, made at the first call.
    stack: Option<NativeStack>,
    records: Records,
    /// When the runtime was made: tier-up times are relative to it.
    started: Instant,
}

/// The tiering manager's part of a runtime.
struct Tiering {
    policy: TieringPolicy,
    /// The background compiler, started at the first request.
    thread: Option<CompilerThread>,
}

// SAFETY: the raw pointers in the context point into this runtime and the
// instance's store, which move with the instance; the compiler thread only
// shares the function table (atomics) and the ledger (a mutex).
unsafe impl Send for JitRuntime {}

/// What the helpers reach through `VmContext::host` during a call.
pub(crate) struct HelperState {
    pub(crate) store: *mut Store,
    runtime: *mut JitRuntime,
    /// The message of a host error or a failed compilation.
    pub(crate) detail: Option<String>,
}

impl HelperState {
    /// The runtime running the call.
    fn runtime(&mut self) -> &mut JitRuntime {
        // SAFETY: the runtime outlives the call (see `run_from`), and no
        // other reference to it is used while a helper runs.
        unsafe { &mut *self.runtime }
    }

    /// The module running.
    pub(crate) fn module(&mut self) -> Arc<Module> {
        self.runtime().code.clone()
    }

    /// Compile `func` if needed and return its entry address.
    pub(crate) fn compile(&mut self, func: usize) -> Result<usize, String> {
        self.runtime().ensure_compiled(func)
    }

    /// `func` is hot: returns the address of a Cranelift version to run
    /// this call in, or 0 to go on in template code.
    pub(crate) fn hot_call(&mut self, func: usize) -> usize {
        let rt = self.runtime();
        let t0 = Instant::now();
        let addr = rt.hot_call(func);
        rt.note_hook(t0);
        addr
    }

    /// A loop of `func` is hot at `header`: returns the address of Cranelift
    /// code to continue in at that header, or 0.
    pub(crate) fn hot_loop(&mut self, func: usize, header: u32) -> usize {
        let rt = self.runtime();
        let t0 = Instant::now();
        let addr = rt.hot_loop(func, header);
        rt.note_hook(t0);
        addr
    }
}

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
        JitRuntime {
            code: module,
            layouts,
            template: emit::Compiler::new(HostMasm::new()),
            template_code: CodeMemory::new(),
            cranelift: None,
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
        }
    }

    /// Account a hook call that started at `t0`.
    fn note_hook(&self, t0: Instant) {
        let mut ledger = tiering::lock(&self.records);
        ledger.totals.hook_time += t0.elapsed();
        ledger.totals.hook_calls += 1;
    }

    /// Compilation statistics so far, per tier.
    pub fn stats(&self) -> TierStats {
        tiering::lock(&self.records).totals
    }

    /// What is known of function `func`'s compilations.
    pub fn record(&self, func: usize) -> Option<FuncRecord> {
        tiering::lock(&self.records).funcs.get(func).copied()
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

    /// The entry address of `func`, compiling it first if needed.
    pub fn ensure_compiled(&mut self, func: usize) -> Result<usize, String> {
        let entry = self
            .table
            .get(func)
            .ok_or_else(|| format!("no function {func}"))?;
        let addr = entry.code.load(Ordering::Acquire);
        if addr != 0 {
            return Ok(addr);
        }
        self.compile(func, self.first_tier)
    }

    /// Compile `func` in `tier` now and install it in the function table;
    /// returns its entry address. Activations of an older version finish in
    /// it; the next call runs the new one.
    pub fn compile(&mut self, func: usize, tier: FuncTier) -> Result<usize, String> {
        let (code, layouts) = (self.code.clone(), self.layouts.clone());
        let (module, layouts) = (&*code, &*layouts);
        let ops = module
            .functions
            .get(func)
            .ok_or_else(|| format!("no function {func}"))?
            .code
            .len();
        let start = Instant::now();
        let table = self.table.clone();
        let entry = &table[func];
        let (addr, code_bytes, tier) = match tier {
            FuncTier::Cranelift => {
                let c = self.foreground_compiler()?.compile_one(
                    module,
                    layouts,
                    func,
                    EntryPoint::Start,
                )?;
                tiering::install_cranelift(entry, c.addr);
                (c.addr, c.code_bytes, FuncTier::Cranelift)
            }
            _ => {
                let counters = self.tiering.is_some();
                let code = self.template.compile(
                    &HelperAddrs::native(),
                    module,
                    layouts,
                    func,
                    counters,
                )?;
                let published = self
                    .template_code
                    .publish(code)
                    .map_err(|e| e.to_string())?;
                let addr = published.ptr as usize;
                entry
                    .tier
                    .store(FuncTier::Template as u32, Ordering::Release);
                // Release: the code is complete before anyone can load the
                // pointer.
                entry.code.store(addr, Ordering::Release);
                (addr, code.len(), FuncTier::Template)
            }
        };
        let c = Compilation {
            func,
            ops,
            tier,
            osr: false,
            took: start.elapsed(),
            code_bytes,
        };
        tiering::record(&self.records, c, self.started);
        Ok(addr)
    }

    /// The Cranelift version of `func` entered at loop header `header`,
    /// compiled now if there is none yet; returns its address.
    pub fn compile_loop_entry(&mut self, func: usize, header: u32) -> Result<usize, String> {
        let (source, layouts) = (self.code.clone(), self.layouts.clone());
        let (module, layouts) = (&*source, &*layouts);
        let code = &module
            .functions
            .get(func)
            .ok_or_else(|| format!("no function {func}"))?
            .code;
        if !cranelift_tier::loop_headers(code).contains(&header) {
            return Err(format!("op {header} is not a loop header"));
        }
        if let Some(&addr) = tiering::lock_osr(&self.osr).get(&(func, header))
            && addr != 0
        {
            return Ok(addr);
        }
        let start = Instant::now();
        let c = self.foreground_compiler()?.compile_one(
            module,
            layouts,
            func,
            EntryPoint::LoopHeader(header),
        )?;
        tiering::lock_osr(&self.osr).insert((func, header), c.addr);
        let record = Compilation {
            func,
            ops: code.len(),
            tier: FuncTier::Cranelift,
            osr: true,
            took: start.elapsed(),
            code_bytes: c.code_bytes,
        };
        tiering::record(&self.records, record, self.started);
        Ok(c.addr)
    }

    /// The foreground Cranelift compiler, made at first use.
    fn foreground_compiler(&mut self) -> Result<&mut cranelift_tier::Compiler, String> {
        if self.cranelift.is_none() {
            self.cranelift = Some(cranelift_tier::Compiler::new(self.cranelift_settings)?);
        }
        self.cranelift
            .as_mut()
            .ok_or_else(|| "no Cranelift compiler".to_string())
    }

    /// Move `func` to the Cranelift tier now and return once it is
    /// installed.
    pub fn tier_up(&mut self, func: usize) -> Result<(), String> {
        self.compile(func, FuncTier::Cranelift).map(|_| ())
    }

    /// The call-budget hook: queue `func` for Cranelift (background), or
    /// compile it now (synchronous) and return its address so the call that
    /// found it hot runs there too.
    fn hot_call(&mut self, func: usize) -> usize {
        let Some(entry) = self.table.get(func) else {
            return 0;
        };
        entry.call_budget.store(SPENT_BUDGET, Ordering::Relaxed);
        let Some(t) = &self.tiering else {
            return 0;
        };
        if t.policy.background {
            if entry
                .queued
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                self.request(Request::Function(func));
            }
            0
        } else if entry.tier() == FuncTier::Cranelift {
            entry.code.load(Ordering::Acquire)
        } else {
            self.tier_up(func)
                .map_or(0, |()| self.table[func].code.load(Ordering::Acquire))
        }
    }

    /// The loop-budget hook, at the back-edge to `header`: the address of
    /// the version entered at that header, to continue this activation in,
    /// or 0 to go on in template code for another budget (its compile was
    /// queued, or is still running).
    fn hot_loop(&mut self, func: usize, header: u32) -> usize {
        let Some(t) = &self.tiering else {
            return 0;
        };
        let (background, hot_loops) = (t.policy.background, t.policy.hot_loops);
        let known = tiering::lock_osr(&self.osr).get(&(func, header)).copied();
        let addr = match known {
            Some(addr) => addr,
            None if background => {
                tiering::lock_osr(&self.osr).insert((func, header), 0);
                self.request(Request::Loop(func, header));
                0
            }
            None => self.compile_loop_entry(func, header).unwrap_or(0),
        };
        if addr == 0 {
            // Look again a budget later.
            if let Some(e) = self.table.get(func) {
                e.loop_budget
                    .store(TieringPolicy::budget(hot_loops), Ordering::Relaxed);
            }
        } else if let Some(rec) = tiering::lock(&self.records).funcs.get_mut(func) {
            rec.osr_entries += 1;
        }
        addr
    }

    /// Send `request` to the compiler thread, started now if needed.
    fn request(&mut self, request: Request) {
        let Some(t) = &mut self.tiering else {
            return;
        };
        if t.thread.is_none() {
            let source = tiering::Source {
                code: self.code.clone(),
                layouts: self.layouts.clone(),
            };
            match CompilerThread::spawn(
                source,
                self.cranelift_settings,
                self.table.clone(),
                self.osr.clone(),
                self.records.clone(),
                self.started,
            ) {
                Ok(th) => t.thread = Some(th),
                // No thread: the function stays in the template tier.
                Err(_) => return,
            }
        }
        if let Some(th) = &t.thread {
            th.request(request);
        }
    }

    /// Run function `func` on a frame at the bottom of the register stacks
    /// (bases 0), whose parameter slots the caller has filled.
    pub fn run(&mut self, store: &mut Store, func: usize) -> Result<(), Trap> {
        self.run_from(store, func, None)
    }

    /// Continue function `func` at loop header `header` in its Cranelift
    /// code (compiled with OSR entries first if needed), every register
    /// taken from the frame at the bottom of the register stacks: on-stack
    /// replacement.
    pub fn run_at_loop_header(
        &mut self,
        store: &mut Store,
        func: usize,
        header: u32,
    ) -> Result<(), Trap> {
        self.run_from(store, func, Some(header))
    }

    fn run_from(
        &mut self,
        store: &mut Store,
        func: usize,
        header: Option<u32>,
    ) -> Result<(), Trap> {
        let module = self.code.clone();
        let trap = |kind, pc, detail| Trap {
            kind,
            func: func as u32,
            func_name: module.functions[func].name.clone(),
            pc,
            detail,
        };
        let addr = match header {
            None => self.ensure_compiled(func),
            Some(h) => self.compile_loop_entry(func, h),
        }
        .map_err(|msg| trap(TrapKind::OutOfMemory, 0, Some(msg)))?;
        if self.stack.is_none() {
            let stack = NativeStack::new(store.max_call_depth.into())
                .map_err(|e| trap(TrapKind::OutOfMemory, 0, Some(format!("native stack: {e}"))))?;
            self.stack = Some(stack);
        }
        let Some(stack) = self.stack.as_ref().map(|s| s as *const NativeStack) else {
            return Err(trap(TrapKind::OutOfMemory, 0, None));
        };
        let mut state = HelperState {
            store: store as *mut Store,
            runtime: self as *mut JitRuntime,
            detail: None,
        };
        let stacks = &mut store.stacks;
        let (i0, f0, r0) = (
            stacks.i.as_mut_ptr(),
            stacks.f.as_mut_ptr(),
            stacks.r.as_mut_ptr(),
        );
        let ctx: *mut VmContext = &mut *self.ctx;
        // SAFETY: `ctx` is this runtime's boxed context; the entry frame's fit
        // in the stacks was checked by the caller; `addr` is compiled code
        // of the native entry signature; helpers reach `state` only during
        // this call.
        let status = unsafe {
            (*ctx).functions = self.table.as_ptr();
            (*ctx).call_depth = 1;
            (*ctx).max_call_depth = store.max_call_depth.into();
            (*ctx).native_stack_limit = (*stack).limit();
            (*ctx).stack_end = [
                i0 as usize + store.stacks.i.len() * SLOT_SIZE,
                f0 as usize + store.stacks.f.len() * SLOT_SIZE,
                r0 as usize + store.stacks.r.len() * SLOT_SIZE,
            ];
            (*ctx).interrupt = std::sync::Arc::as_ptr(&store.interrupt);
            (*ctx).host = &mut state as *mut HelperState as *mut c_void;
            (*ctx).trap_kind = 0;
            let entry: NativeEntry = std::mem::transmute::<usize, NativeEntry>(addr);
            let status = call_on_stack(&*stack, entry, ctx, i0, f0, r0);
            (*ctx).host = std::ptr::null_mut();
            status
        };
        if status == 0 {
            return Ok(());
        }
        let kind = TrapKind::from_code(status).unwrap_or(TrapKind::HostError);
        let c = &*self.ctx;
        let at = c.trap_func as usize;
        Err(Trap {
            kind,
            func: c.trap_func,
            func_name: module
                .functions
                .get(at)
                .map(|f| f.name.clone())
                .unwrap_or_default(),
            pc: c.trap_pc,
            detail: state.detail,
        })
    }
}
