//! The template tier's per-instance state and the Rust-side entry into
//! compiled code.

use super::code_memory::CodeMemory;
use super::emit;
use super::helpers::HelperAddrs;
use crate::bytecode::Module;
use crate::runtime::Store;
use crate::runtime::context::{FuncEntry, FuncTier, NativeEntry, VmContext};
use crate::runtime::frame::{FrameLayout, SLOT_SIZE};
use crate::runtime::native_stack::{NativeStack, call_on_stack};
use crate::runtime::trap::{Trap, TrapKind};
use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The macro-assembler of the machine we run on.
#[cfg(target_arch = "x86_64")]
pub type HostMasm = super::isa::x64::X64Masm;
/// The macro-assembler of the machine we run on.
#[cfg(target_arch = "aarch64")]
pub type HostMasm = super::isa::aarch64::A64Masm;

/// Whether this build can run template code.
pub const AVAILABLE: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Compilation statistics of an instance.
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

/// Per-instance template-tier state: code memory, function table, context.
pub struct TemplateRuntime {
    code: CodeMemory,
    table: Box<[FuncEntry]>,
    ctx: Box<VmContext>,
    /// The native stack compiled code runs on, made at the first call.
    stack: Option<NativeStack>,
    stats: CompileStats,
}

// SAFETY: the raw pointers in the context point into this runtime and the
// instance's store, which move with the instance; nothing is shared.
unsafe impl Send for TemplateRuntime {}

/// What the helpers reach through `VmContext::host` during a call.
pub(crate) struct HelperState {
    pub(crate) store: *mut Store,
    pub(crate) module: *const Module,
    layouts: *const [FrameLayout],
    runtime: *mut TemplateRuntime,
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

impl TemplateRuntime {
    /// State for a module of `functions` functions; nothing compiled yet.
    pub fn new(functions: usize) -> TemplateRuntime {
        TemplateRuntime {
            code: CodeMemory::new(),
            table: (0..functions).map(|_| FuncEntry::new()).collect(),
            ctx: Box::new(VmContext::empty()),
            stack: None,
            stats: CompileStats::default(),
        }
    }

    /// Compilation statistics so far.
    pub fn stats(&self) -> CompileStats {
        self.stats
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
        let start = Instant::now();
        let code = emit::compile(
            HostMasm::new(),
            &HelperAddrs::native(),
            module,
            layouts,
            func,
        )?;
        let published = self.code.publish(&code).map_err(|e| e.to_string())?;
        let addr = published.ptr as usize;
        self.stats.functions += 1;
        self.stats.ops += module.functions[func].code.len() as u64;
        self.stats.code_bytes += code.len() as u64;
        self.stats.time += start.elapsed();
        let entry = &self.table[func];
        entry
            .tier
            .store(FuncTier::Template as u32, Ordering::Relaxed);
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
        let trap = |kind, pc, detail| Trap {
            kind,
            func: func as u32,
            func_name: module.functions[func].name.clone(),
            pc,
            detail,
        };
        let addr = self
            .ensure_compiled(module, layouts, func)
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
            runtime: self as *mut TemplateRuntime,
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
