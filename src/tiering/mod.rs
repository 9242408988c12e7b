//! The orchestrator of the compiled tiers and the tiering policy.
//!
//! [`JitRuntime`] is an instance's compiled-code state: the function table,
//! the context, the code of both tiers, compilation of one function in
//! either tier (`jit_runtime.rs`), the entry from Rust (`entry.rs`) and the
//! hooks compiled code calls back through the runtime's helpers
//! (`hooks.rs`, an implementation of [`crate::runtime::helpers::CodeHooks`]).
//!
//! Under `auto`, every function starts in the template tier, whose code
//! (compiled with counters) decrements the function's call budget at entry
//! and its loop budget at every back-edge ([`policy`]). A budget that goes
//! negative calls a hook that asks for a Cranelift version: on the
//! [`compiler_thread`] by default, at once in synchronous mode. A
//! whole-function version is installed with one atomic store of its address
//! into the function table ([`install`]), so it takes over at the next call;
//! a hot loop of a running template activation continues in a version
//! compiled for entry at that loop header ([`osr`]: on-stack replacement
//! through the shared frame). The [`ledger`] records every compilation.

pub mod compiler_thread;
mod entry;
mod hooks;
pub mod install;
mod jit_runtime;
pub mod ledger;
pub mod osr;
pub mod policy;

pub use entry::RunError;
pub use jit_runtime::{JitOptions, JitRuntime};
pub use ledger::{CompileStats, FuncRecord, TierStats};
pub use policy::TieringPolicy;
