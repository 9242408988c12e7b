//! An instance's part of the compiled tiers: its context, its native stack,
//! its epoch slot and its own figures. Code, the function table and the
//! tier-up counters belong to the module ([`ModuleCode`]).

use super::epochs::EpochSlot;
use super::module_code::ModuleCode;
use crate::runtime::compile_error::CompileError;
use crate::runtime::context::{FuncTier, VmContext};
use crate::runtime::native_stack::NativeStack;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// An instance's state in the compiled tiers.
pub struct JitRuntime {
    pub(super) code: Arc<ModuleCode>,
    pub(super) ctx: Box<VmContext>,
    /// The native stack compiled code runs on, made at the first call.
    pub(super) stack: Option<NativeStack>,
    /// The epoch this instance's running call began at (0 when idle).
    pub(super) epoch: EpochSlot,
    /// Time this instance spent in the tiering hooks, and how many calls.
    pub(super) hook_time: Duration,
    pub(super) hook_calls: u64,
    /// Loop-header entries this instance made, by function.
    pub(super) osr_entries: HashMap<usize, u64>,
}

// SAFETY: the raw pointers in the context point into this runtime and the
// instance's store, which move with the instance; everything shared with
// other threads (the module's code) is `Sync`.
unsafe impl Send for JitRuntime {}

impl Drop for JitRuntime {
    fn drop(&mut self) {
        self.code.instance_dropped();
    }
}

impl JitRuntime {
    /// An instance's state over the module's shared `code`; nothing is
    /// compiled.
    pub fn new(code: Arc<ModuleCode>) -> JitRuntime {
        code.instance_made();
        let epoch = code.cache.epoch_slot();
        JitRuntime {
            code,
            ctx: Box::new(VmContext::empty()),
            stack: None,
            epoch,
            hook_time: Duration::ZERO,
            hook_calls: 0,
            osr_entries: HashMap::new(),
        }
    }

    /// The module's shared code.
    pub fn module_code(&self) -> &Arc<ModuleCode> {
        &self.code
    }

    /// Time this instance spent in the tiering hooks, and the hook calls.
    pub fn hook_figures(&self) -> (Duration, u64) {
        (self.hook_time, self.hook_calls)
    }

    /// Times this instance's activations of `func` continued in a
    /// loop-header version.
    pub fn osr_entries(&self, func: usize) -> u64 {
        self.osr_entries.get(&func).copied().unwrap_or(0)
    }

    /// Compile `func` in `tier` now (for every instance of the module).
    pub fn compile(&mut self, func: usize, tier: FuncTier) -> Result<usize, CompileError> {
        self.code.compile(func, tier)
    }

    /// Move `func` to the Cranelift tier now (for every instance).
    pub fn tier_up(&mut self, func: usize) -> Result<(), CompileError> {
        self.code.tier_up(func)
    }
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::super::code_cache::CodeCache;
    use super::super::module_code::JitOptions;
    use super::*;
    use crate::cranelift_tier::CraneliftSettings;
    use crate::runtime::compile_error::CompileFailure;
    use crate::runtime::frame::FrameLayout;

    fn runtime(src: &str) -> JitRuntime {
        let module = crate::bytecode::text::parse(src).expect("parses");
        crate::bytecode::verify::verify(&module).expect("verifies");
        let layouts: Arc<[FrameLayout]> = FrameLayout::all(&module).into();
        let options = JitOptions {
            first_tier: FuncTier::Template,
            tiering: None,
        };
        let cache = CodeCache::new(1 << 30, 1, CraneliftSettings::default(), Vec::new());
        JitRuntime::new(ModuleCode::new(
            Arc::new(module),
            Default::default(),
            layouts,
            cache,
            options,
        ))
    }

    #[test]
    fn failed_compiles_say_which_function_tier_and_why() {
        let rt =
            runtime("func f(i) -> i\ntop:\n  subi i0, i0, 1\n  jgti i0, 0, top\n  reti i0\nend\n");
        let code = rt.module_code();
        let e = code
            .compile_loop_entry(0, 2)
            .expect_err("op 2 is no loop header");
        assert_eq!(e.failure, CompileFailure::NotLoopHeader(2));
        assert_eq!(
            (e.func, e.func_name.as_str(), e.tier),
            (0, "f", FuncTier::Cranelift)
        );
        assert_eq!(
            e.to_string(),
            "cannot compile function `f` in the Cranelift tier: op 2 is not a loop header"
        );
        let e = code
            .compile(7, FuncTier::Template)
            .expect_err("no function 7");
        assert_eq!(e.failure, CompileFailure::NoSuchFunction(7));
        assert_eq!(e.func_name, "");
        // And the real header compiles.
        assert!(code.compile_loop_entry(0, 0).is_ok());
        assert!(
            !code.is_compiled(0),
            "an OSR version is not the function's entry"
        );
    }
}
