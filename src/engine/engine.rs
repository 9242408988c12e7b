//! The engine: shared, immutable settings.

use super::{Config, Tier};
use crate::error::{Error, Result};
use crate::tiering::{CodeCache, CodeStats};
use std::sync::Arc;

/// Shared engine state: the settings, and the compiled code of every module
/// loaded into it with the compiler threads that serve them. Cheap to
/// clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(super) config: Arc<Config>,
    pub(super) code: Arc<CodeCache>,
}

impl Engine {
    /// An engine with this configuration. Fails if the requested tier is not
    /// part of this build.
    pub fn new(config: Config) -> Result<Engine> {
        if !config.tier.is_available() {
            return Err(Error::Config(format!(
                "tier `{}` is not available in this build (available: {})",
                config.tier,
                Tier::ALL
                    .iter()
                    .filter(|t| t.is_available())
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if config.max_call_depth == 0 {
            return Err(Error::Config("max_call_depth must be at least 1".into()));
        }
        let code = CodeCache::new(
            config.code_memory_limit,
            config.compiler_threads,
            config.cranelift,
            config.code_observers(),
        );
        Ok(Engine {
            config: Arc::new(config),
            code,
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The engine that runs code.
    pub fn effective_tier(&self) -> Tier {
        self.config.tier
    }

    /// The engine's compiled code now: executable bytes in use, versions,
    /// evictions and refusals at the cap, compiles over budget, compiler
    /// threads and queued compiles.
    pub fn code_stats(&self) -> CodeStats {
        self.code.stats()
    }
}
