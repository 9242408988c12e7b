//! The differential harness: run a program through every engine and demand
//! the same result (f64 by bits), the same trap (kind, function, op index)
//! and the same printed output. The interpreter is the oracle; each tier
//! adds itself to [`ENGINES`].

#![allow(dead_code)]

use tierjit::{Bank, Config, Engine, Error, Linker, Module, SharedOutput, Tier, Value, bytecode};

/// Every engine under test. The interpreter first: it is the oracle.
pub const ENGINES: &[Tier] = &[Tier::Interp, Tier::Template, Tier::Cranelift, Tier::Auto];

/// What one call did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<Option<Value>, (tierjit::TrapKind, String, u32)>,
    /// The whole trap, when there was one: its user code, source position
    /// and detail must agree too.
    pub trap: Option<tierjit::Trap>,
    pub output: String,
}

impl Outcome {
    pub fn same_as(&self, other: &Outcome) -> bool {
        let results = match (&self.result, &other.result) {
            (Ok(Some(a)), Ok(Some(b))) => a.bits_eq(b),
            (Ok(None), Ok(None)) => true,
            (Err(a), Err(b)) => a == b,
            _ => false,
        };
        results && self.trap == other.trap && self.output == other.output
    }

    /// The value returned, or a panic naming the trap.
    pub fn value(&self) -> Value {
        match &self.result {
            Ok(Some(v)) => *v,
            other => panic!("expected a value, got {other:?}"),
        }
    }

    /// The i64 returned.
    pub fn int(&self) -> i64 {
        match self.value() {
            Value::I(v) => v,
            v => panic!("expected an i64, got {v}"),
        }
    }

    /// The f64 returned.
    pub fn float(&self) -> f64 {
        match self.value() {
            Value::F(v) => v,
            v => panic!("expected an f64, got {v}"),
        }
    }

    /// The trap raised: kind, function name and op index.
    pub fn trap(&self) -> (tierjit::TrapKind, &str, u32) {
        match &self.result {
            Err((k, f, pc)) => (*k, f.as_str(), *pc),
            Ok(v) => panic!("expected a trap, got {v:?}"),
        }
    }
}

/// Configuration shared by every engine of one comparison.
pub fn base_config(tier: Tier) -> Config {
    let mut c = Config::new();
    // Small register stacks keep thousands of instances cheap (under qemu
    // too); tests that recurse deeply raise them.
    c.tier(tier)
        .stack_slots(1 << 14, 1 << 14, 1 << 14)
        .cranelift_verifier(true);
    c
}

/// Call `func` of `module` on one engine.
pub fn run_on(config: Config, module: &bytecode::Module, func: &str, args: &[Value]) -> Outcome {
    run_mixed(config, module, func, args, |_| None)
}

/// Call `func` of `module` on one engine, first compiling each function in
/// the tier `assign` gives it (by index), through the API.
pub fn run_mixed(
    config: Config,
    module: &bytecode::Module,
    func: &str,
    args: &[Value],
    assign: impl Fn(usize) -> Option<Tier>,
) -> Outcome {
    let engine = Engine::new(config).expect("engine");
    let module = Module::from_bytecode(&engine, module.clone()).expect("module verifies");
    let mut instance = deterministic_hosts(module.bytecode())
        .instantiate(&module)
        .expect("instance");
    for (idx, f) in module.bytecode().functions.iter().enumerate() {
        if let Some(tier) = assign(idx) {
            instance
                .compile_function(&f.name, tier)
                .unwrap_or_else(|e| panic!("compiling `{}` in {tier}: {e}", f.name));
            assert_eq!(instance.tier_of(&f.name).unwrap(), Some(tier));
        }
    }
    let out = SharedOutput::new();
    instance.set_output(out.clone());
    let (result, trap) = match instance.call(func, args) {
        Ok(v) => (Ok(v), None),
        Err(Error::Trap(t)) => (Err((t.kind, t.func_name.clone(), t.pc)), Some(t)),
        Err(e) => panic!("call failed outside a trap: {e}"),
    };
    Outcome {
        result,
        trap,
        output: out.take_string(),
    }
}

/// Run on every engine with a configuration hook; all must agree. Returns
/// the interpreter's outcome.
pub fn check_with(
    module: &bytecode::Module,
    func: &str,
    args: &[Value],
    configure: impl Fn(&mut Config),
) -> Outcome {
    let mut oracle: Option<Outcome> = None;
    let mut compare = |name: &str, got: Outcome| match &oracle {
        None => oracle = Some(got),
        Some(o) => assert!(
            o.same_as(&got),
            "engine {name} disagrees with the interpreter on `{func}`{args:?}:\n  interp: {o:?}\n  {name}: {got:?}"
        ),
    };
    for &tier in ENGINES {
        let mut config = base_config(tier);
        configure(&mut config);
        compare(tier.name(), run_on(config, module, func, args));
    }
    // Tiering with thresholds of 1: every function moves to Cranelift at its
    // first call, and every loop at its first back-edge (OSR), mid-run;
    // synchronously (deterministic), then on the compiler thread (the swap
    // lands wherever the program is by then).
    for background in [false, true] {
        let mut config = base_config(Tier::Auto);
        configure(&mut config);
        config
            .hot_calls(1)
            .hot_loops(1)
            .background_compilation(background);
        let name = if background {
            "auto (eager, background)"
        } else {
            "auto (eager, synchronous)"
        };
        compare(name, run_on(config, module, func, args));
    }
    // Both tiers in one call tree: even functions in Cranelift, odd ones in
    // the template tier, calling each other through the function table
    // (no inlining: every call is a real one; the Cranelift run above
    // inlines small leaves, so both ways of calling are covered).
    let mut config = base_config(Tier::Template);
    configure(&mut config);
    config.cranelift_inline_max_ops(0);
    let mixed = run_mixed(config, module, func, args, |idx| {
        Some(if idx % 2 == 0 {
            Tier::Cranelift
        } else {
            Tier::Template
        })
    });
    compare("mixed template+cranelift", mixed);
    oracle.expect("at least one engine")
}

/// Run a module on every engine; all must agree.
pub fn check_module(module: &bytecode::Module, func: &str, args: &[Value]) -> Outcome {
    check_with(module, func, args, |_| {})
}

/// Parse `src` and run `func` on every engine; all must agree.
pub fn check(src: &str, func: &str, args: &[Value]) -> Outcome {
    let module = bytecode::text::parse(src)
        .unwrap_or_else(|e| panic!("test program does not parse: {e}\n{src}"));
    check_module(&module, func, args)
}

/// A linker that binds every import of `module` to a deterministic host
/// function: it prints its name and arguments, fails when the first i64
/// argument is 13, and otherwise returns a mix of its arguments' bits.
pub fn deterministic_hosts(module: &bytecode::Module) -> Linker {
    let mut linker = Linker::new();
    for imp in &module.imports {
        let name = imp.name.clone();
        let result = imp.sig.result;
        linker
            .func(&imp.name, imp.sig.clone(), move |args| {
                if let Some(Value::I(13)) = args.first() {
                    return Err(format!("{name} refuses 13"));
                }
                let mix = args.iter().fold(0x9e37_79b9u64, |h, a| {
                    let bits = if a.bank() == Bank::R { 0 } else { a.to_bits() };
                    h.rotate_left(5) ^ bits
                });
                Ok(match result {
                    Some(Bank::I) => Some(Value::I(mix as i64)),
                    Some(Bank::F) => Some(Value::F((mix % 1000) as f64 / 8.0)),
                    _ => None,
                })
            })
            .expect("bindable import");
    }
    linker
}
