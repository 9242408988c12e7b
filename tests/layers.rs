//! The layers of the crate point down only: every `crate::` path in `src/`
//! (outside comments) names a module of the same top-level module or of a
//! lower layer, and the engines do not use each other. This is the check
//! `docs/architecture.md` refers to; a new top-level module must be given a
//! layer here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layer of each top-level module of the library, lowest first. Modules
/// of one layer may not use each other.
const LAYERS: &[&[&str]] = &[
    &["bytecode"],
    // The reference language's compiler stands on the bytecode alone, as an
    // outside implementer's would; nothing but the crate root uses it.
    &["lang"],
    &["runtime"],
    &["lowering"],
    &["interp", "template", "cranelift_tier"],
    &["tiering"],
    &["error"],
    &["engine"],
    &["disasm"],
    &["lib"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level library module a file of `src/` belongs to; `None` for
/// the binary (`main.rs`, `cli/`), which uses the library from outside.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "main" && name != "cli").then(|| name.to_string())
}

/// The top-level modules named by `crate::` paths on the code (not comment)
/// lines of `text`, with their line numbers.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((n + 1, name));
            }
            rest = after;
        }
    }
    found
}

#[test]
fn imports_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut edges = BTreeSet::new();
    for file in &files {
        let Some(from) = module_of(&src, file) else {
            continue;
        };
        let Some(from_layer) = layer_of(&from) else {
            violations.push(format!("{}: module `{from}` has no layer", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read file");
        for (line, to) in crate_paths(&text) {
            if to == from {
                continue;
            }
            // Items re-exported at the crate root (`crate::Trap`) are the
            // API's: only the top layers may name them so.
            let to_layer = layer_of(&to).unwrap_or(LAYERS.len() - 1);
            edges.insert((from.clone(), to.clone()));
            if to_layer >= from_layer {
                violations.push(format!(
                    "{}:{line}: `{from}` (layer {from_layer}) uses `crate::{to}` (layer {to_layer})",
                    file.display()
                ));
            }
        }
    }
    // The language's compiler sits just above the bytecode so that it may
    // use nothing else; the layers above must not lean on it either.
    for (from, to) in &edges {
        if to == "lang" && from != "lib" {
            violations.push(format!(
                "`{from}` uses `crate::lang`: only the CLI and the crate root may"
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "imports that do not point down:\n{}",
        violations.join("\n")
    );
    // The check sees real edges: the orchestrator drives both tiers, and
    // every engine stands on the runtime.
    for (from, to) in [
        ("tiering", "template"),
        ("tiering", "cranelift_tier"),
        ("interp", "runtime"),
        ("template", "runtime"),
        ("cranelift_tier", "lowering"),
        ("engine", "tiering"),
    ] {
        assert!(
            edges.contains(&(from.to_string(), to.to_string())),
            "expected `{from}` to use `{to}`"
        );
    }
}

#[test]
fn paths_in_comments_are_not_imports() {
    let found =
        crate_paths("use crate::runtime::Store; // crate::engine\n  let x = crate::interp::run();");
    assert_eq!(
        found,
        vec![(1, "runtime".to_string()), (2, "interp".to_string())]
    );
}
