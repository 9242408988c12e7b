//! tierjit: a two-tier JIT for a typed register bytecode.
//!
//! Programs are modules of functions over three typed register banks (i64,
//! f64, references) in fixed 8-byte ops ([`bytecode`]). They run through
//! engines that agree bit for bit: the reference [`interp`]reter, a
//! single-pass [`template`] JIT, a [`cranelift_tier`] JIT, and `auto` (the
//! default), where the [`tiering`] manager moves hot functions from the
//! template tier to Cranelift while the program runs. All engines share one
//! frame layout ([`runtime::frame`]), so functions move between them at calls
//! and at loop headers.
//!
//! The embedding API is in [`engine`] and re-exported here:
//!
//! ```
//! use tierjit::{Config, Engine, Instance, Module, Value};
//!
//! let engine = Engine::new(Config::new())?;
//! let module = Module::new(&engine, "
//!     func square(f) -> f
//!         fmul f0, f0, f0
//!         retf f0
//!     end
//! ")?;
//! let mut instance = Instance::new(&module)?;
//! assert_eq!(instance.call("square", &[Value::F(1.5)])?, Some(Value::F(2.25)));
//! # Ok::<(), tierjit::Error>(())
//! ```
//!
//! See the README for the text format and the CLI, and
//! `docs/architecture.md` for the design.

#![warn(missing_docs)]

pub mod bytecode;
pub mod cranelift_tier;
#[cfg(feature = "disasm")]
pub mod disasm;
pub mod engine;
pub mod error;
pub mod interp;
pub mod lang;
pub mod lowering;
pub mod runtime;
pub mod template;
pub mod tiering;

pub use bytecode::{Bank, Signature};
pub use engine::{
    CodeStats, CompileBudget, CompileStats, Config, CraneliftSettings, Engine, Instance,
    InterruptHandle, Linker, Module, OptLevel, Params, RegallocAlgorithm, Results, SharedOutput,
    TIER_ENV, Tier, TierStats, TypedFunc, ValType,
};
pub use error::{Error, ParseError, Result, VerifyError};
pub use runtime::code_info::{CodeKind, CodeObserver, CodeVersion, OpOffset};
pub use runtime::handles::HandleError;
pub use runtime::host::{Caller, HostFunc};
pub use runtime::objects::{ObjectError, ObjectKind, Objects};
pub use runtime::profiling::Profiling;
pub use runtime::trap::{Trap, TrapKind};
pub use runtime::value::{Ref, Value};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
