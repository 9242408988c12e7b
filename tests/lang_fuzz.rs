//! The Lark front end fuzzed with mutants of real programs: every program
//! of `programs/lang/` with tokens deleted, replaced by other tokens of the
//! same program, or lines duplicated and moved. Most mutants still parse,
//! so this reaches the type checker and the code generator far more often
//! than random text. Each mutant must give a module the verifier accepts
//! or one error line naming a line and column, never a panic.

use proptest::prelude::*;
use tierjit::lang::compile;

/// Every Lark program, cut into tokens: runs of identifier characters,
/// runs of spaces, and single other characters (so `->` is two).
fn corpus() -> &'static [Vec<String>] {
    static CORPUS: std::sync::OnceLock<Vec<Vec<String>>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(read_corpus)
}

fn read_corpus() -> Vec<Vec<String>> {
    let dir = format!("{}/programs/lang", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("programs/lang")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == tierjit::lang::EXTENSION))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| tokens(&std::fs::read_to_string(p).expect("source")))
        .collect()
}

fn tokens(src: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let class = |c: char| {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            0
        } else if c == ' ' {
            1
        } else {
            2
        }
    };
    for c in src.chars() {
        match out.last_mut() {
            Some(last) if class(c) != 2 && last.chars().all(|l| class(l) == class(c)) => {
                last.push(c)
            }
            _ => out.push(c.to_string()),
        }
    }
    out
}

/// One edit; the numbers are reduced modulo the sizes they index.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Replace(usize, usize),
    DuplicateLine(usize, usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Replace(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::DuplicateLine(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(tokens: &mut Vec<String>, m: &Mutation) {
    if tokens.is_empty() {
        return;
    }
    let n = tokens.len();
    match *m {
        Mutation::Delete(a) => {
            tokens.remove(a % n);
        }
        Mutation::Replace(a, b) => tokens[a % n] = tokens[b % n].clone(),
        Mutation::DuplicateLine(..) | Mutation::SwapLines(..) => {
            let text = tokens.concat();
            let mut lines: Vec<&str> = text.lines().collect();
            let k = lines.len().max(1);
            match *m {
                Mutation::DuplicateLine(a, b) => {
                    let line = lines.get(a % k).copied().unwrap_or_default();
                    lines.insert(b % (lines.len() + 1), line);
                }
                Mutation::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % k, b % k),
                _ => {}
            }
            *tokens = self::tokens(&lines.join("\n"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn mutated_programs_compile_or_fail_cleanly(
        which in any::<usize>(),
        edits in proptest::collection::vec(mutation(), 1..4),
    ) {
        let corpus = corpus();
        prop_assume!(!corpus.is_empty());
        let mut toks = corpus[which % corpus.len()].clone();
        for m in &edits {
            apply(&mut toks, m);
        }
        let src = toks.concat();
        match compile(&src, "mutant.lark") {
            Ok(module) => {
                // The compiler's output always verifies.
                let mut config = tierjit::Config::default();
                config.tier(tierjit::Tier::Interp);
                let engine = tierjit::Engine::new(config).expect("engine");
                if let Err(e) = tierjit::Module::from_bytecode(&engine, module) {
                    panic!("a compiled mutant does not load: {e}\n{src}");
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let mut parts = msg.splitn(4, ':');
                let (file, line, col) = (parts.next(), parts.next(), parts.next());
                prop_assert_eq!(file, Some("mutant.lark"), "{}", msg);
                prop_assert!(line.is_some_and(|l| l.parse::<u32>().is_ok()), "{}", msg);
                prop_assert!(col.is_some_and(|c| c.parse::<u32>().is_ok()), "{}", msg);
                prop_assert!(!msg.contains('\n'), "one line: {}", msg);
            }
        }
    }
}
