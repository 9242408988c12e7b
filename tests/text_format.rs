//! Text format: round trips of the programs under `programs/`, of random
//! modules, and "the parser never panics" properties.

mod common;

use common::generate::{self, GenConfig};
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};
use tierjit::bytecode::Module;
use tierjit::bytecode::text::{parse, print};

/// `m` with every `Import::line` cleared (imports compare their line).
fn no_import_lines(mut m: Module) -> Module {
    for i in &mut m.imports {
        i.line = None;
    }
    m
}

/// Every `*.tj` file under `dir`, recursively, sorted.
fn tj_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            tj_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "tj") {
            out.push(path);
        }
    }
    out.sort();
}

/// `parse(print(m))` is `m`, and printing is a fixed point.
fn assert_round_trip(m: &Module, what: &str) {
    let text = print(m);
    let back =
        parse(&text).unwrap_or_else(|e| panic!("{what}: printed text does not parse: {e}\n{text}"));
    assert_eq!(
        no_import_lines(back.clone()),
        no_import_lines(m.clone()),
        "{what}: round trip changed the module\n{text}"
    );
    assert_eq!(print(&back), text, "{what}: print is not a fixed point");
    for f in &back.functions {
        assert_eq!(f.lines.len(), f.code.len(), "{what}: lines not filled");
    }
}

#[test]
fn programs_round_trip() {
    let mut files = Vec::new();
    tj_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("programs"),
        &mut files,
    );
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let what = path.display().to_string();
        let m = parse(&src).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_round_trip(&m, &what);
    }
}

/// A program exercising most of the syntax, the base of the mutation test.
const SAMPLE: &str = r#"; sample
import put(i, f) -> none
func main(i=40, f) -> none
    iconst i1, 123456789012
    fconst f1, -2.5e-3
    fconst f2, bits:0x7ff8000000000001
top: jlti i0, 2, out
    subi i0, i0, 1
    call i2, fib, 0
    hcall -, put, 0
    prints "a\tb\u{1F600}\"\n"
    printf f1, 9
    jmp top
out:
    ret
end

func fib(i) -> i regs i=3 f=0 r=0
    reti i0
end
"#;

/// Pieces of text that the mutations insert.
fn token() -> impl Strategy<Value = String> {
    let fixed = vec![
        "func",
        "end",
        "import",
        "regs",
        "->",
        "-",
        "(",
        ")",
        ",",
        ":",
        "=",
        ";",
        "\"",
        "\\",
        "\\u{",
        "}",
        "\n",
        " ",
        "i0",
        "f65535",
        "r65536",
        "i99999999999999999999",
        "L1",
        "top:",
        "bits:",
        "0x",
        "-0x8000000000000000",
        "99999999999999999999999999",
        "1e400",
        "-inf",
        "nan",
        "iconst",
        "call",
        "hcall",
        "jmp",
        "main",
        "fib",
        "put",
        "i=",
        "\u{feff}",
        "\r",
        "é",
        "\u{0}",
    ];
    prop_oneof![
        prop::sample::select(fixed).prop_map(String::from),
        any::<char>().prop_map(String::from)
    ]
}

/// One edit of a text.
#[derive(Clone, Debug)]
enum Edit {
    Delete(Index, usize),
    Insert(Index, String),
    Replace(Index, String),
    DuplicateLine(Index),
    DeleteLine(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), 1usize..8).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<Index>(), token()).prop_map(|(i, t)| Edit::Insert(i, t)),
        (any::<Index>(), token()).prop_map(|(i, t)| Edit::Replace(i, t)),
        any::<Index>().prop_map(Edit::DuplicateLine),
        any::<Index>().prop_map(Edit::DeleteLine),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    match edit {
        Edit::Delete(i, n) if len > 0 => {
            let at = i.index(len);
            chars.drain(at..(at + n).min(len));
        }
        Edit::Insert(i, t) => {
            let at = i.index(len + 1);
            chars.splice(at..at, t.chars());
        }
        Edit::Replace(i, t) if len > 0 => {
            let at = i.index(len);
            chars.splice(at..at + 1, t.chars());
        }
        Edit::DuplicateLine(i) | Edit::DeleteLine(i) => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let at = i.index(lines.len());
            if matches!(edit, Edit::DuplicateLine(_)) {
                lines.insert(at, lines[at]);
            } else {
                lines.remove(at);
            }
            return lines.join("\n");
        }
        _ => {}
    }
    chars.into_iter().collect()
}

/// When a text parses, its module round-trips like any other.
fn check_parsed(text: &str) -> Result<(), TestCaseError> {
    if let Ok(m) = parse(text) {
        let printed = print(&m);
        let back = parse(&printed).map(no_import_lines);
        prop_assert_eq!(back, Ok(no_import_lines(m)), "printed:\n{}", printed);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_strings(s in any::<String>()) {
        check_parsed(&s)?;
    }

    #[test]
    fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_parsed(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn parse_never_panics_on_token_soup(toks in prop::collection::vec(token(), 0..80)) {
        check_parsed(&toks.join(" "))?;
        check_parsed(&toks.concat())?;
    }

    #[test]
    fn parse_never_panics_on_mutations(edits in prop::collection::vec(edit(), 1..6)) {
        let mut text = SAMPLE.to_string();
        for e in &edits {
            text = apply(&text, e);
            check_parsed(&text)?;
        }
    }

    #[test]
    fn parse_never_panics_on_mutated_random_modules(
        m in generate::module(GenConfig::default()),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let mut text = print(&m);
        for e in &edits {
            text = apply(&text, e);
            check_parsed(&text)?;
        }
    }

    #[test]
    fn random_modules_round_trip(m in generate::module(GenConfig::default())) {
        let text = print(&m);
        prop_assert_eq!(parse(&text).map(no_import_lines), Ok(m), "printed:\n{}", text);
    }

    #[test]
    fn terminating_modules_round_trip(m in generate::module(GenConfig::terminating())) {
        prop_assert_eq!(m.entry(), Some(0));
        let text = print(&m);
        prop_assert_eq!(parse(&text).map(no_import_lines), Ok(m), "printed:\n{}", text);
    }

    #[test]
    fn terminating_modules_verify(m in generate::module(GenConfig::terminating())) {
        let checked = tierjit::bytecode::verify::verify(&m);
        prop_assert!(checked.is_ok(), "{:?}\n{}", checked, print(&m));
    }

    #[test]
    fn printing_garbage_never_panics(m in generate::garbage_module()) {
        let text = print(&m);
        let _ = tierjit::bytecode::text::print_annotated(&m);
        check_parsed(&text)?;
    }
}

#[test]
fn huge_and_degenerate_inputs() {
    for src in [
        String::new(),
        "\n".repeat(100_000),
        "(".repeat(100_000),
        format!(
            "func main() -> none\n iconst i0, {}\nend",
            "9".repeat(10_000)
        ),
        format!(
            "func main() -> none\n fconst f0, {}\nend",
            "9".repeat(10_000)
        ),
        format!("func main() -> none\n mov i0, i{}\nend", "9".repeat(10_000)),
        format!(
            "func main() -> none\n prints \"{}\"\nend",
            "\\u{1}".repeat(10_000)
        ),
        "func main() -> none\n prints \"\\u{ffffffff}\"\nend".to_string(),
        "\u{feff}func main() -> none\nend".to_string(),
    ] {
        let _ = parse(&src);
    }
}
