//! The test plan of the macro-assemblers, written once over the
//! [`MacroAssembler`] trait and run on both ISAs.
//!
//! - Golden listings (`golden`, every host): one listing per trait method,
//!   `tests/golden/<isa>/<method>.txt`, each case assembled on its own and
//!   disassembled by an independent decoder. The plan fixes which listings
//!   exist and how they are written and checked; the ISA chooses each
//!   listing's cases (the edges of its encodings) and their titles.
//! - Structure (`structure`, every host): errors reported by `finish`
//!   instead of panics, extreme arguments, byte counts.
//! - Execution (`exec`, on the ISA the host runs): the code runs through
//!   the native entry signature and is checked against Rust's semantics
//!   (those of the interpreter) over edge values and scratch registers.
//!
//! An ISA takes part through a [`TestIsa`] adapter (its disassembler, its
//! listing cases, address masking, what makes mapped code executable, and
//! its f64 NaN results) and one [`plan_tests!`] in its `tests.rs`, beside
//! the tests that only it has.

use std::fmt::Write as _;
use std::marker::PhantomData;

use crate::bytecode::Cmp;
use crate::template::golden;
use crate::template::masm::{
    AluOp, BitCount, Cond, Extension, FpOp, FpUnary, Fpr, Gpr, MacroAssembler,
};

pub mod exec;
pub mod structure;

pub const GPRS: [Gpr; 3] = Gpr::ALL;
/// The f64 scratch registers the tests cover: the first three and the last
/// (on x86-64, the three with static encoder arms and one that takes
/// dynasm's dynamic form).
pub const FPRS: [Fpr; 4] = [Fpr::F0, Fpr::F1, Fpr::F2, Fpr::F7];
pub const CONDS: [Cond; 10] = Cond::ALL;
pub const CMPS: [Cmp; 6] = [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];
pub const ALU_OPS: [AluOp; 11] = AluOp::ALL;
pub const FP_OPS: [FpOp; 4] = FpOp::ALL;
pub const FP_UNARY: [FpUnary; 8] = FpUnary::ALL;

/// 64-bit constants: every encoding boundary of x86-64
/// (imm32 sign- or zero-extended, imm64).
pub const IMM64S: [i64; 14] = [
    0,
    1,
    -1,
    127,
    128,
    i32::MAX as i64,
    i32::MIN as i64,
    i32::MIN as i64 - 1,
    u32::MAX as i64,
    u32::MAX as i64 + 1,
    0x1234_5678_9abc_def0,
    i64::MIN,
    i64::MAX,
    -0x8000_0001,
];

/// Every (a, b) over `xs`.
pub fn pairs<T: Copy>(xs: &[T]) -> Vec<(T, T)> {
    xs.iter()
        .flat_map(|&a| xs.iter().map(move |&b| (a, b)))
        .collect()
}

/// Every (a, b, c) over `xs`.
pub fn triples<T: Copy>(xs: &[T]) -> Vec<(T, T, T)> {
    pairs(xs)
        .into_iter()
        .flat_map(|(a, b)| xs.iter().map(move |&c| (a, b, c)))
        .collect()
}

/// What an f64 result must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpWant {
    /// These exact bits.
    Bits(u64),
    /// Some NaN (which one is not checked).
    AnyNan,
}

impl FpWant {
    /// `x` exactly, or any NaN if `x` is one.
    pub fn value(x: f64) -> FpWant {
        if x.is_nan() {
            FpWant::AnyNan
        } else {
            FpWant::Bits(x.to_bits())
        }
    }

    pub fn accepts(self, bits: u64) -> bool {
        match self {
            FpWant::Bits(b) => b == bits,
            FpWant::AnyNan => f64::from_bits(bits).is_nan(),
        }
    }
}

