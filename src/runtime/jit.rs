//! The per-instance state that compiled code of either tier runs on (the
//! function table, the context, the native stack, the code of both tiers)
//! and the Rust-side entry into it.

use super::helpers::HelperAddrs;
use crate::bytecode::Module;
use crate::cranelift_tier::{self, CraneliftSettings};
use crate::runtime::Store;
use crate::runtime::context::{FuncEntry, FuncTier, NativeEntry, VmContext};
use crate::runtime::frame::{FrameLayout, SLOT_SIZE};
use crate::runtime::native_stack::{NativeStack, call_on_stack};
use crate::runtime::trap::{Trap, TrapKind};
use crate::template::code_memory::CodeMemory;
use crate::template::{HostMasm, emit};
use std::ffi::c_void;
use std::sync::atomic::Ordering;
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
/// context, and the code of both tiers.
pub struct JitRuntime {
    template_code: CodeMemory,
    cranelift: Option<cranelift_tier::Compiler>,
    cranelift_settings: CraneliftSettings,
    /// The tier a function is compiled in at its first call.
    first_tier: FuncTier,
    /// Per function: its Cranelift code can be entered at loop headers.
    osr_ready: Vec<bool>,
    table: Box<[FuncEntry]>,
    ctx: Box<VmContext>,
    /// The native stack compiled code runs on, made at the first call.
    stack: Option<NativeStack>,
    stats: TierStats,
}

// SAFETY: the raw pointers in the context point into this runtime and the
// instance's store, which move with the instance; nothing is shared.
unsafe impl Send for JitRuntime {}

/// What the helpers reach through `VmContext::host` during a call.
pub(crate) struct HelperState {
    pub(crate) store: *mut Store,
    pub(crate) module: *const Module,
    layouts: *const [FrameLayout],
    runtime: *mut JitRuntime,
    /// The message of a host error or a failed compilation.
    pub(crate) detail: Option<String>,
}

impl HelperState {
    /// Compile `func` if needed and return its entry address.
    pub(crate) fn compile(&mut self, func: usize) -> Result<usize, String> {
        // SAFETY: the runtime, module and layouts outlive the call (see `run`).
        let rt = unsafe { &mut *self.runtime };
        rt.ensure_compiled(unsafe { &*self.module }, unsafe { &*self.layouts }, func)
    }
}

impl JitRuntime {
    /// State for a module of `functions` functions, each compiled in
    /// `first_tier` (template or Cranelift) at its first call.
    pub fn new(
        functions: usize,
        first_tier: FuncTier,
        cranelift_settings: CraneliftSettings,
    ) -> JitRuntime {
        JitRuntime {
            template_code: CodeMemory::new(),
            cranelift: None,
            cranelift_settings,
            first_tier,
            osr_ready: vec![false; functions],
            table: (0..functions).map(|_| FuncEntry::new()).collect(),
            ctx: Box::new(VmContext::empty()),
            stack: None,
            stats: TierStats::default(),
        }
    }

    /// Compilation statistics so far.
    pub fn stats(&self) -> TierStats {
        self.stats
    }

    /// The tier `func` runs in now.
    pub fn tier_of(&self, func: usize) -> Option<FuncTier> {
        let t = self.table.get(func)?.tier.load(Ordering::Acquire);
        Some(match t {
            1 => FuncTier::Template,
            2 => FuncTier::Cranelift,
            _ => FuncTier::None,
        })
    }

    /// Whether `func` has been compiled.
    pub fn is_compiled(&self, func: usize) -> bool {
        self.table
            .get(func)
            .is_some_and(|e| e.code.load(Ordering::Acquire) != 0)
    }

    /// The entry address of `func`, compiling it first if needed.
    pub fn ensure_compiled(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        func: usize,
    ) -> Result<usize, String> {
        let entry = self
            .table
            .get(func)
            .ok_or_else(|| format!("no function {func}"))?;
        let addr = entry.code.load(Ordering::Acquire);
        if addr != 0 {
            return Ok(addr);
        }
        self.compile(module, layouts, func, self.first_tier, false)
    }

