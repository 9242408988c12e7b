//! Random valid, terminating programs through every engine: results, traps
//! (kind, function, op index) and output must agree with the interpreter.
//! 10,000 programs per run, and 2,500 more whose functions each run their
//! second part in a loop; `PROPTEST_CASES` changes both counts. And 1,000
//! programs of mostly struct ops, whose registers mostly hold structs, so
//! that field accesses succeed as often as they trap.

mod common;
mod differential;

use common::generate::{GenConfig, module, wrap_in_loop};
use proptest::prelude::*;
use tierjit::Bank;
use tierjit::bytecode::{Module, NO_REG, Opcode};

/// Host functions cannot return references (the linker refuses): make such
/// imports return nothing, and their calls discard the result.
fn without_ref_host_results(m: &mut Module) {
    for (h, imp) in m.imports.iter_mut().enumerate() {
        if imp.sig.result == Some(Bank::R) {
            imp.sig.result = None;
            for f in &mut m.functions {
                for op in &mut f.code {
                    if op.opcode == Opcode::HostCall && usize::from(op.b) == h {
                        op.a = NO_REG;
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
    ))]

    #[test]
    fn random_programs_agree_on_every_engine(mut m in module(GenConfig::terminating())) {
        without_ref_host_results(&mut m);
        tierjit::bytecode::verify::verify(&m).expect("generated modules verify");
        differential::check_with(&m, "main", &[], |c| {
            c.heap_limit(64 << 20);
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_500)
    ))]

    #[test]
    fn random_loops_agree_on_every_engine(
        mut m in module(GenConfig::terminating()),
        split in any::<proptest::sample::Index>(),
        iterations in 1u16..4,
    ) {
        without_ref_host_results(&mut m);
        wrap_in_loop(&mut m, split, iterations);
        tierjit::bytecode::verify::verify(&m).expect("wrapped modules verify");
        differential::check_with(&m, "main", &[], |c| {
            c.heap_limit(64 << 20);
        });
    }
}

/// The ops of the struct programs: allocation (drawn three times as often),
/// field accesses, type and reference tests, moves, and a little output.
fn struct_ops() -> Vec<Opcode> {
    use Opcode::*;
    let mut ops = vec![SNew, SNew, SNew];
    ops.extend([
        SGetI, SGetF, SGetR, SSetI, SSetF, SSetR, Isa, IsNull, REq, JNull, JNNull, RMov, IConst,
        FConst, Add, FAdd, PrintI, PrintF, Call,
    ]);
    ops
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000)
    ))]

    #[test]
    fn random_struct_programs_agree_on_every_engine(
        mut m in module(GenConfig {
            opcodes: struct_ops(),
            max_extra_regs: 1,
            max_ops: 40,
            ..GenConfig::terminating()
        }),
        split in any::<proptest::sample::Index>(),
    ) {
        without_ref_host_results(&mut m);
        wrap_in_loop(&mut m, split, 3);
        tierjit::bytecode::verify::verify(&m).expect("generated modules verify");
        differential::check_with(&m, "main", &[], |c| {
            c.heap_limit(64 << 20);
        });
    }
}
