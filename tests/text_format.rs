//! Text format: round trips of the programs under `programs/`, of random
//! modules, "the parser never panics" properties, the integer literal
//! rules, `parse_bytes`, and the documented examples run on every tier.

mod common;

use common::generate::{self, GenConfig};
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};
use tierjit::bytecode::Module;
use tierjit::bytecode::text::{parse, parse_bytes, parse_int_literal, print};
use tierjit::bytecode::{Op, Opcode};
use tierjit::{Config, Engine, Error, Instance, SharedOutput, Tier, TrapKind, Value};

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
        "0xffff",
        "0x8000",
        "0x9E3779B97F4A7C15",
        "100000",
        "mov",
        "fmov",
        "addi",
        "add",
        "jlt",
        "jlti",
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

/// The line and column, as the text format counts them, of the character
/// after `prefix`: lines split at `\n`, columns in characters from 1.
fn place_after(prefix: &str) -> (u32, u32) {
    let line = prefix.split('\n').count();
    let col = prefix.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line as u32, col as u32)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_bytes_never_panics_and_agrees_with_parse(
        bytes in prop::collection::vec(any::<u8>(), 0..512)
    ) {
        let got = parse_bytes(&bytes);
        match std::str::from_utf8(&bytes) {
            Ok(text) => prop_assert_eq!(got, parse(text)),
            Err(e) => {
                let e8 = e;
                let err = got.expect_err("not UTF-8");
                let prefix = std::str::from_utf8(&bytes[..e8.valid_up_to()]).unwrap();
                prop_assert_eq!((err.line, err.column), place_after(prefix));
                let expected = format!("invalid UTF-8 byte {:#04x}", bytes[e8.valid_up_to()]);
                prop_assert!(err.message.starts_with(&expected), "{}", err);
                let _ = err.to_string();
            }
        }
    }

    #[test]
    fn parse_bytes_places_a_bad_byte_after_any_text(
        prefix in any::<String>(),
        bad in prop::sample::select(vec![0x80u8, 0xbf, 0xc0, 0xc1, 0xf5, 0xfe, 0xff]),
        rest in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut bytes = prefix.clone().into_bytes();
        bytes.push(bad);
        bytes.extend(rest);
        let err = parse_bytes(&bytes).expect_err("not UTF-8");
        prop_assert_eq!((err.line, err.column), place_after(&prefix));
        let expected = format!("invalid UTF-8 byte {bad:#04x}");
        prop_assert!(err.message.starts_with(&expected), "{}", err);
    }

    #[test]
    fn every_i64_is_written_in_decimal_and_hex(v in any::<i64>()) {
        let bits = v as u64;
        for text in [
            v.to_string(),
            format!("{bits:#x}"),
            format!("{bits:#X}"),
            format!("{bits:#018x}"),
        ] {
            prop_assert_eq!(parse_int_literal(&text), Ok(v), "{}", text);
        }
        // `-0xN` is the value -N.
        let mag = v.unsigned_abs();
        prop_assert_eq!(
            parse_int_literal(&format!("-{mag:#x}")),
            Ok((mag as i64).wrapping_neg())
        );
        // 65 bits, and decimal past i64, do not fit.
        let e = parse_int_literal(&format!("0x1{bits:016x}")).unwrap_err();
        prop_assert!(e.contains("does not fit 64 bits"), "{}", e);
        let past = i128::from(v) + (1i128 << 64);
        let e = parse_int_literal(&past.to_string()).unwrap_err();
        prop_assert!(e.contains("does not fit 64 bits"), "{}", e);
        let e = parse_int_literal(&(-past).to_string()).unwrap_err();
        prop_assert!(e.contains("does not fit 64 bits"), "{}", e);
    }

    #[test]
    fn every_16_bit_pattern_is_an_immediate_in_hex(bits in any::<u16>()) {
        let src = format!(
            "func main() -> none\n  andi i0, i0, {bits:#x}\n  jgei i0, {bits:#06x}, l\nl: ret\nend\n"
        );
        let m = parse(&src).unwrap();
        let code = &m.functions[0].code;
        prop_assert_eq!(code[0], Op::new(Opcode::AndI, 0, 0, bits));
        prop_assert_eq!(code[1], Op::new(Opcode::JGeI, 0, bits, 2));
        // Decimal takes the value the op sees.
        let dec = src
            .replace(&format!("{bits:#x}"), &(bits as i16).to_string())
            .replace(&format!("{bits:#06x}"), &(bits as i16).to_string());
        prop_assert_eq!(parse(&dec), Ok(m.clone()));
        prop_assert_eq!(parse(&print(&m)).map(no_import_lines), Ok(no_import_lines(m)));
    }
}

/// Runs `main` of `src` on `tier`: its result (or trap kind) and output.
fn run(tier: Tier, src: &str, args: &[Value]) -> (Result<Option<Value>, TrapKind>, String) {
    let mut config = Config::new();
    config.tier(tier).background_compilation(false);
    let engine = Engine::new(config).expect("engine");
    let module = tierjit::Module::new(&engine, src).unwrap_or_else(|e| panic!("{e}"));
    let mut instance = Instance::new(&module).expect("instance");
    let out = SharedOutput::new();
    instance.set_output(out.clone());
    let result = match instance.call("main", args) {
        Ok(v) => Ok(v),
        Err(Error::Trap(t)) => Err(t.kind),
        Err(e) => panic!("{tier:?}: {e}"),
    };
    (result, out.take_string())
}

