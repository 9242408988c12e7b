//! A verified module, ready to instantiate.

use super::Engine;
use crate::bytecode::{self};
use crate::error::Result;
use crate::runtime::frame::FrameLayout;
use crate::runtime::structs::StructLayouts;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

pub(super) struct ModuleInner {
    pub(super) engine: Engine,
    /// Shared with the instances' compiler threads.
    pub(super) code: Arc<bytecode::Module>,
    pub(super) layouts: Arc<[FrameLayout]>,
    /// The struct types' layouts, shared with the instances' heaps.
    pub(super) structs: Arc<StructLayouts>,
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

    /// Read, parse and verify a `.tj` file. Its bytes must be UTF-8: the
    /// error for one that is not names its line and column
    /// ([`bytecode::text::parse_bytes`]).
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let bytes = std::fs::read(path)?;
        Module::from_bytecode(engine, bytecode::text::parse_bytes(&bytes)?)
    }

    /// The frame layout of every function, by index.
    pub fn layouts(&self) -> &[FrameLayout] {
        &self.inner.layouts
    }

    /// Verify a module built with the builder (or by hand).
    pub fn from_bytecode(engine: &Engine, code: bytecode::Module) -> Result<Module> {
        bytecode::verify::verify(&code)?;
        let layouts = FrameLayout::all(&code).into();
        let structs = Arc::new(StructLayouts::of(&code));
        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                code: Arc::new(code),
                layouts,
                structs,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Error};

    #[test]
    fn files_are_read_as_bytes_and_bad_utf8_is_placed() {
        let dir = std::env::temp_dir().join(format!("tierjit-module-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let engine = Engine::new(Config::new()).expect("engine");
        let good = dir.join("good.tj");
        std::fs::write(
            &good,
            "func main() -> i\n  iconst i0, 0x10\n  reti i0\nend\n",
        )
        .unwrap();
        let m = Module::from_file(&engine, &good).expect("loads");
        assert_eq!(m.bytecode().functions[0].name, "main");
        let bad = dir.join("bad.tj");
        std::fs::write(&bad, b"func main() -> none\n  ret \xff\nend\n").unwrap();
        match Module::from_file(&engine, &bad) {
            Err(Error::Parse(e)) => {
                assert_eq!((e.line, e.column), (2, 7), "{e}");
                assert!(e.to_string().starts_with("2:7: "), "{e}");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
        assert!(matches!(
            Module::from_file(&engine, dir.join("missing.tj")),
            Err(Error::Io(_))
        ));
    }
}
