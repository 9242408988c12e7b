//! Compile budgets: how large a Cranelift compile may grow and how long its
//! translation may take before the tier gives the function up.
//!
//! The size measure counts what the translator emits work for, each as one
//! op: every op it translates (inlined bodies included, once per inlining),
//! every register a translated body touches (a Variable, defined at the
//! body's start) and every argument a call, tail call or host call passes
//! (a store each). Everything else the translator does per op is bounded by
//! a constant (untouched registers cost nothing, see `used_regs`), so
//! Cranelift's time, which grows with the IR, follows this count: a
//! function of few ops over a 65,535-register frame is small; one passing
//! 65,535 arguments at each of many calls is not.
//!
//! The op budget is checked before translation (the function's own size)
//! and as inlining adds bodies; the time budget every [`CLOCK_EVERY`]
//! translated ops and after translation, before Cranelift's optimisation and
//! register allocation (the expensive part, which cannot be interrupted).

use super::used_regs::{RegList, callee_signature};
use crate::bytecode::Module;
use crate::runtime::compile_error::CompileFailure;
use std::time::{Duration, Instant};

/// Limits on one Cranelift compile of a function (see the module docs of
/// `cranelift_tier::translate::budget` for the measure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CompileBudget {
    /// The largest size, in ops: ops translated including inlined bodies,
    /// plus one per register a translated body touches and per argument a
    /// call passes. Default [`DEFAULT_MAX_OPS`].
    pub max_ops: u32,
    /// The longest translation (bytecode to Cranelift IR), checked as it
    /// goes and before Cranelift compiles the IR. Default
    /// [`DEFAULT_MAX_TIME`].
    pub max_time: Duration,
}

/// The default [`CompileBudget::max_ops`]: the largest function of the
/// programs and Lark examples measures a few thousand; 50,000 compiles in
/// about a second.
pub const DEFAULT_MAX_OPS: u32 = 50_000;

/// The default [`CompileBudget::max_time`].
pub const DEFAULT_MAX_TIME: Duration = Duration::from_secs(2);

impl Default for CompileBudget {
    /// [`DEFAULT_MAX_OPS`] and [`DEFAULT_MAX_TIME`].
    fn default() -> CompileBudget {
        CompileBudget {
            max_ops: DEFAULT_MAX_OPS,
            max_time: DEFAULT_MAX_TIME,
        }
    }
}

/// How many translated ops pass between two looks at the clock.
pub(super) const CLOCK_EVERY: u32 = 64;

/// The size of one translated body of function `func` (see the module
/// docs): its ops, the registers `used` it touches, the arguments its calls
/// pass.
pub(super) fn body_size(module: &Module, func: usize, used: &[RegList; 3]) -> u64 {
    let code = &module.functions[func].code;
    let registers: usize = used.iter().map(Vec::len).sum();
    let arguments: u64 = code
        .iter()
        .filter_map(|op| callee_signature(module, op))
        .map(|sig| sig.params.len() as u64)
        .sum();
    code.len() as u64 + registers as u64 + arguments
}

/// One compile's standing against its budget.
pub(super) struct BudgetMeter {
    budget: CompileBudget,
    /// The function being compiled, for messages.
    name: String,
    size: u64,
    started: Instant,
    /// Ops translated since the clock was last read.
    since_clock: u32,
    failure: Option<CompileFailure>,
}

impl BudgetMeter {
    /// A meter for compiling the function named `name`, started now.
    pub(super) fn new(budget: CompileBudget, name: &str) -> BudgetMeter {
        BudgetMeter {
            budget,
            name: name.to_owned(),
            size: 0,
            started: Instant::now(),
            since_clock: 0,
            failure: None,
        }
    }

    /// Count a translated body of `size`; over the op budget, the compile
    /// fails.
    pub(super) fn add(&mut self, size: u64) {
        self.size = self.size.saturating_add(size);
        if self.failure.is_none() && self.size > u64::from(self.budget.max_ops) {
            self.failure = Some(CompileFailure::OverBudget {
                what: format!(
                    "`{}` measures {} ops (inlined bodies, touched registers and passed \
                     arguments included), over the budget of {}",
                    self.name,
                    thousands(self.size),
                    thousands(self.budget.max_ops.into())
                ),
            });
        }
    }

    /// Before translating an op: whether the compile has failed (then the
    /// op is not translated). Reads the clock every [`CLOCK_EVERY`] ops.
    pub(super) fn stop_before_op(&mut self) -> bool {
        self.since_clock += 1;
        if self.since_clock >= CLOCK_EVERY {
            self.since_clock = 0;
            self.check_time();
        }
        self.failure.is_some()
    }

    /// Over the time budget, the compile fails.
    pub(super) fn check_time(&mut self) {
        let spent = self.started.elapsed();
        if self.failure.is_none() && spent > self.budget.max_time {
            self.failure = Some(CompileFailure::OverBudget {
                what: format!(
                    "translating `{}` took {spent:.2?}, over the budget of {:?}",
                    self.name, self.budget.max_time
                ),
            });
        }
    }

