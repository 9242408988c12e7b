//! The embedding API, in the conventions of wasmtime: [`Config`] ->
//! [`Engine`] -> [`Module`] -> [`Instance`], with [`Linker`] for host
//! functions and [`TypedFunc`] for typed calls.
//!
//! ```
//! use tierjit::{Config, Engine, Instance, Module};
//!
//! let engine = Engine::new(Config::new())?;
//! let module = Module::new(&engine, r#"
//!     func add3(i, i, i) -> i
//!         add i0, i0, i1
//!         add i0, i0, i2
//!         reti i0
//!     end
//! "#)?;
//! let mut instance = Instance::new(&module)?;
//! let add3 = instance.typed_func::<(i64, i64, i64), i64>("add3")?;
//! assert_eq!(add3.call(&mut instance, (1, 2, 3))?, 6);
//! # Ok::<(), tierjit::Error>(())
//! ```

mod config;
#[allow(clippy::module_inception)]
mod engine;
mod instance;
mod linker;
mod module;
mod output;
mod typed;

pub use crate::cranelift_tier::{CompileBudget, CraneliftSettings, OptLevel, RegallocAlgorithm};
pub use crate::runtime::profiling::Profiling;
pub use crate::tiering::{CodeStats, CompileStats, TierStats, TieringPolicy};
pub use config::{
    Config, DEFAULT_CODE_MEMORY_LIMIT, HOT_CALLS_ENV, HOT_LOOPS_ENV, TIER_ENV, Tier,
    default_compiler_threads,
};
pub use engine::Engine;
pub use instance::{FunctionStats, HeapStats, Instance};
pub use linker::Linker;
pub use module::Module;
pub use output::{InterruptHandle, SharedOutput};
pub use typed::{Params, Results, TypedFunc, ValType};

#[cfg(test)]
mod tests {
    use super::*;

    fn shared<T: Send + Sync>() {}
    fn sent<T: Send>() {}

    #[test]
    fn engines_and_modules_are_shared_and_instances_sent_across_threads() {
        shared::<Engine>();
        shared::<Module>();
        sent::<Instance>();
    }
}
