//! Why a function could not be compiled, in either JIT tier.

use super::context::FuncTier;
use crate::bytecode::Module;
use thiserror::Error;

/// What went wrong in a compilation, without naming the function.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CompileFailure {
    /// The module has no function of this index.
    #[error("no function {0}")]
    NoSuchFunction(usize),
    /// A loop-header (on-stack replacement) entry was asked at an op that
    /// no backward jump targets.
    #[error("op {0} is not a loop header")]
    NotLoopHeader(u32),
    /// The template tier's assembler failed (an unbound label, a branch out
    /// of range, an encoding it does not have).
    #[error("assembly failed: {0}")]
    Assembly(String),
    /// Cranelift refused the function or its settings.
    #[error("Cranelift: {0}")]
    Cranelift(String),
    /// The host has no Cranelift back end, or Cranelift's settings do not
    /// apply to it.
    #[error("no Cranelift back end for this host: {0}")]
    HostIsa(String),
    /// Executable memory could not be mapped, written or sealed.
    #[error("executable memory: {0}")]
    CodeMemory(String),
    /// The compile would exceed its budget (the Cranelift tier's
    /// `CompileBudget`); `what` names the measure, its value and the limit.
    #[error("over budget: {what}")]
    OverBudget {
        /// The measure and the limit it exceeds.
        what: String,
    },
    /// The engine's executable memory is at its cap: a Cranelift version
    /// is refused and the function runs where it is.
    #[error("code memory cap: {0}")]
    CodeCap(String),
}

/// A failed compilation: which function, in which tier, and why.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("cannot compile function `{func_name}` in the {tier} tier: {failure}")]
pub struct CompileError {
    /// Index of the function.
    pub func: usize,
    /// Its name (empty when the index names no function).
    pub func_name: String,
    /// The tier it was compiled in.
    pub tier: FuncTier,
    /// What went wrong.
    pub failure: CompileFailure,
}

impl CompileError {
    /// A failure to compile function `func` of `module` in `tier`, with the
    /// function's name (empty when the index names no function).
    pub fn in_module(
        module: &Module,
        func: usize,
        tier: FuncTier,
        failure: CompileFailure,
    ) -> CompileError {
        CompileError {
            func,
            func_name: module
                .functions
                .get(func)
                .map(|f| f.name.clone())
                .unwrap_or_default(),
            tier,
            failure,
        }
    }
}
