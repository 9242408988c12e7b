//! The orchestrator of the compiled tiers and the tiering policy.
//!
//! Code belongs to modules, not instances: [`ModuleCode`] holds a module's
//! function table (entry addresses and tier-up counters), its loop-header
//! versions, its template compiler and its compilation records, shared by
//! every instance on any thread; [`JitRuntime`] is an instance's own part
//! (context, native stack, epoch slot), with the entry from Rust
//! (`entry.rs`) and the hooks compiled code calls back through the
//! runtime's helpers (`hooks.rs`, an implementation of
//! [`crate::runtime::helpers::CodeHooks`]). [`CodeCache`] is the engine's:
//! one code memory under a cap, with eviction, and the [`pool`] of
//! background compiler threads that serves every module.
//!
//! Under `auto`, every function starts in the template tier, whose code
//! (compiled with counters) decrements the function's call budget at entry
//! and its loop budget at every back-edge ([`policy`]); the budgets are the
//! module's, so calls from every instance count. A budget that goes
//! negative calls a hook that asks for a Cranelift version: from the
//! compiler pool by default, at once in synchronous mode. A whole-function
//! version is installed with one atomic store of its address into the
//! function table ([`install`]), so every instance takes it at its next
//! call; a hot loop of a running template activation continues in a
//! version compiled for entry at that loop header (on-stack replacement
//! through the shared frame). Retired code is freed when no call that may
//! run it is left ([`epochs`]). The [`ledger`] records every compilation;
//! [`events`] reports each step through `tracing`.

pub mod code_cache;
mod entry;
pub mod epochs;
pub mod events;
mod hooks;
pub mod install;
mod jit_runtime;
pub mod ledger;
mod module_code;
pub mod policy;
pub mod pool;

pub use code_cache::{CodeCache, CodeStats};
pub use entry::RunError;
pub use jit_runtime::JitRuntime;
pub use ledger::{CompileStats, FuncRecord, TierStats};
pub use module_code::{JitOptions, ModuleCode};
pub use policy::TieringPolicy;
