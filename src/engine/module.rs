//! A verified module, ready to instantiate.

use super::{Engine, Tier};
use crate::bytecode::{self};
use crate::error::{Error, Result};
use crate::runtime::code_info::ModuleSource;
use crate::runtime::context::FuncTier;
use crate::runtime::frame::FrameLayout;
use crate::runtime::structs::StructLayouts;
use crate::tiering::{JitOptions, ModuleCode, TierStats};
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
    /// The compiled code, shared by every instance (none under the
    /// interpreter).
    pub(super) jit: Option<Arc<ModuleCode>>,
}

/// A verified module, ready to instantiate, with its compiled code: every
/// instance of it, on any thread, runs the same code, so only the first
/// call of a function in any of them compiles it. Cheap to clone; `Send +
/// Sync`.
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
    /// Profilers and debuggers see its code under the file's name, with
    /// source lines in that file.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)?;
        let code = bytecode::text::parse_bytes(&bytes)?;
        Module::from_bytecode_of_file(engine, code, path)
    }

    /// [`Module::from_bytecode`] for bytecode made from the file `path`
    /// (`.tj` text or a Lark program), whose lines its ops' source lines
    /// are: profilers and debuggers see its code under the file's name.
    pub fn from_bytecode_of_file(
        engine: &Engine,
        code: bytecode::Module,
        path: impl AsRef<Path>,
    ) -> Result<Module> {
        Module::from_bytecode_in(engine, code, ModuleSource::of_file(path.as_ref()))
    }

    /// The frame layout of every function, by index.
    pub fn layouts(&self) -> &[FrameLayout] {
        &self.inner.layouts
    }

    /// Verify a module built with the builder (or by hand).
    pub fn from_bytecode(engine: &Engine, code: bytecode::Module) -> Result<Module> {
        Module::from_bytecode_in(engine, code, ModuleSource::default())
    }

    /// Verify `code`, read from `source`.
    fn from_bytecode_in(
        engine: &Engine,
        code: bytecode::Module,
        source: ModuleSource,
    ) -> Result<Module> {
        bytecode::verify::verify(&code)?;
        let layouts = FrameLayout::all(&code).into();
        let structs = Arc::new(StructLayouts::of(&code));
        let code = Arc::new(code);
        let config = engine.config();
        let first_tier = match config.tier {
            Tier::Template | Tier::Auto => Some(FuncTier::Template),
            Tier::Cranelift => Some(FuncTier::Cranelift),
            Tier::Interp => None,
        };
        let tiering = (config.tier == Tier::Auto).then_some(config.tiering);
        let jit = first_tier.map(|first_tier| {
            let options = JitOptions {
                first_tier,
                tiering,
            };
            ModuleCode::new(
                code.clone(),
                source,
                Arc::clone(&layouts),
                engine.code.clone(),
                options,
            )
        });
        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                code,
                layouts,
                structs,
                jit,
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

    /// What the JIT tiers compiled of this module so far, over all its
    /// instances, per tier (zero under the interpreter).
    pub fn compile_stats(&self) -> TierStats {
        self.inner
            .jit
            .as_ref()
            .map(|j| j.stats())
            .unwrap_or_default()
    }

    /// The tier function `name` runs in now, in every instance:
    /// [`Tier::Interp`] under the interpreter, `None` when it has not been
    /// compiled yet.
    pub fn tier_of(&self, name: &str) -> Result<Option<Tier>> {
        let idx = self.func_index(name)?;
        Ok(self.tier_at(idx))
    }

    /// [`Module::tier_of`] by index.
    pub(super) fn tier_at(&self, idx: usize) -> Option<Tier> {
        match self.inner.jit.as_ref().map(|j| j.tier_of(idx)) {
            None => Some(Tier::Interp),
            Some(Some(FuncTier::Template)) => Some(Tier::Template),
            Some(Some(FuncTier::Cranelift)) => Some(Tier::Cranelift),
            Some(_) => None,
        }
    }

    /// The index of function `name`.
    pub fn func_index(&self, name: &str) -> Result<usize> {
        self.bytecode()
            .function_index(name)
            .ok_or_else(|| Error::Call(format!("no function named `{name}`")))
    }

    /// Move function `name` to the Cranelift tier now, for every instance,
    /// and return once it is installed (see [`Instance::tier_up`](super::Instance::tier_up)).
    pub fn tier_up(&self, name: &str) -> Result<()> {
        let idx = self.func_index(name)?;
        self.jit()?.tier_up(idx)?;
        Ok(())
    }

    /// Evict every Cranelift version of this module's functions: calls go
    /// back to their template code, which may tier up again later. Returns
    /// how many versions went. Code still running finishes first; its
    /// memory is freed when no call that may run it is left.
    pub fn evict_cranelift_code(&self) -> Result<usize> {
        Ok(self.jit()?.evict_cranelift())
    }

    /// The shared compiled code, or an error under the interpreter.
    pub(super) fn jit(&self) -> Result<&Arc<ModuleCode>> {
        self.inner.jit.as_ref().ok_or_else(|| {
            Error::Call("this module runs in the interpreter: it compiles nothing".into())
        })
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
