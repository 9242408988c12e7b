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

/// One row of an expected-output manifest (`tests/expected/suite.tsv`,
/// `tests/expected/lang/programs.tsv`): a program, `main`'s arguments and
/// the file holding what it must print.
#[derive(Clone, Debug)]
pub struct ManifestRow {
    /// The program's path, relative to the repository root, as written.
    pub program: String,
    /// `main`'s arguments (none: the program's defaults).
    pub args: Vec<i64>,
    /// The expected output's file.
    pub expected: PathBuf,
}

impl ManifestRow {
    /// The expected output.
    pub fn expected_output(&self) -> String {
        std::fs::read_to_string(&self.expected)
            .unwrap_or_else(|e| panic!("{}: {e}", self.expected.display()))
    }
}

/// The rows of the manifest at `path` (`program<TAB>args<TAB>expected
/// file` per line, blank lines and `#` comments skipped); a malformed line
/// fails the test.
pub fn manifest(path: &Path) -> Vec<ManifestRow> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(
                cols.len(),
                3,
                "{}: bad manifest line {line:?}",
                path.display()
            );
            ManifestRow {
                program: cols[0].to_string(),
                args: cols[1]
                    .split_whitespace()
                    .map(|a| a.parse().unwrap_or_else(|e| panic!("{line:?}: {a}: {e}")))
                    .collect(),
                expected: root().join(cols[2]),
            }
        })
        .collect()
}

/// `count` functions `w0`..: each a loop of a few ops over its argument,
/// big enough that its Cranelift code takes a page; `main(n)` calls each
/// with n and sums.
pub fn many_functions(count: usize) -> String {
    let mut s = String::new();
    for k in 0..count {
        s.push_str(&format!(
            "func w{k}(i) -> i\n    iconst i1, 0\n    iconst i2, {k}\nl:\n    jge i1, i0, d\n    \
             mul i3, i1, i2\n    xor i2, i2, i3\n    addi i2, i2, {k}\n    shri i4, i2, 3\n    \
             add i2, i2, i4\n    addi i1, i1, 1\n    jmp l\nd:\n    reti i2\nend\n\n"
        ));
    }
    s.push_str("func main(i) -> i\n    iconst i1, 0\n");
    for k in 0..count {
        s.push_str(&format!(
            "    mov i5, i0\n    call i5, w{k}, 5\n    add i1, i1, i5\n"
        ));
    }
    s.push_str("    reti i1\nend\n");
    s
}

/// `fib(n)`, recursive: the function tests profile and unwind through
/// (the `main` that calls it is theirs).
pub const RECURSIVE_FIB: &str = "\
func fib(i) -> i
    jlti i0, 2, small
    subi i1, i0, 1
    call i1, fib, 1
    subi i2, i0, 2
    call i2, fib, 2
    add  i0, i1, i2
    reti i0
small:
    reti i0
end
";
