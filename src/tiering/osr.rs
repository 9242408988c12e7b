//! The versions of functions entered at a loop header (on-stack
//! replacement), shared by the orchestrator and its compiler thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Cranelift versions entered at a loop header, by (function, header): the
/// entry address, or 0 while its compile is pending.
pub type OsrTable = Arc<Mutex<HashMap<(usize, u32), usize>>>;

/// Lock an OSR table, whatever a panicking thread left.
pub fn lock_osr(table: &OsrTable) -> MutexGuard<'_, HashMap<(usize, u32), usize>> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}
