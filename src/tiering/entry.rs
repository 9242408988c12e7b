//! The Rust-side entry into compiled code: run a function from its start or
//! continue it at a loop header, on the instance's native stack.

use super::jit_runtime::JitRuntime;
use crate::runtime::Store;
use crate::runtime::compile_error::CompileError;
use crate::runtime::context::{NativeEntry, TAIL_CALL_STATUS, VmContext};
use crate::runtime::frame::SLOT_SIZE;
use crate::runtime::helpers::{HelperState, tail_call_dispatch};
use crate::runtime::native_stack::{NativeStack, call_on_stack};
use crate::runtime::trap::{Trap, TrapKind};
use std::ffi::c_void;
use std::sync::Arc;

/// Why a call into compiled code did not return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The program trapped.
    Trap(Trap),
    /// A function it reached could not be compiled.
    Compile(CompileError),
}

impl JitRuntime {
    /// Run function `func` on a frame at the bottom of the register stacks
    /// (bases 0), whose parameter slots the caller has filled.
    pub fn run(&mut self, store: &mut Store, func: usize) -> Result<(), RunError> {
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
    ) -> Result<(), RunError> {
        self.run_from(store, func, Some(header))
    }

    fn run_from(
        &mut self,
        store: &mut Store,
        func: usize,
        header: Option<u32>,
    ) -> Result<(), RunError> {
        // From here until the call returns, code retired meanwhile is not
        // freed (see `epochs`): this call may be running it.
        self.code.cache.epochs().enter(&self.epoch);
        let result = self.run_entered(store, func, header);
        self.code.cache.epochs().leave(&self.epoch);
        self.code.cache.reclaim();
        result
    }

    fn run_entered(
        &mut self,
        store: &mut Store,
        func: usize,
        header: Option<u32>,
    ) -> Result<(), RunError> {
        let addr = match header {
            None => self.code.ensure_compiled(func),
            Some(h) => self.code.compile_loop_entry(func, h),
        }
        .map_err(RunError::Compile)?;
        // The stack is taken out for the call: the helpers borrow the
        // runtime (as its hooks) while the code runs on it.
        let stack = match self.stack.take() {
            Some(stack) => stack,
            None => NativeStack::new(store.max_call_depth.into()).map_err(|e| {
                let detail = Some(format!("native stack: {e}"));
                RunError::Trap(Trap::at(
                    &self.code.code,
                    func as u32,
                    0,
                    TrapKind::OutOfMemory,
                    detail,
                ))
            })?,
        };
        let module = Arc::clone(&self.code.code);
        let ctx: *mut VmContext = &mut *self.ctx;
        let stacks = &mut store.stacks;
        let (i0, f0, r0) = (
            stacks.i.as_mut_ptr(),
            stacks.f.as_mut_ptr(),
            stacks.r.as_mut_ptr(),
        );
        let stack_end = [
            i0 as usize + stacks.i.len() * SLOT_SIZE,
            f0 as usize + stacks.f.len() * SLOT_SIZE,
            r0 as usize + stacks.r.len() * SLOT_SIZE,
        ];
        let (max_call_depth, interrupt) = (store.max_call_depth, Arc::as_ptr(&store.interrupt));
        let functions = self.code.table.as_ptr();
        let mut state = HelperState {
            store: store as *mut _,
            module: &module,
            hooks: self,
            detail: None,
            compile_error: None,
        };
        // SAFETY: `ctx` is this runtime's boxed context; the entry frame's fit
        // in the stacks was checked by the caller; `addr` is compiled code
        // of the native entry signature; helpers reach `state` only during
        // this call.
        let status = unsafe {
            (*ctx).functions = functions;
            (*ctx).call_depth = 1;
            (*ctx).max_call_depth = max_call_depth.into();
            (*ctx).native_stack_limit = stack.limit();
            (*ctx).stack_end = stack_end;
            (*ctx).interrupt = interrupt;
            (*ctx).host = &mut state as *mut HelperState<'_> as *mut c_void;
            (*ctx).trap_kind = 0;
            (*ctx).func_refs = store.func_refs.as_ptr() as *const u8;
            (*ctx).globals = [0, 1, 2].map(|b| store.globals[b].as_mut_ptr());
            (*ctx).strings = store.strings.refs();
            let entry: NativeEntry = std::mem::transmute::<usize, NativeEntry>(addr);
            let mut status = call_on_stack(&stack, entry, ctx, i0, f0, r0);
            if status == TAIL_CALL_STATUS {
                // The entry function ended in a tail call: finish it on
                // the same frame, as a call site would.
                (*ctx).call_depth = 1;
                status = call_on_stack(&stack, tail_call_dispatch, ctx, i0, f0, r0);
            }
            (*ctx).host = std::ptr::null_mut();
            status
        };
        let (detail, compile_error) = (state.detail, state.compile_error);
        self.stack = Some(stack);
        if status == 0 {
            return Ok(());
        }
        if let Some(e) = compile_error {
            return Err(RunError::Compile(e));
        }
        let kind = TrapKind::from_code(status).unwrap_or(TrapKind::HostError);
        let c = &*self.ctx;
        let user_code = (kind == TrapKind::User).then_some(c.trap_user_code);
        let trap = Trap::at(&module, c.trap_func, c.trap_pc, kind, detail);
        Err(RunError::Trap(trap.with_user_code(user_code)))
    }
}