/// One ISA under test.
pub trait TestIsa: Sized + 'static {
    type Masm: MacroAssembler + Default;

    /// Its folder under `tests/golden`.
    const NAME: &'static str;
    /// The name of its listing of labels and jumps.
    const LABELS_LISTING: &'static str;
    /// Its listings beyond the plan's, checked by its own tests.
    const EXTRA_LISTINGS: &'static [&'static str];

    /// An assembler for code that runs on this host (its CPU features).
    fn masm() -> Self::Masm;
    /// An assembler for golden listings (fixed features).
    fn golden_masm() -> Self::Masm;

    /// One instruction per line, and one line per 32-bit entry of the
    /// `data` ranges (jump tables); panics unless every other byte decodes
    /// to a valid instruction.
    fn disassemble(code: &[u8], data: &[std::ops::Range<usize>]) -> String;
    /// Append one titled case of a listing.
    fn write_case(out: &mut String, title: &str, disassembly: &str);
    /// The cases of golden listing `name` (a trait method, or
    /// [`Self::LABELS_LISTING`], or one of [`Self::EXTRA_LISTINGS`]).
    fn golden_cases(name: &str, l: &mut Listing<Self>);
    /// The listing as compared with its golden file (host addresses
    /// masked).
    fn postprocess(_name: &str, text: String) -> String {
        text
    }

    /// Make `len` bytes of code just mapped executable at `code` visible to
    /// instruction fetch.
    fn prepare_exec(_code: *const u8, _len: usize) {}
    /// A function that returns its caller's stack pointer at the call.
    fn stack_probe() -> &'static [u8];
    /// The result of `fp_op` on `x` and `y` (NaN propagation is the ISA's).
    fn fp_op_model(op: FpOp, x: f64, y: f64) -> FpWant;
    /// The assembler variants the methods with optional instructions
    /// (`fp_unary`, `bit_count`, `fp_fma`) run under (CPU features), named.
    fn feature_variants() -> Vec<(&'static str, Self::Masm)> {
        vec![("", Self::masm())]
    }
    /// The result of `fp_unary` on `x` under the variant named `variant`.
    fn fp_unary_model(op: FpUnary, x: f64, variant: &str) -> FpWant;
}

/// Emit with a fresh assembler and finish.
pub fn assemble<I: TestIsa>(f: impl FnOnce(&mut I::Masm)) -> Vec<u8> {
    let mut m = I::masm();
    f(&mut m);
    m.finish().expect("finish").to_vec()
}

/// A golden listing: titled cases, each assembled on its own.
pub struct Listing<I: TestIsa> {
    text: String,
    isa: PhantomData<I>,
}

impl<I: TestIsa> Default for Listing<I> {
    fn default() -> Self {
        Listing {
            text: String::new(),
            isa: PhantomData,
        }
    }
}

impl<I: TestIsa> Listing<I> {
    pub fn case(&mut self, title: impl std::fmt::Display, build: impl FnOnce(&mut I::Masm)) {
        self.case_with(I::golden_masm(), title, build);
    }

    /// A case assembled by `m` (other CPU features).
    pub fn case_with(
        &mut self,
        mut m: I::Masm,
        title: impl std::fmt::Display,
        build: impl FnOnce(&mut I::Masm),
    ) {
        build(&mut m);
        let code = m.finish().expect("finish").to_vec();
        let mut t = String::new();
        write!(t, "{title}").expect("write");
        I::write_case(&mut self.text, &t, &I::disassemble(&code, m.data()));
    }
}

/// Build golden listing `name` of `I` and compare it with its file.
pub fn check_listing<I: TestIsa>(name: &str) {
    let mut l = Listing::<I>::default();
    I::golden_cases(name, &mut l);
    assert!(!l.text.is_empty(), "{} listing {name} has no case", I::NAME);
    golden::check(
        &format!("{}/{name}", I::NAME),
        &I::postprocess(name, l.text),
    );
}

/// The listings of `tests/golden/<isa>/` that template/tests.rs checks (whole
/// templates rather than one method).
const TEMPLATE_LISTINGS: [&str; 6] = [
    "tiering_counters",
    "fp_loop_registers",
    "fp_loop_registers_counters",
    "fp_restores",
    "tail_calls",
    "tail_calls_counters",
];

/// Every golden file of `I` (outside `ops/`) is one of the plan's listings
/// (`plan`), one of the ISA's extras or one of the templates' listings, and
/// every listing of the plan has a file.
pub fn golden_files_match_the_plan<I: TestIsa>(plan: &[&str]) {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(I::NAME);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(|e| {
            let name = e.expect("entry").file_name().into_string().expect("utf-8");
            name.strip_suffix(".txt").map(str::to_string)
        })
        .collect();
    files.sort();
    let mut want: Vec<String> = plan
        .iter()
        .chain([&I::LABELS_LISTING])
        .chain(I::EXTRA_LISTINGS)
        .chain(&TEMPLATE_LISTINGS)
        .map(|s| s.to_string())
        .collect();
    want.sort();
    if std::env::var_os(golden::BLESS_ENV).is_none() {
        assert_eq!(files, want, "golden files of {} vs the plan", I::NAME);
    }
}

