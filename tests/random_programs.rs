//! Random valid, terminating programs through every engine: results, traps
//! (kind, function, op index) and output must agree with the interpreter.
//! `PROPTEST_CASES` raises the count (CI default: 1000 per run).

mod common;
mod differential;

use common::generate::{GenConfig, module};
use proptest::prelude::*;
use tierjit::Bank;

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_agree_on_every_engine(m in module(GenConfig::terminating())) {
        // Host functions cannot return references (the linker refuses).
        prop_assume!(m.imports.iter().all(|i| i.sig.result != Some(Bank::R)));
        tierjit::bytecode::verify::verify(&m).expect("generated modules verify");
        differential::check_with(&m, "main", &[], |c| {
            c.heap_limit(64 << 20);
        });
    }
}
