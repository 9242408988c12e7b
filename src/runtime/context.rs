//! The runtime contract between Rust and compiled code of either tier: the
//! `#[repr(C)]` context, the function table, the native entry signature and
//! the status codes. The offsets in [`offsets`] are the one source of truth
//! for every emitter.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicUsize};

/// The signature of every compiled function of either tier, on every ISA:
/// `(ctx, i_base, f_base, r_base) -> status`. Status 0 means it returned
/// normally (its result in slot 0 of the result bank); anything else is a
/// [`crate::TrapKind`] code, with details in the context's trap record.
pub type NativeEntry = unsafe extern "C" fn(*mut VmContext, *mut i64, *mut f64, *mut u64) -> u32;

/// Which engine a function runs in now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FuncTier {
    /// Not compiled yet: the next call compiles it.
    None = 0,
    /// Template-compiled.
    Template = 1,
    /// Cranelift-compiled.
    Cranelift = 2,
}

impl std::fmt::Display for FuncTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FuncTier::None => "none",
            FuncTier::Template => "template",
            FuncTier::Cranelift => "Cranelift",
        })
    }
}

/// One function's entry in the function table. Compiled code calls through
/// `code`, so storing a new address swaps the function at its next call.
#[repr(C)]
#[derive(Debug)]
pub struct FuncEntry {
    /// Address of the current native entry ([`NativeEntry`]), or 0 when the
    /// function is not compiled yet.
    pub code: AtomicUsize,
    /// Calls left before the function is hot: template code with counters
    /// decrements it at entry and calls the tiering hook when it goes
    /// negative.
    pub call_budget: AtomicI64,
    /// Loop back-edges left before a running loop is hot: template code with
    /// counters decrements it at every back-edge and calls the OSR hook when
    /// it goes negative.
    pub loop_budget: AtomicI64,
    /// A [`FuncTier`] as `u32`.
    pub tier: AtomicU32,
    /// Tiering state: 0 idle, 1 a Cranelift compile of the whole function
    /// is queued or running.
    pub queued: AtomicU32,
}

impl FuncEntry {
    /// An entry for a function that is not compiled yet; budgets as large as
    /// they go (nothing counts down to a tier-up unless the tiering manager
    /// sets them).
    pub fn new() -> FuncEntry {
        FuncEntry {
            code: AtomicUsize::new(0),
            call_budget: AtomicI64::new(i64::MAX),
            loop_budget: AtomicI64::new(i64::MAX),
            tier: AtomicU32::new(FuncTier::None as u32),
            queued: AtomicU32::new(0),
        }
    }

    /// The tier it runs in now.
    pub fn tier(&self) -> FuncTier {
        match self.tier.load(std::sync::atomic::Ordering::Acquire) {
            1 => FuncTier::Template,
            2 => FuncTier::Cranelift,
            _ => FuncTier::None,
        }
    }
}

impl Default for FuncEntry {
    fn default() -> FuncEntry {
        FuncEntry::new()
    }
}

/// The per-instance context passed to all compiled code.
#[repr(C)]
#[derive(Debug)]
pub struct VmContext {
    /// The function table: one [`FuncEntry`] per function.
    pub functions: *const FuncEntry,
    /// The call depth of the function being entered (the engine's entry
    /// counts 1). Written by every caller just before a call and read by
    /// the callee on entry; it is not restored on return (callers keep
    /// their own depth in a register), so it is meaningful at entries only.
    pub call_depth: u64,
    /// A call that would make `call_depth` exceed this traps.
    pub max_call_depth: u64,
    /// A call traps when the native stack pointer is below this address, so
    /// deep recursion is a trap and never a segfault.
    pub native_stack_limit: usize,
    /// One past the last slot of the i64, f64 and reference stacks
    /// (addresses): a callee frame must end at or below these.
    pub stack_end: [usize; 3],
    /// Trap record: the [`crate::TrapKind`] code.
    pub trap_kind: u32,
    /// Trap record: the function that trapped.
    pub trap_func: u32,
    /// Trap record: the op index that trapped.
    pub trap_pc: u32,
    /// Padding.
    pub _pad: u32,
    /// The embedder's interrupt flag: loops poll it at back-edges.
    pub interrupt: *const AtomicBool,
    /// Rust-side state for the slow-path helpers; opaque to machine code.
    pub host: *mut c_void,
    /// Trap record: the user code of a [`crate::TrapKind::User`] trap.
    /// (New fields go last, so that adding one moves no other.)
    pub trap_user_code: i64,
    /// The store's table of `fref` function references
    /// ([`crate::runtime::heap::FuncRefObject`], one per function).
    pub func_refs: *const u8,
    /// The function a tail call asks for: set with the status
    /// [`TAIL_CALL_STATUS`], the arguments being in the frame.
    pub tail_func: u64,
    /// The store's globals, per bank (bits, 8 bytes each).
    pub globals: [*mut u64; 3],
    /// The store's string constants' objects: reference `i` (8 bytes) is
    /// string constant `i`'s ([`crate::runtime::heap::StringTable`]).
    pub strings: *const u64,
}

