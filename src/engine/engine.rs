//! The engine: shared, immutable settings.

use super::{Config, Tier};
use crate::error::{Error, Result};
use std::sync::Arc;

/// Shared, immutable engine state. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(super) config: Arc<Config>,
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
        Ok(Engine {
            config: Arc::new(config),
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
}