/// The plan's tests for one ISA: `plan_tests!(Adapter, <cfg of the hosts
/// that run its code>)` in its `tests.rs`.
macro_rules! plan_tests {
    (@listings $isa:ty, {$($group:ident: [$($name:ident),* $(,)?]),* $(,)?}) => {
        $(
            mod $group {
                use super::*;
                $(
                    #[test]
                    fn $name() {
                        check_listing::<$isa>(stringify!($name));
                    }
                )*
            }
        )*
        /// The plan's listings but the labels one.
        const PLAN: &[&str] = &[$($(stringify!($name)),*),*];
    };
    (@tests $isa:ty, $plan:ident: [$($name:ident),* $(,)?]) => {
        $(
            #[test]
            fn $name() {
                $plan::$name::<$isa>();
            }
        )*
    };
    ($isa:ty, $exec:meta) => {
        /// Golden listings, one test per trait method.
        mod golden {
            use super::*;
            use $crate::template::isa::test_plan::check_listing;

            $crate::template::isa::test_plan::plan_tests!(@listings $isa, {
                prologue_epilogue: [prologue, call_depth, epilogue],
                slots: [load_slot, store_slot, load_fslot, store_fslot, slot_addr, zero_slots],
                constants_and_moves: [load_imm, load_fimm, mov],
                integer_arithmetic: [
                    alu,
                    alu_imm,
                    neg,
                    not,
                    sdiv,
                    srem,
                    mul_high,
                    udiv,
                    urem,
                    bit_count,
                    extend,
                    select,
                    move_if_nonzero,
                ],
                compares_and_branches: [set_cond, set_cond_imm, branch, branch_imm, jump_table],
                fp: [
                    fp_op,
                    fp_unary,
                    fp_set_cond,
                    fp_branch,
                    i2f,
                    f2i,
                    fp_fma,
                    fp_min_max,
                    fp_copysign,
                ],
                memory: [
                    load_mem,
                    store_mem,
                    load_mem_u32,
                    load_mem_u8,
                    load_indexed,
                    store_indexed,
                    load_indexed_u8,
                    store_indexed_u8,
                    load_findexed,
                    store_findexed,
                ],
                context: [
                    load_ctx,
                    store_ctx,
                    store_ctx_u32,
                    store_ctx_reg_u32,
                    branch_stack_below,
                    branch_flag_set,
                ],
                calls: [call_native, call_helper],
            });

            #[test]
            fn labels_and_jumps() {
                check_listing::<$isa>(<$isa as $crate::template::isa::test_plan::TestIsa>::LABELS_LISTING);
            }

            #[test]
            fn golden_files_match_the_plan() {
                $crate::template::isa::test_plan::golden_files_match_the_plan::<$isa>(PLAN);
            }
        }

        /// Assembly without execution: errors, extreme arguments.
        mod structure {
            use super::*;
            use $crate::template::isa::test_plan::structure as plan;

            $crate::template::isa::test_plan::plan_tests!(@tests $isa, plan: [
                finish_reports_errors_instead_of_panicking,
                label_of_another_assembler_is_an_error,
                offset_counts_bytes,
                extreme_arguments_never_panic,
            ]);
        }

        /// Execution on the host.
        #[cfg($exec)]
        mod exec {
            use super::*;
            use $crate::template::isa::test_plan::exec as plan;

            $crate::template::isa::test_plan::plan_tests!(@tests $isa, plan: [
                // Integers.
                alu_matches_rust,
                alu_imm_matches_rust,
                neg_not_mov_match_rust,
                sdiv_srem_match_rust,
                mul_high_matches_rust,
                udiv_urem_match_rust,
                bit_count_matches_rust,
                extend_matches_rust,
                select_matches_rust,
                move_if_nonzero_matches_rust,
                set_cond_matches_rust,
                set_cond_imm_matches_rust,
                branch_matches_rust,
                branch_imm_matches_rust,
                jump_table_matches_rust,
                backward_branches_loop,
                far_branches_execute,
                // f64.
                fp_op_matches_rust,
                fp_unary_matches_rust,
                fp_set_cond_matches_rust,
                fp_branch_matches_rust,
                i2f_matches_rust,
                f2i_matches_rust,
                fp_fma_matches_rust,
                fp_min_max_matches_rust,
                fp_copysign_matches_rust,
                repeated_internal_labels_resolve_to_their_own_method,
                // Constants and slots.
                load_imm_and_fimm,
                slots_load_store_and_address,
                slots_of_a_large_frame,
                far_slots_use_synthesised_addresses,
                zero_slots_zeroes_exactly_the_range,
                // Memory through registers, the context.
                loads_and_stores_through_registers,
                load_mem_any_offset,
                indexed_loads_and_stores,
                byte_indexed_loads_and_stores,
                context_loads_and_stores,
                branch_stack_below_compares_the_stack_pointer,
                branch_flag_set_tests_the_byte_behind_the_pointer,
                // Calls, prologue and epilogue.
                call_helper_every_register_permutation,
                call_helper_mixed_arguments,
                call_helper_every_argument_permutation,
                call_helper_fewer_arguments,
                calls_see_an_aligned_stack,
                call_native_calls_generated_code,
                prologue_loads_the_call_depth,
                epilogue_returns_low_32_bits,
            ]);
        }
    };
}

