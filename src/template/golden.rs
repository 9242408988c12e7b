//! Golden-file checks for disassembly listings. `TIERJIT_BLESS=1` rewrites
//! the expectations instead of comparing.

#![cfg(test)]

use std::path::PathBuf;

/// The environment variable that re-blesses golden files.
pub const BLESS_ENV: &str = "TIERJIT_BLESS";

/// Compare `actual` with `tests/golden/<name>.txt`, or write it when
/// `TIERJIT_BLESS` is set.
pub fn check(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.txt"));
    if std::env::var_os(BLESS_ENV).is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("golden dir");
        }
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {}: run with {BLESS_ENV}=1",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "golden mismatch for {name} ({}); re-bless with {BLESS_ENV}=1 if intended\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}
