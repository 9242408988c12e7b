//! The native stack compiled code runs on.
//!
//! Compiled code recurses on the native stack, one frame per bytecode call.
//! Running it on the embedder's thread stack would make the depth at which
//! a deep recursion traps depend on that thread (2 MiB for a spawned Rust
//! thread, 8 MiB for `main`) and so differ from the interpreter's. Instead
//! each instance gets its own stack, sized for `max_call_depth` frames, and
//! [`call_on_stack`] switches to it: every engine then traps at the same
//! depth, and a deep recursion is a trap, never a segfault.
//!
//! Dropped stacks go back to a small process-wide pool and are reused by the
//! next instance: mapping ~100 MiB per instance is needless work, and under
//! qemu-user it leaks (qemu keeps page descriptors for every page ever
//! mapped: ~600 KiB per stack, gigabytes over a differential test run).

use crate::runtime::context::{NativeEntry, VmContext};
use memmap2::{MmapMut, MmapOptions};
use std::sync::Mutex;

/// Bytes of native stack budgeted per bytecode call: template frames take
/// 64 bytes (x86-64 and aarch64, return address and frame record
/// included), Cranelift frames a few hundred at most.
pub const BYTES_PER_FRAME: usize = 512;

/// Bytes kept free below the limit for the Rust helpers (allocation,
/// collection, host functions, printing, lazy compilation) that compiled
/// code calls from its deepest frame.
pub const HELPER_RESERVE: usize = 1 << 20;

const GUARD: usize = 64 << 10;

/// How many dropped stacks the pool keeps.
const POOL_SIZE: usize = 4;

/// Dropped stacks, for reuse.
static POOL: Mutex<Vec<MmapMut>> = Mutex::new(Vec::new());

/// A native stack with a guard region at its low end.
pub struct NativeStack {
    /// Always `Some` until dropped.
    map: Option<MmapMut>,
}

impl Drop for NativeStack {
    fn drop(&mut self) {
        if let Some(map) = self.map.take() {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < POOL_SIZE {
                pool.push(map);
            }
        }
    }
}

impl NativeStack {
    /// A stack for `max_call_depth` frames plus the helper reserve.
    pub fn new(max_call_depth: u64) -> std::io::Result<NativeStack> {
        let frames = usize::try_from(max_call_depth).unwrap_or(usize::MAX);
        let size = frames
            .saturating_mul(BYTES_PER_FRAME)
            .saturating_add(HELPER_RESERVE + GUARD)
            .next_multiple_of(GUARD);
        {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(k) = pool.iter().position(|m| m.len() == size) {
                // Same size, guard still in place: its old contents do not
                // matter to a stack.
                return Ok(NativeStack {
                    map: Some(pool.swap_remove(k)),
                });
            }
        }
        // Pages are only committed when touched.
        let map = MmapOptions::new().len(size).stack().map_anon()?;
        // SAFETY: the guard region is the first GUARD bytes of our mapping.
        let rc =
            unsafe { libc::mprotect(map.as_ptr() as *mut libc::c_void, GUARD, libc::PROT_NONE) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(NativeStack { map: Some(map) })
    }

    /// Base address and length of the mapping.
    fn range(&self) -> (usize, usize) {
        self.map
            .as_ref()
            .map_or((0, 0), |m| (m.as_ptr() as usize, m.len()))
    }

    /// One past the highest byte: the initial stack pointer (16-aligned).
    pub fn top(&self) -> usize {
        let (base, len) = self.range();
        (base + len) & !15
    }

    /// The lowest address compiled code may push to before a call traps.
    pub fn limit(&self) -> usize {
        self.range().0 + GUARD + HELPER_RESERVE
    }
}

unsafe extern "C" {
    fn tierjit_call_on_stack(
        entry: NativeEntry,
        ctx: *mut VmContext,
        i: *mut i64,
        f: *mut f64,
        r: *mut u64,
        stack_top: usize,
    ) -> u32;
}

/// Call `entry(ctx, i, f, r)` with the stack pointer at `stack.top()`.
///
/// # Safety
/// `entry` is compiled code of the native entry signature and its arguments
/// are valid for it; no Rust panic unwinds out of it.
pub unsafe fn call_on_stack(
    stack: &NativeStack,
    entry: NativeEntry,
    ctx: *mut VmContext,
    i: *mut i64,
    f: *mut f64,
    r: *mut u64,
) -> u32 {
    // SAFETY: by the caller's contract; the trampoline restores the stack.
    unsafe { tierjit_call_on_stack(entry, ctx, i, f, r, stack.top()) }
}

// The trampoline: save the caller's stack pointer in a callee-saved
// register, switch, call, switch back.
// The CFI directives describe its frame to DWARF unwinders (Rust
// backtraces, gdb, `perf --call-graph dwarf`): once rbp / x29 holds the
// caller's stack pointer the CFA is found from it, so an unwinder crosses
// the stack switch back to the embedder's stack.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".globl tierjit_call_on_stack",
    ".type tierjit_call_on_stack, @function",
    ".p2align 4",
    "tierjit_call_on_stack:",
    ".cfi_startproc",
    "push rbp",
    ".cfi_def_cfa_offset 16",
    ".cfi_offset rbp, -16",
    "mov rbp, rsp",
    ".cfi_def_cfa_register rbp",
    "mov rsp, r9",
    "mov rax, rdi",
    "mov rdi, rsi",
    "mov rsi, rdx",
    "mov rdx, rcx",
    "mov rcx, r8",
    "call rax",
    "mov rsp, rbp",
    ".cfi_def_cfa_register rsp",
    "pop rbp",
    ".cfi_def_cfa_offset 8",
    ".cfi_restore rbp",
    "ret",
    ".cfi_endproc",
    ".size tierjit_call_on_stack, . - tierjit_call_on_stack",
);

#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
    ".globl tierjit_call_on_stack",
    ".type tierjit_call_on_stack, %function",
    ".p2align 4",
    "tierjit_call_on_stack:",
    ".cfi_startproc",
    "stp x29, x30, [sp, #-16]!",
    ".cfi_def_cfa_offset 16",
    ".cfi_offset x29, -16",
    ".cfi_offset x30, -8",
    "mov x29, sp",
    ".cfi_def_cfa x29, 16",
    "mov sp, x5",
    "mov x16, x0",
    "mov x0, x1",
    "mov x1, x2",
    "mov x2, x3",
    "mov x3, x4",
    "blr x16",
    "mov sp, x29",
    ".cfi_def_cfa sp, 16",
    "ldp x29, x30, [sp], #16",
    ".cfi_def_cfa_offset 0",
    ".cfi_restore x29",
    ".cfi_restore x30",
    "ret",
    ".cfi_endproc",
    ".size tierjit_call_on_stack, . - tierjit_call_on_stack",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_is_sized_and_guarded() {
        let s = NativeStack::new(1000).unwrap();
        assert!(s.top() - s.limit() >= 1000 * BYTES_PER_FRAME);
        assert_eq!(s.top() % 16, 0);
    }
}