pub(crate) use plan_tests;

/// The listing cases of `jump_table`, alike on every ISA: every index
/// register, a label used twice and one bound before the jump, and tables
/// of 0 to 128 entries.
pub fn jump_table_cases<I: TestIsa>(l: &mut Listing<I>) {
    for g in GPRS {
        l.case(
                format_args!(
                    "bind(B); jump_table({g:?}, [L, B, M, L], D); bind(L); mov(T0, T1); bind(M); mov(T1, T2); bind(D)"
                ),
                |m| {
                    let (b, lab, mid, d) =
                        (m.new_label(), m.new_label(), m.new_label(), m.new_label());
                    m.bind(b);
                    m.jump_table(g, &[lab, b, mid, lab], d);
                    m.bind(lab);
                    m.mov(Gpr::T0, Gpr::T1);
                    m.bind(mid);
                    m.mov(Gpr::T1, Gpr::T2);
                    m.bind(d);
                },
            );
    }
    for n in [0, 1, 2, 127, 128] {
        l.case(
            format_args!("jump_table(T1, [L; {n}], D); bind(L); bind(D)"),
            |m| {
                let (lab, d) = (m.new_label(), m.new_label());
                m.jump_table(Gpr::T1, &vec![lab; n], d);
                m.bind(lab);
                m.bind(d);
            },
        );
    }
}

/// The listing cases of the methods whose cases are alike on every ISA
/// (every register combination, every operation): the unsigned division,
/// bit counts, extensions, selects and the f64 `fma`, `min`/`max` and
/// `copysign`. Whether `name` is one of them.
pub fn shared_cases<I: TestIsa>(name: &str, l: &mut Listing<I>) -> bool {
    match name {
        "udiv" | "urem" => {
            for (d, a, b) in triples(&GPRS) {
                l.case(format_args!("{name}({d:?}, {a:?}, {b:?})"), |m| {
                    if name == "udiv" {
                        m.udiv(d, a, b)
                    } else {
                        m.urem(d, a, b)
                    }
                });
            }
        }
        "bit_count" => {
            for op in BitCount::ALL {
                for (d, s) in pairs(&GPRS) {
                    l.case(format_args!("bit_count({op:?}, {d:?}, {s:?})"), |m| {
                        m.bit_count(op, d, s)
                    });
                }
            }
        }
        "extend" => {
            for ext in Extension::ALL {
                for (d, s) in pairs(&GPRS) {
                    l.case(format_args!("extend({ext:?}, {d:?}, {s:?})"), |m| {
                        m.extend(ext, d, s)
                    });
                }
            }
        }
        "select" => {
            for c in CONDS {
                l.case(format_args!("select({c:?}, T0, T1, T2)"), |m| {
                    m.select(c, Gpr::T0, Gpr::T1, Gpr::T2)
                });
            }
            for (d, a, b) in triples(&GPRS) {
                l.case(format_args!("select(Lt, {d:?}, {a:?}, {b:?})"), |m| {
                    m.select(Cond::Lt, d, a, b)
                });
            }
        }
        "move_if_nonzero" => {
            for (d, s, t) in triples(&GPRS) {
                l.case(format_args!("move_if_nonzero({d:?}, {s:?}, {t:?})"), |m| {
                    m.move_if_nonzero(d, s, t)
                });
            }
        }
        "fp_fma" => {
            for (d, a, b) in triples(&FPRS) {
                l.case(format_args!("fp_fma({d:?}, {d:?}, {a:?}, {b:?})"), |m| {
                    m.fp_fma(d, d, a, b)
                });
            }
            l.case("fp_fma(F0, F1, F2, F7)", |m| {
                m.fp_fma(Fpr::F0, Fpr::F1, Fpr::F2, Fpr::F7)
            });
        }
        "fp_min_max" => {
            for max in [false, true] {
                for (d, a, b) in triples(&FPRS) {
                    l.case(
                        format_args!("fp_min_max({max}, {d:?}, {a:?}, {b:?})"),
                        |m| m.fp_min_max(max, d, a, b),
                    );
                }
            }
        }
        "fp_copysign" => {
            for (d, a, b) in triples(&FPRS) {
                l.case(format_args!("fp_copysign({d:?}, {a:?}, {b:?})"), |m| {
                    m.fp_copysign(d, a, b)
                });
            }
        }
        _ => return false,
    }
    true
}
