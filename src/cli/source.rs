//! Where a program comes from: a file, or standard input for `-`.

use std::io::Read;
use std::path::Path;
use tierjit::bytecode::Module as Bytecode;
use tierjit::{Engine, Module};

/// The name that stands for standard input, as in other Unix tools.
pub(crate) const STDIN_ARG: &str = "-";

/// The name error messages give standard input.
pub(crate) const STDIN_NAME: &str = "<stdin>";

/// A program's bytes and the name messages give it.
#[derive(Clone)]
pub(crate) struct Source {
    pub(crate) name: String,
    pub(crate) bytes: Vec<u8>,
}

impl Source {
    /// The bytes of `file`, or of standard input when `file` is `-`.
    pub(crate) fn read(file: &Path) -> Result<Source, String> {
        if file.as_os_str() == STDIN_ARG {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("{STDIN_NAME}: {e}"))?;
            return Ok(Source {
                name: STDIN_NAME.to_string(),
                bytes,
            });
        }
        let name = file.display().to_string();
        let bytes = std::fs::read(file).map_err(|e| format!("{name}: {e}"))?;
        Ok(Source { name, bytes })
    }

    /// Parse (the bytes must be UTF-8; an error names the place of the
    /// first that is not) and verify the program: a Lark program (a file
    /// named `*.lark`) through its compiler, anything else as `.tj` text.
    pub(crate) fn module(&self, engine: &Engine) -> Result<Module, String> {
        if self.is_lark() {
            let text = std::str::from_utf8(&self.bytes).map_err(|e| {
                let before = &self.bytes[..e.valid_up_to()];
                let before = std::str::from_utf8(before).unwrap_or_default();
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                let byte = self.bytes[e.valid_up_to()];
                format!("{}:{line}:{col}: invalid UTF-8 byte {byte:#04x}", self.name)
            })?;
            // A compile error names the file itself: it is one line as is.
            let code = tierjit::lang::compile(text, &self.name).map_err(|e| e.to_string())?;
            return self.verify(engine, code).map_err(|e| self.error(e));
        }
        tierjit::bytecode::text::parse_bytes(&self.bytes)
            .map_err(tierjit::Error::from)
            .and_then(|code| self.verify(engine, code))
            .map_err(|e| self.error(e))
    }

    /// Verify `code`, made from this source: profilers and debuggers see a
    /// file's code under its name and lines.
    fn verify(&self, engine: &Engine, code: Bytecode) -> tierjit::Result<Module> {
        if self.name == STDIN_NAME {
            Module::from_bytecode(engine, code)
        } else {
            Module::from_bytecode_of_file(engine, code, &self.name)
        }
    }

    /// Whether the source is a Lark program, by its file name.
    fn is_lark(&self) -> bool {
        Path::new(&self.name)
            .extension()
            .is_some_and(|e| e == tierjit::lang::EXTENSION)
    }

    /// `e` prefixed with the program's name.
    pub(crate) fn error(&self, e: impl std::fmt::Display) -> String {
        format!("{}: {e}", self.name)
    }
}