    /// Whether the compile has failed.
    pub(super) fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// Ok, or why the compile failed.
    pub(super) fn result(self) -> Result<(), CompileFailure> {
        self.failure.map_or(Ok(()), Err)
    }
}

/// `n` with a comma every three digits: `20,311`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;
    use crate::bytecode::text::parse;
    use crate::cranelift_tier::{Compiler, MAX_INLINE_DEPTH};
    use crate::cranelift_tier::{CraneliftSettings, EntryPoint};
    use crate::runtime::frame::FrameLayout;
    use crate::runtime::helpers::HelperAddrs;

    fn compile_all(module: &Module, settings: CraneliftSettings) -> Result<(), CompileFailure> {
        let layouts = FrameLayout::all(module);
        let mut compiler = Compiler::new(settings)?;
        for func in 0..module.functions.len() {
            compiler.compile_code(
                module,
                &layouts,
                &HelperAddrs::native(),
                None,
                func,
                EntryPoint::Start,
            )?;
        }
        Ok(())
    }

    fn with_budget(max_ops: u32, max_time: Duration) -> CraneliftSettings {
        CraneliftSettings {
            budget: CompileBudget { max_ops, max_time },
            ..CraneliftSettings::default()
        }
    }

    const SMALL: &str = "func leaf(i) -> i\n    addi i0, i0, 1\n    reti i0\nend\n\
        func work(i) -> i\n    call i1, leaf, 0\n    call i2, leaf, 1\n    \
        call i3, leaf, 2\n    reti i3\nend\n";

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(20_311), "20,311");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn a_tiny_op_budget_refuses_the_function_by_name() {
        let module = parse(SMALL).unwrap();
        let layouts = FrameLayout::all(&module);
        let mut compiler = Compiler::new(with_budget(5, DEFAULT_MAX_TIME)).unwrap();
        let err = compiler
            .compile_code(
                &module,
                &layouts,
                &HelperAddrs::native(),
                None,
                1,
                EntryPoint::Start,
            )
            .unwrap_err();
        let CompileFailure::OverBudget { what } = &err else {
            panic!("not over budget: {err}");
        };
        assert!(what.starts_with("`work` measures"), "{what}");
        assert!(what.ends_with("over the budget of 5"), "{what}");
        // The compiler stays usable after an abandoned translation.
        compiler
            .compile_code(
                &module,
                &layouts,
                &HelperAddrs::native(),
                None,
                0,
                EntryPoint::Start,
            )
            .expect("`leaf` fits");
    }

    #[test]
    fn inlined_bodies_count() {
        let module = parse(SMALL).unwrap();
        let used =
            super::super::used_regs::used_registers(&module, 1, FrameLayout::all(&module)[1]);
        // 4 ops, i0..i3, three calls of one argument.
        let own = body_size(&module, 1, &used);
        assert_eq!(own, 4 + 4 + 3);
        let fits = |max_ops| {
            let mut settings = with_budget(max_ops, DEFAULT_MAX_TIME);
            settings.inline_max_depth = MAX_INLINE_DEPTH;
            let layouts = FrameLayout::all(&module);
            Compiler::new(settings)
                .unwrap()
                .compile_code(
                    &module,
                    &layouts,
                    &HelperAddrs::native(),
                    None,
                    1,
                    EntryPoint::Start,
                )
                .is_ok()
        };
        // Each of the three inlined `leaf` bodies adds 2 ops and 1 register.
        assert!(!fits(own as u32 + 8));
        assert!(fits(own as u32 + 9));
    }

    #[test]
    fn a_zero_time_budget_refuses_after_translation() {
        let module = parse(SMALL).unwrap();
        let err = compile_all(&module, with_budget(DEFAULT_MAX_OPS, Duration::ZERO)).unwrap_err();
        assert!(
            matches!(&err, CompileFailure::OverBudget { what }
                if what.starts_with("translating `leaf` took") && what.ends_with("over the budget of 0ns")),
            "{err}"
        );
    }

    #[test]
    fn a_huge_frame_is_small() {
        let module = parse(
            "func rec(i) -> i regs i=65535 f=65535 r=65535\n    addi i0, i0, 1\n    \
             newi r9, i0\n    call i1, rec, 0\n    reti i1\nend\n",
        )
        .unwrap();
        compile_all(&module, with_budget(30, DEFAULT_MAX_TIME)).expect("fits 30 ops");
    }

    #[test]
    fn the_default_op_budget_compiles_every_program() {
        // The `.tj` programs (Lark's are compiled by `lang`, a layer above:
        // the Lark suite runs them under Cranelift with this budget).
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        for dir in ["programs", "programs/ops", "benches/programs"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "tj") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    sources.push((path.clone(), parse(&text).unwrap()));
                }
            }
        }
        assert!(sources.len() > 20, "found {}", sources.len());
        // The default op budget; time is the machine's, and a debug build
        // under qemu on a loaded machine once took 2.06 s for one function.
        let settings = CraneliftSettings {
            verifier: false,
            ..with_budget(DEFAULT_MAX_OPS, Duration::from_secs(600))
        };
        for (path, module) in &sources {
            compile_all(module, settings).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}