    /// Compile `func` in `tier` now and install it in the function table;
    /// returns its entry address. With `osr` (Cranelift only) the code can
    /// also be entered at loop headers. Activations of an older version
    /// finish in it; the next call runs the new one.
    pub fn compile(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        func: usize,
        tier: FuncTier,
        osr: bool,
    ) -> Result<usize, String> {
        let ops = module
            .functions
            .get(func)
            .ok_or_else(|| format!("no function {func}"))?
            .code
            .len() as u64;
        let start = Instant::now();
        let (addr, code_bytes, stats) = match tier {
            FuncTier::Cranelift => {
                let compiler = match &mut self.cranelift {
                    Some(c) => c,
                    None => self
                        .cranelift
                        .insert(cranelift_tier::Compiler::new(self.cranelift_settings)?),
                };
                let compiled =
                    compiler.compile(module, layouts, &HelperAddrs::native(), &[func], osr)?;
                let c = compiled.first().ok_or("cranelift compiled nothing")?;
                self.osr_ready[func] = osr;
                (c.addr, c.code_bytes, &mut self.stats.cranelift)
            }
            _ => {
                let code = emit::compile(
                    HostMasm::new(),
                    &HelperAddrs::native(),
                    module,
                    layouts,
                    func,
                )?;
                let published = self
                    .template_code
                    .publish(&code)
                    .map_err(|e| e.to_string())?;
                self.osr_ready[func] = false;
                (published.ptr as usize, code.len(), &mut self.stats.template)
            }
        };
        stats.functions += 1;
        stats.ops += ops;
        stats.code_bytes += code_bytes as u64;
        stats.time += start.elapsed();
        let entry = &self.table[func];
        let tier = if tier == FuncTier::Cranelift {
            FuncTier::Cranelift
        } else {
            FuncTier::Template
        };
        entry.tier.store(tier as u32, Ordering::Release);
        // Release: the code is complete before anyone can load the pointer.
        entry.code.store(addr, Ordering::Release);
        Ok(addr)
    }

    /// Run function `func` on a frame at the bottom of the register stacks
    /// (bases 0), whose parameter slots the caller has filled.
    pub fn run(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        store: &mut Store,
        func: usize,
    ) -> Result<(), Trap> {
        self.run_from(module, layouts, store, func, None)
    }

    /// Continue function `func` at loop header `header` in its Cranelift
    /// code (compiled with OSR entries first if needed), every register
    /// taken from the frame at the bottom of the register stacks: on-stack
    /// replacement.
    pub fn run_at_loop_header(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        store: &mut Store,
        func: usize,
        header: u32,
    ) -> Result<(), Trap> {
        self.run_from(module, layouts, store, func, Some(header))
    }

    fn run_from(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        store: &mut Store,
        func: usize,
        header: Option<u32>,
    ) -> Result<(), Trap> {
        let trap = |kind, pc, detail| Trap {
            kind,
            func: func as u32,
            func_name: module.functions[func].name.clone(),
            pc,
            detail,
        };
        let addr = match header {
            None => self.ensure_compiled(module, layouts, func),
            Some(h) => {
                let code = &module.functions[func].code;
                if !cranelift_tier::loop_headers(code).contains(&h) {
                    return Err(trap(
                        TrapKind::HostError,
                        h,
                        Some(format!("op {h} is not a loop header")),
                    ));
                }
                let ready = self.tier_of(func) == Some(FuncTier::Cranelift) && self.osr_ready[func];
                if ready {
                    Ok(self.table[func].code.load(Ordering::Acquire))
                } else {
                    self.compile(module, layouts, func, FuncTier::Cranelift, true)
                }
            }
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
            module: module as *const Module,
            layouts: layouts as *const [FrameLayout],
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
            (*ctx).osr_entry = header.map_or(0, |h| h + 1);
            let entry: NativeEntry = std::mem::transmute::<usize, NativeEntry>(addr);
            let status = call_on_stack(&*stack, entry, ctx, i0, f0, r0);
            (*ctx).host = std::ptr::null_mut();
            (*ctx).osr_entry = 0;
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