/// The status a function returns to have its caller's call site call
/// function `VmContext::tail_func` on the same frame (a tail call whose
/// caller cannot jump to the callee): not a trap code.
pub const TAIL_CALL_STATUS: u32 = 0x40;

impl VmContext {
    /// A context with no function table and empty limits; the engine fills it
    /// before entering compiled code.
    pub fn empty() -> VmContext {
        VmContext {
            functions: std::ptr::null(),
            call_depth: 0,
            max_call_depth: 0,
            native_stack_limit: usize::MAX,
            stack_end: [0; 3],
            trap_kind: 0,
            trap_func: 0,
            trap_pc: 0,
            _pad: 0,
            interrupt: std::ptr::null(),
            host: std::ptr::null_mut(),
            trap_user_code: 0,
            func_refs: std::ptr::null(),
            tail_func: 0,
            globals: [std::ptr::null_mut(); 3],
            strings: std::ptr::null(),
        }
    }
}

/// Byte offsets of the context and function-table fields, for emitters.
pub mod offsets {
    use super::{FuncEntry, VmContext};
    use std::mem::{offset_of, size_of};

    /// [`VmContext::functions`].
    pub const FUNCTIONS: i32 = offset_of!(VmContext, functions) as i32;
    /// [`VmContext::call_depth`].
    pub const CALL_DEPTH: i32 = offset_of!(VmContext, call_depth) as i32;
    /// [`VmContext::max_call_depth`].
    pub const MAX_CALL_DEPTH: i32 = offset_of!(VmContext, max_call_depth) as i32;
    /// [`VmContext::native_stack_limit`].
    pub const NATIVE_STACK_LIMIT: i32 = offset_of!(VmContext, native_stack_limit) as i32;
    /// [`VmContext::stack_end`]: bank `b`'s entry is at [`stack_end`]`(b)`.
    pub const STACK_END: i32 = offset_of!(VmContext, stack_end) as i32;

    /// The offset of bank `bank`'s entry of [`VmContext::stack_end`].
    pub const fn stack_end(bank: usize) -> i32 {
        STACK_END + (bank * size_of::<usize>()) as i32
    }
    /// [`VmContext::trap_kind`].
    pub const TRAP_KIND: i32 = offset_of!(VmContext, trap_kind) as i32;
    /// [`VmContext::trap_func`].
    pub const TRAP_FUNC: i32 = offset_of!(VmContext, trap_func) as i32;
    /// [`VmContext::trap_pc`].
    pub const TRAP_PC: i32 = offset_of!(VmContext, trap_pc) as i32;
    /// [`VmContext::interrupt`].
    pub const INTERRUPT: i32 = offset_of!(VmContext, interrupt) as i32;
    /// [`VmContext::trap_user_code`].
    pub const TRAP_USER_CODE: i32 = offset_of!(VmContext, trap_user_code) as i32;
    /// [`VmContext::func_refs`].
    pub const FUNC_REFS: i32 = offset_of!(VmContext, func_refs) as i32;
    /// [`VmContext::tail_func`].
    pub const TAIL_FUNC: i32 = offset_of!(VmContext, tail_func) as i32;
    /// [`VmContext::globals`]: bank `b`'s entry is at [`globals`]`(b)`.
    pub const GLOBALS: i32 = offset_of!(VmContext, globals) as i32;

    /// The offset of bank `bank`'s entry of [`VmContext::globals`].
    pub const fn globals(bank: usize) -> i32 {
        GLOBALS + (bank * size_of::<usize>()) as i32
    }

    /// [`VmContext::strings`].
    pub const STRINGS: i32 = offset_of!(VmContext, strings) as i32;

    /// Size of one [`FuncEntry`].
    pub const FUNC_ENTRY_SIZE: i32 = size_of::<FuncEntry>() as i32;
    /// [`FuncEntry::code`].
    pub const FUNC_ENTRY_CODE: i32 = offset_of!(FuncEntry, code) as i32;
    /// [`FuncEntry::call_budget`].
    pub const FUNC_ENTRY_CALL_BUDGET: i32 = offset_of!(FuncEntry, call_budget) as i32;
    /// [`FuncEntry::loop_budget`].
    pub const FUNC_ENTRY_LOOP_BUDGET: i32 = offset_of!(FuncEntry, loop_budget) as i32;
}

#[cfg(test)]
mod tests {
    use super::offsets::*;

    #[test]
    fn layout_is_what_emitters_assume() {
        assert_eq!(FUNC_ENTRY_SIZE % 8, 0);
        assert_eq!(FUNCTIONS, 0);
        for off in [
            CALL_DEPTH,
            MAX_CALL_DEPTH,
            NATIVE_STACK_LIMIT,
            STACK_END,
            INTERRUPT,
            TRAP_USER_CODE,
            FUNC_REFS,
            TAIL_FUNC,
            GLOBALS,
            STRINGS,
        ] {
            assert_eq!(off % 8, 0, "8-byte fields are 8-byte aligned");
        }
    }
}
