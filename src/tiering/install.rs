//! How a compiled version becomes the one calls run: one atomic store of
//! its address into the function table, after the code is complete.

use crate::runtime::context::{FuncEntry, FuncTier};
use std::sync::atomic::Ordering;

/// Install Cranelift code at `addr` for `entry`: one atomic store of the
/// address calls use, after the code is complete and visible to instruction
/// fetch (the compiler made sure of that).
pub fn install_cranelift(entry: &FuncEntry, addr: usize) {
    entry
        .tier
        .store(FuncTier::Cranelift as u32, Ordering::Release);
    entry.code.store(addr, Ordering::Release);
    entry.queued.store(0, Ordering::Release);
}

/// Install template code at `addr` for `entry`.
pub fn install_template(entry: &FuncEntry, addr: usize) {
    entry
        .tier
        .store(FuncTier::Template as u32, Ordering::Release);
    // Release: the code is complete before anyone can load the pointer.
    entry.code.store(addr, Ordering::Release);
}
