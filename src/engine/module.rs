//! A verified module, ready to instantiate.

use super::Engine;
use crate::bytecode::{self};
use crate::error::Result;
use crate::runtime::frame::FrameLayout;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

pub(super) struct ModuleInner {
    pub(super) engine: Engine,
    /// Shared with the instances' compiler threads.
    pub(super) code: Arc<bytecode::Module>,
    pub(super) layouts: Arc<[FrameLayout]>,
}

/// A verified module, ready to instantiate. Cheap to clone.
#[derive(Clone)]
pub struct Module {
    pub(super) inner: Arc<ModuleInner>,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("functions", &self.inner.code.functions.len())
            .field("imports", &self.inner.code.imports.len())
            .finish()
    }
}

impl Module {
    /// Parse and verify a module in the text format.
    pub fn new(engine: &Engine, text: &str) -> Result<Module> {
        let code = bytecode::text::parse(text)?;
        Module::from_bytecode(engine, code)
    }

    /// Read, parse and verify a `.tj` file.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let text = std::fs::read_to_string(path)?;
        Module::new(engine, &text)
    }

    /// The frame layout of every function, by index.
    pub fn layouts(&self) -> &[FrameLayout] {
        &self.inner.layouts
    }

    /// Verify a module built with the builder (or by hand).
    pub fn from_bytecode(engine: &Engine, code: bytecode::Module) -> Result<Module> {
        bytecode::verify::verify(&code)?;
        let layouts = code.functions.iter().map(FrameLayout::of).collect();
        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                code: Arc::new(code),
                layouts,
            }),
        })
    }

    /// The verified bytecode.
    pub fn bytecode(&self) -> &bytecode::Module {
        &self.inner.code
    }

    /// The engine it was loaded into.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}
