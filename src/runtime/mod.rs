//! The runtime shared by every engine: frames, register stacks, the heap,
//! traps, host functions, printing, and the state compiled code of either
//! tier runs on.

pub mod call_profile;
pub mod code_info;
pub mod code_memory;
pub mod compile_error;
pub mod context;
pub mod float;
pub mod frame;
pub mod gdb_jit;
pub mod handles;
pub mod heap;
pub mod helpers;
pub mod host;
pub mod native_stack;
pub mod objects;
pub mod placed_map;
pub mod print;
pub mod profiling;
pub mod stacks;
pub mod structs;
pub mod trap;
pub mod unwind;
pub mod value;
#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) mod wx_watch;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The mutable state of an instance that every engine works on.
pub struct Store {
    /// The register stacks of the three banks.
    pub stacks: stacks::RegisterStacks,
    /// The array heap and its collector.
    pub heap: heap::Heap,
    /// Where the print ops write.
    pub out: Box<dyn Write + Send>,
    /// Host functions, one per import of the module, in import order.
    pub hosts: Vec<host::HostFunc>,
    /// Calls deeper than this trap with a stack overflow.
    pub max_call_depth: u32,
    /// Set by the embedder (from any thread) to stop a running call.
    pub interrupt: Arc<AtomicBool>,
    /// Whether the interpreter counts executed ops (for ns-per-op figures).
    pub count_ops: bool,
    /// Ops executed so far, when counting.
    pub executed_ops: u64,
    /// The function references `fref` returns, one per function (see
    /// [`heap::FuncRefObject`]); never moved while the store lives.
    pub func_refs: Box<[heap::FuncRefObject]>,
    /// The globals' values (bits), per bank; the reference globals are
    /// roots of the collector.
    pub globals: [Box<[u64]>; 3],
    /// The immutable objects `sconst` returns, one per string constant.
    pub strings: heap::StringTable,
}

impl Store {
    /// The table of `fref`'s function references for functions of these
    /// layouts.
    pub fn func_ref_table(layouts: &[frame::FrameLayout]) -> Box<[heap::FuncRefObject]> {
        layouts
            .iter()
            .enumerate()
            .map(|(f, l)| heap::FuncRefObject::new(f as u32, l, l.ref_type, 0, true))
            .collect()
    }

    /// The reference `fref` makes to function `func`.
    pub fn func_ref(&self, func: usize) -> u64 {
        self.func_refs.as_ptr().wrapping_add(func) as u64
    }
}