fn tiers() -> impl Iterator<Item = Tier> {
    Tier::ALL.into_iter().filter(|t| t.is_available())
}

#[test]
fn literals_run_as_documented() {
    let src = r#"
func main(i=0xffffffffffffffff) -> none
    printi i0                      ; -1
    prints " "
    iconst i1, 0x9E3779B97F4A7C15
    printi i1
    prints " "
    iconst i1, -0x8000000000000000
    printi i1
    prints " "
    iconst i2, 0x123456789
    andi i3, i2, 0xffff            ; and with -1: all 64 bits
    printi i3
    prints " "
    iconst i4, 0xffff              ; 65535
    and i3, i2, i4                 ; the low 16 bits
    printi i3
    prints " "
    addi i3, i4, 0x8000            ; 65535 - 32768
    printi i3
    prints "\n"
    ret
end
"#;
    for tier in tiers() {
        assert_eq!(
            run(tier, src, &[]),
            (
                Ok(None),
                "-1 -7046029254386353131 -9223372036854775808 4886718345 26505 32767\n".to_string()
            ),
            "{tier:?}"
        );
    }
}

#[test]
fn argument_windows_and_labels_run_as_documented() {
    // The example of docs/text-format.md, section Calls, with several
    // labels on one op.
    let src = r#"
func g(i, f, i) -> i
    printi i0
    prints " "
    printf f0, 1
    prints " "
    printi i1
    prints "\n"
    reti i1
end

func main() -> none
    iconst i0, 10
    iconst i1, 11
    iconst i2, 12
    fconst f0, 0.5
    fconst f1, 1.5
    call i0, g, 1
    printi i0
    prints "\n"
    jmp b
a:
b: c:
d: prints "labels\n"
    ret
end
"#;
    let m = parse(src).unwrap();
    assert_eq!(m.functions[1].regs, [3, 2, 0]);
    for tier in tiers() {
        assert_eq!(
            run(tier, src, &[]),
            (Ok(None), "11 1.5 12\n12\nlabels\n".to_string()),
            "{tier:?}"
        );
    }
}

#[test]
fn default_call_depth_is_200_000_activations() {
    // `main` is depth 1: it can nest 199,999 calls below it, not 200,000.
    let src = r#"
func down(i) -> none
    jeqi i0, 0, out
    subi i0, i0, 1
    call -, down, 0
out:
    ret
end

func main(i) -> none
    call -, down, 0
    ret
end
"#;
    for tier in tiers() {
        assert_eq!(run(tier, src, &[Value::I(199_998)]).0, Ok(None), "{tier:?}");
        assert_eq!(
            run(tier, src, &[Value::I(199_999)]).0,
            Err(TrapKind::StackOverflow),
            "{tier:?}"
        );
    }
}

/// A trap names the source line and column of the trapping op on every
/// engine, in `Trap` and in its message; a module built without text has
/// no position.
#[test]
fn traps_name_the_source_line_and_column() {
    let src = "func helper(i) -> i\n    iconst i1, 7\n  divi i0, i0, 1\n\t rem i0, i1, i0\n    reti i0\nend\nfunc main(i) -> i\n    call i0, helper, 0\n    reti i0\nend\n";
    for tier in [Tier::Interp, Tier::Template, Tier::Cranelift, Tier::Auto] {
        let mut config = Config::new();
        config.tier(tier);
        let engine = Engine::new(config).unwrap();
        let module = tierjit::Module::new(&engine, src).unwrap();
        let mut instance = Instance::new(&module).unwrap();
        let Err(Error::Trap(trap)) = instance.call("main", &[Value::I(0)]) else {
            panic!("{tier}: expected a trap");
        };
        assert_eq!(trap.kind, TrapKind::DivisionByZero, "{tier}");
        assert_eq!((trap.func_name.as_str(), trap.pc), ("helper", 2), "{tier}");
        assert_eq!(trap.position, Some((4, 3)), "{tier}: a tab is one column");
        assert!(
            trap.to_string().ends_with("at op 2 (line 4, column 3)"),
            "{tier}: {trap}"
        );
        // The instance stays usable.
        assert_eq!(
            instance.call("main", &[Value::I(7)]).unwrap(),
            Some(Value::I(0))
        );
    }
    let mut m = parse(src).unwrap();
    for f in &mut m.functions {
        f.lines.clear();
        f.columns.clear();
    }
    let engine = Engine::new(Config::new()).unwrap();
    let module = tierjit::Module::from_bytecode(&engine, m).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    let Err(Error::Trap(trap)) = instance.call("main", &[Value::I(0)]) else {
        panic!("expected a trap");
    };
    assert_eq!(trap.position, None);
    assert!(trap.to_string().ends_with("at op 2"), "{trap}");
}
