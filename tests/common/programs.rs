//! The repository's `.tj` programs, as the integration tests load them.

use std::path::{Path, PathBuf};
use tierjit::bytecode;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parse the program at `path`; a failure names the file.
pub fn load(path: &Path) -> bytecode::Module {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytecode::text::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The path of `programs/NAME.tj`.
pub fn suite_path(name: &str) -> PathBuf {
    root().join(format!("programs/{name}.tj"))
}

/// The text of `programs/NAME.tj`.
pub fn suite_source(name: &str) -> String {
    let path = suite_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `programs/NAME.tj`, parsed.
pub fn suite_program(name: &str) -> bytecode::Module {
    load(&suite_path(name))
}

/// The per-family programs, `programs/ops/*.tj`, sorted.
pub fn op_programs() -> Vec<PathBuf> {
    let dir = root().join("programs/ops");
    let mut programs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("programs/ops")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tj"))
        .collect();
    programs.sort();
    programs
}
