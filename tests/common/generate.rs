//! Proptest strategies for random modules, shared by the integration tests.
//!
//! - [`module`] generates *well-formed* modules: every operand respects its
//!   [`Operand`] kind (register indices below `regs`, jump targets inside
//!   the function, valid constant/string/function/import indices, argument
//!   windows that fit the caller's registers, call results of the callee's
//!   result bank, `printf` digits within [`MAX_PRINTF_DIGITS`], returns of
//!   the function's result bank), pools deduplicated and in order of first
//!   use, and i64 constants inline exactly when they fit 16 bits. So
//!   `parse(&print(&m))` gives `m` back (up to `Import::line`).
//!   [`GenConfig::terminating`] further restricts control flow so that every
//!   program ends (forward jumps only, calls only to later functions, every
//!   function ends with a return, `main` first).
//! - [`garbage_module`] generates modules with arbitrary fields and indices,
//!   for "never panics" tests of the printer and the verifier.

use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::{HashMap, HashSet};
use tierjit::bytecode::op::MAX_PRINTF_DIGITS;
use tierjit::bytecode::{
    Bank, FieldDecl, Flow, Function, Global, Import, Module, NO_REG, Op, Opcode, Operand,
    Signature, StructDecl, SwitchTable,
};

/// What [`module`] generates.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// At most this many imports (at least 0).
    pub max_imports: usize,
    /// At most this many functions (at least 1).
    pub max_functions: usize,
    /// At most this many parameters per function or import.
    pub max_params: usize,
    /// Each bank of each function gets up to this many registers more than
    /// it needs for its parameters and argument windows.
    pub max_extra_regs: u16,
    /// At most this many generated ops per function (plus the final return
    /// with [`GenConfig::end_with_return`]).
    pub max_ops: usize,
    /// The opcodes to draw from (uniformly).
    pub opcodes: Vec<Opcode>,
    /// Jumps may go backward (loops). When false, every jump goes forward.
    pub backward_jumps: bool,
    /// Calls only go to functions of a higher index (no recursion).
    pub acyclic_calls: bool,
    /// Every function ends with the return of its result bank.
    pub end_with_return: bool,
    /// Function 0 is `main() -> none`.
    pub main_first: bool,
}

impl Default for GenConfig {
    /// Anything well-formed: all opcodes, loops, recursion.
    fn default() -> GenConfig {
        GenConfig {
            max_imports: 3,
            max_functions: 4,
            max_params: 4,
            max_extra_regs: 4,
            max_ops: 24,
            opcodes: Opcode::ALL.to_vec(),
            backward_jumps: true,
            acyclic_calls: false,
            end_with_return: false,
            main_first: false,
        }
    }
}

impl GenConfig {
    /// Programs that always terminate (possibly with a trap): forward jumps
    /// only, no recursion, a return at the end of every function, `main`
    /// first. Host calls stay in: drop [`Opcode::HostCall`] from
    /// [`GenConfig::opcodes`] when no host functions are bound.
    pub fn terminating() -> GenConfig {
        GenConfig {
            backward_jumps: false,
            acyclic_calls: true,
            end_with_return: true,
            main_first: true,
            ..GenConfig::default()
        }
    }
}

/// A bank, uniformly.
pub fn bank() -> impl Strategy<Value = Bank> {
    prop_oneof![Just(Bank::I), Just(Bank::F), Just(Bank::R)]
}

/// An identifier, sometimes one that looks like a keyword or a register.
pub fn name() -> impl Strategy<Value = String> {
    let tricky = vec![
        "main", "end", "func", "import", "regs", "none", "bits", "inf", "nan", "i0", "f1",
        "r65535", "L0", "add", "iconst", "$", ".", "_", ".5", "e5",
    ];
    prop_oneof![
        3 => "[A-Za-z_.$][A-Za-z0-9_.$]{0,10}",
        1 => prop::sample::select(tricky).prop_map(String::from),
    ]
}

/// f64 bits: any bits, any double, and the special values, often repeated.
pub fn f64_bits() -> impl Strategy<Value = u64> {
    let specials: Vec<u64> = [
        0.0,
        -0.0,
        1.0,
        2.5,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        5e-324,
        f64::MAX,
    ]
    .iter()
    .map(|v: &f64| v.to_bits())
    .chain([0x7ff8000000000001, 0xfff0000000000001])
    .collect();
    prop_oneof![
        any::<u64>(),
        any::<f64>().prop_map(f64::to_bits),
        prop::sample::select(specials)
    ]
}

/// An i64 that does not fit 16 bits (pooled by `iconst`).
pub fn big_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        prop::sample::select(vec![32768, -32769, i64::MIN, i64::MAX, 1 << 40]),
    ]
    .prop_map(|v| match i16::try_from(v) {
        Ok(_) if v >= 0 => v + 40000,
        Ok(_) => v - 40000,
        Err(_) => v,
    })
}

/// String constants: any Unicode, printable ASCII, characters that need
/// escapes, and short ones that repeat.
pub fn text() -> impl Strategy<Value = String> {
    let special = vec![
        '\n', '\r', '\t', '\0', '"', '\\', '\u{7}', '\u{7f}', '\u{85}', '\u{feff}', '\u{2028}',
        ';', 'a',
    ];
    let tricky = prop::collection::vec(
        prop_oneof![prop::sample::select(special), any::<char>()],
        0..8,
    )
    .prop_map(String::from_iter);
    prop_oneof!["[a-c]{0,2}", "[ -~]{0,16}", any::<String>(), tricky]
}

#[derive(Clone, Debug)]
struct SigRecipe {
    name: String,
    params: Vec<Bank>,
    result: Option<Bank>,
}

#[derive(Clone, Debug)]
struct OpRecipe {
    opcode: Index,
    picks: (Index, Index, Index),
    imm: i16,
    big: i64,
    fbits: u64,
    text: String,
}

#[derive(Clone, Debug)]
struct FuncRecipe {
    sig: SigRecipe,
    defaults: Vec<Option<i64>>,
    extra_regs: [u16; 3],
    ops: Vec<OpRecipe>,
}

fn sig_recipe(max_params: usize) -> impl Strategy<Value = SigRecipe> {
    (
        name(),
        prop::collection::vec(bank(), 0..=max_params),
        prop::option::of(bank()),
    )
        .prop_map(|(name, params, result)| SigRecipe {
            name,
            params,
            result,
        })
}

fn op_recipe() -> impl Strategy<Value = OpRecipe> {
    (
        any::<Index>(),
        (any::<Index>(), any::<Index>(), any::<Index>()),
        any::<i16>(),
        big_i64(),
        f64_bits(),
        text(),
    )
        .prop_map(|(opcode, picks, imm, big, fbits, text)| OpRecipe {
            opcode,
            picks,
            imm,
            big,
            fbits,
            text,
        })
}

fn func_recipe(cfg: &GenConfig) -> impl Strategy<Value = FuncRecipe> + use<> {
    (
        sig_recipe(cfg.max_params),
        prop::collection::vec(prop::option::weighted(0.3, -100i64..100), cfg.max_params),
        [
            0..=cfg.max_extra_regs,
            0..=cfg.max_extra_regs,
            0..=cfg.max_extra_regs,
        ],
        prop::collection::vec(op_recipe(), 0..=cfg.max_ops),
    )
        .prop_map(|(sig, defaults, extra_regs, ops)| FuncRecipe {
            sig,
            defaults,
            extra_regs,
            ops,
        })
}

/// Well-formed modules as described in the module docs.
pub fn module(cfg: GenConfig) -> impl Strategy<Value = Module> {
    let imports = prop::collection::vec(sig_recipe(cfg.max_params), 0..=cfg.max_imports);
    let functions = prop::collection::vec(func_recipe(&cfg), 1..=cfg.max_functions.max(1));
    let globals = prop::collection::vec((bank(), big_i64(), f64_bits()), 0..5);
    (imports, functions, globals, structs()).prop_map(move |(i, f, g, s)| {
        let mut m = build(&cfg, i, f, &g, &s);
        m.structs = s;
        m.globals = g
            .iter()
            .enumerate()
            .map(|(k, &(bank, int, bits))| Global {
                name: format!("g{k}"),
                bank,
                init: match bank {
                    Bank::I => int as u64,
                    Bank::F => bits,
                    Bank::R => 0,
                },
            })
            .collect();
        m
    })
}

/// A few struct types (often one with a parent, often with fields of
/// every bank): `S<k>` with fields `f<k>_<j>`, parents before children.
pub fn structs() -> impl Strategy<Value = Vec<StructDecl>> {
    let decl = (
        prop::option::weighted(0.6, any::<Index>()),
        prop::collection::vec(bank(), 0..5),
    );
    prop::collection::vec(decl, 0..5).prop_map(|decls| {
        decls
            .into_iter()
            .enumerate()
            .map(|(k, (parent, banks))| StructDecl {
                name: format!("S{k}"),
                parent: parent.filter(|_| k > 0).map(|p| p.index(k) as u16),
                fields: banks
                    .into_iter()
                    .enumerate()
                    .map(|(j, bank)| FieldDecl {
                        name: format!("f{k}_{j}"),
                        bank,
                    })
                    .collect(),
            })
            .collect()
    })
}

/// Pools deduplicated in order of first use.
#[derive(Default)]
struct Pools {
    module: Module,
    iconsts: HashMap<i64, u16>,
    fconsts: HashMap<u64, u16>,
    strings: HashMap<String, u16>,
}

fn intern<K: std::hash::Hash + Eq + Clone, V>(
    map: &mut HashMap<K, u16>,
    pool: &mut Vec<V>,
    key: K,
    v: V,
) -> u16 {
    *map.entry(key).or_insert_with(|| {
        pool.push(v);
        (pool.len() - 1) as u16
    })
}

/// The return op for a result bank.
pub fn return_op(result: Option<Bank>) -> Opcode {
    match result {
        None => Opcode::Ret,
        Some(Bank::I) => Opcode::RetI,
        Some(Bank::F) => Opcode::RetF,
        Some(Bank::R) => Opcode::RetR,
    }
}

fn build(
    cfg: &GenConfig,
    imports: Vec<SigRecipe>,
    funcs: Vec<FuncRecipe>,
    globals: &[(Bank, i64, u64)],
    structs: &[StructDecl],
) -> Module {
    // The module-wide indices of the fields of each bank.
    let mut fields_of: [Vec<u16>; 3] = Default::default();
    for (k, f) in structs.iter().flat_map(|s| &s.fields).enumerate() {
        fields_of[f.bank.index()].push(k as u16);
    }
    let mut global_counts = [0usize; 3];
    for (bank, _, _) in globals {
        global_counts[bank.index()] += 1;
    }
    let mut used = HashSet::new();
    if cfg.main_first {
        used.insert("main".to_string());
    }
    let mut unique = |n: &str| {
        let mut s = n.to_string();
        let mut i = 0;
        while !used.insert(s.clone()) {
            i += 1;
            s = format!("{n}_{i}");
        }
        s
    };
    let imports: Vec<Import> = imports
        .into_iter()
        .map(|r| Import {
            name: unique(&r.name),
            sig: Signature::new(r.params, r.result),
            line: None,
        })
        .collect();
    let mut sigs: Vec<(String, Signature)> = Vec::new();
    for (k, f) in funcs.iter().enumerate() {
        if k == 0 && cfg.main_first {
            sigs.push(("main".to_string(), Signature::new([], None)));
        } else {
            sigs.push((
                unique(&f.sig.name),
                Signature::new(f.sig.params.clone(), f.sig.result),
            ));
        }
    }
    // Every bank of every function can hold the parameters of any callee.
    let mut max_count = [0u16; 3];
    for sig in sigs
        .iter()
        .map(|(_, s)| s)
        .chain(imports.iter().map(|i| &i.sig))
    {
        for (m, c) in max_count.iter_mut().zip(sig.param_counts()) {
            *m = (*m).max(c);
        }
    }
    let allowed: Vec<Opcode> = if cfg.opcodes.is_empty() {
        vec![Opcode::Nop]
    } else {
        cfg.opcodes.clone()
    };
    let nf = funcs.len();
    // The types: every function's signature and closure view, so that
    // references made by `fref` and `closure` can be called.
    let mut types: Vec<Signature> = Vec::new();
    for (_, s) in &sigs {
        for t in [Some(s.clone()), s.closure_view()].into_iter().flatten() {
            if !types.contains(&t) {
                types.push(t);
            }
        }
    }
    let mut p = Pools::default();
    let mut functions = Vec::new();
    for (k, (f, (name, sig))) in funcs.into_iter().zip(sigs.iter().cloned()).enumerate() {
        let counts = sig.param_counts();
        let regs: [u16; 3] =
            std::array::from_fn(|b| counts[b].max(max_count[b]) + 1 + f.extra_regs[b]);
        let param_defaults: Vec<Option<i64>> = sig
            .params
            .iter()
            .zip(f.defaults.iter().chain(std::iter::repeat(&None)))
            .map(|(b, d)| if *b == Bank::I { *d } else { None })
            .collect();
        let param_defaults = if param_defaults.iter().any(Option::is_some) {
            param_defaults
        } else {
            Vec::new()
        };
        let len = f.ops.len() + usize::from(cfg.end_with_return);
        let mut code = Vec::with_capacity(len);
        let mut switch_tables = Vec::new();
        for (pc, r) in f.ops.iter().enumerate() {
            let mut opcode = allowed[r.opcode.index(allowed.len())];
            if opcode.flow() == Flow::Return && !opcode.is_tail_call() {
                opcode = return_op(sig.result);
            }
            let names_func = opcode.operands().contains(&Operand::Func);
            // A tail call through a reference could close a cycle that
            // never ends (it does not grow the stack): only when recursion
            // is allowed anyway.
            if (opcode == Opcode::HostCall && imports.is_empty())
                || (names_func && cfg.acyclic_calls && k + 1 >= nf)
                || (opcode == Opcode::TCallI && cfg.acyclic_calls)
                || opcode
                    .global_bank()
                    .is_some_and(|b| global_counts[b.index()] == 0)
                || opcode
                    .field_bank()
                    .is_some_and(|b| fields_of[b.index()].is_empty())
                || (opcode.names_struct() && structs.is_empty())
                // A switch jumps forward only.
                || (opcode == Opcode::Switch && pc + 1 >= len)
                // A register run must fit the bank.
                || opcode.operands().iter().any(|k| {
                    matches!(*k, Operand::ReadRun(b, n) if regs[b.index()] < u16::from(n))
                })
            {
                opcode = Opcode::Nop;
            }
            let picks = [r.picks.0, r.picks.1, r.picks.2];
            let kinds = opcode.operands();
            let mut fields = [0u16; 3];
            // Everything but the call result and window, which depend on the callee.
            for (i, kind) in kinds.iter().enumerate() {
                let pick = picks[i];
                fields[i] = match *kind {
                    Operand::None | Operand::CallDst | Operand::ArgWindow => 0,
                    Operand::Read(b) | Operand::Write(b) | Operand::Update(b) => {
                        pick.index(usize::from(regs[b.index()])) as u16
                    }
                    Operand::ReadRun(b, n) => {
                        pick.index(usize::from(regs[b.index()] - u16::from(n) + 1)) as u16
                    }
                    Operand::Imm => r.imm as u16,
                    Operand::ConstI => intern(&mut p.iconsts, &mut p.module.iconsts, r.big, r.big),
                    Operand::ConstF => {
                        intern(&mut p.fconsts, &mut p.module.fconsts, r.fbits, r.fbits)
                    }
                    Operand::Str => intern(
                        &mut p.strings,
                        &mut p.module.strings,
                        r.text.clone(),
                        r.text.clone(),
                    ),
                    Operand::Target => {
                        let t = if !cfg.backward_jumps && pc + 1 < len {
                            pc + 1 + pick.index(len - pc - 1)
                        } else {
                            pick.index(len)
                        };
                        t as u16
                    }
                    Operand::Func if cfg.acyclic_calls => (k + 1 + pick.index(nf - k - 1)) as u16,
                    Operand::Func => pick.index(nf) as u16,
                    Operand::Host => pick.index(imports.len()) as u16,
                    Operand::Count => pick.index(usize::from(MAX_PRINTF_DIGITS) + 1) as u16,
                    Operand::Type => pick.index(types.len()) as u16,
                    Operand::Global(b) => pick.index(global_counts[b.index()]) as u16,
                    Operand::Field(b) => {
                        let of = &fields_of[b.index()];
                        of[pick.index(of.len())]
                    }
                    Operand::Struct => pick.index(structs.len()) as u16,
                    Operand::Table => {
                        let ahead = (len - pc - 1) as u64;
                        let forward = |bits: u64| (pc as u64 + 1 + bits % ahead) as u16;
                        let cases = usize::from(r.imm as u16 % 6);
                        let targets = (0..cases)
                            .map(|j| forward((r.big as u64).rotate_left(7 * j as u32)))
                            .collect();
                        switch_tables.push(SwitchTable {
                            targets,
                            default: forward(r.fbits),
                        });
                        (switch_tables.len() - 1) as u16
                    }
                };
            }
            let callee: Option<&Signature> =
                kinds.iter().zip(fields).find_map(|(kind, v)| match kind {
                    Operand::Func => sigs.get(usize::from(v)).map(|(_, s)| s),
                    Operand::Host => imports.get(usize::from(v)).map(|i| &i.sig),
                    Operand::Type => types.get(usize::from(v)),
                    _ => None,
                });
            // Ops the callee does not fit: a closure of a function without
            // an `r` parameter, a tail call to one returning another bank.
            let misfit = match opcode {
                Opcode::Closure => callee.is_none_or(|c| !c.params.contains(&Bank::R)),
                o if o.is_tail_call() => callee.is_none_or(|c| c.result != sig.result),
                _ => false,
            };
            if misfit {
                code.push(Op::new(Opcode::Nop, 0, 0, 0));
                continue;
            }
            if let Some(callee) = callee {
                for (i, kind) in kinds.iter().enumerate() {
                    let pick = picks[i];
                    match kind {
                        Operand::CallDst => {
                            fields[i] = match callee.result {
                                Some(b) => pick.index(usize::from(regs[b.index()])) as u16,
                                None => NO_REG,
                            }
                        }
                        Operand::ArgWindow => {
                            let cc = callee.param_counts();
                            // `calli` also writes its result to register
                            // `window` of the result bank.
                            let result_room = match (opcode, callee.result) {
                                (Opcode::CallI, Some(b)) => Some(regs[b.index()] - 1),
                                _ => None,
                            };
                            let limit = (0..3)
                                .filter(|&b| cc[b] > 0 || cc == [0; 3])
                                .map(|b| regs[b] - cc[b])
                                .chain(result_room)
                                .min()
                                .unwrap_or(0);
                            fields[i] = pick.index(usize::from(limit) + 1) as u16;
                        }
                        _ => {}
                    }
                }
            }
            let [a, b, c] = fields;
            code.push(Op::new(opcode, a, b, c));
        }
        if cfg.end_with_return {
            let ret = return_op(sig.result);
            let reg = |b: Bank| p_index(&f.ops, regs[b.index()]);
            let a = match sig.result {
                Some(b) => reg(b),
                None => 0,
            };
            code.push(Op::new(ret, a, 0, 0));
        }
        functions.push(Function {
            name,
            sig,
            param_defaults,
            regs,
            code,
            lines: Vec::new(),
            columns: Vec::new(),
            switch_tables,
        });
    }
    if cfg.acyclic_calls {
        only_leaves_by_reference(&mut functions);
    }
    let mut m = p.module;
    m.functions = functions;
    m.imports = imports;
    m.types = types;
    m
}

/// In programs that must end, references only reach functions that call
/// nothing: a reference can be passed anywhere, so one to a calling
/// function could close a cycle of calls. `fref` and `closure` of another
/// function become `rnull` of their register.
fn only_leaves_by_reference(functions: &mut [Function]) {
    let calls = |f: &Function| {
        f.code.iter().any(|op| {
            matches!(
                op.opcode,
                Opcode::Call | Opcode::CallI | Opcode::TCall | Opcode::TCallI
            )
        })
    };
    let leaf: Vec<bool> = functions.iter().map(|f| !calls(f)).collect();
    for f in functions.iter_mut() {
        for op in &mut f.code {
            if matches!(op.opcode, Opcode::FRef | Opcode::Closure)
                && !leaf.get(usize::from(op.b)).copied().unwrap_or(false)
            {
                *op = Op::new(Opcode::RNull, op.a, 0, 0);
            }
        }
    }
}

/// A register below `regs` for the final return, derived from the recipe.
fn p_index(ops: &[OpRecipe], regs: u16) -> u16 {
    (ops.len() % usize::from(regs.max(1))) as u16
}

/// Modules with arbitrary fields: any opcode with any field values, indices
/// that may point nowhere, any names and strings. Not well-formed.
pub fn garbage_module() -> impl Strategy<Value = Module> {
    let op = (
        any::<Index>(),
        any::<u8>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(opc, flags, a, b, c)| {
            let opcode = Opcode::ALL[opc.index(Opcode::ALL.len())];
            let small = |v: u16| if v > 0xff00 { v } else { v % 8 };
            Op {
                opcode,
                flags: flags % 2,
                a: small(a),
                b: small(b),
                c: small(c),
            }
        });
    let sig = || {
        (
            prop::collection::vec(bank(), 0..4),
            prop::option::of(bank()),
        )
    };
    let function = (
        any::<String>(),
        sig(),
        prop::collection::vec(prop::option::of(any::<i64>()), 0..4),
        any::<[u16; 3]>(),
        prop::collection::vec(op, 0..16),
        prop::collection::vec(any::<u32>(), 0..4),
    )
        .prop_map(
            |(name, (params, result), param_defaults, regs, code, lines)| Function {
                name,
                sig: Signature::new(params, result),
                param_defaults,
                regs,
                code,
                columns: lines.iter().map(|l| l.rotate_left(7)).collect(),
                switch_tables: garbage_tables(&lines),
                lines,
            },
        );
    let import = (any::<String>(), sig(), prop::option::of(any::<u32>())).prop_map(
        |(name, (params, result), line)| Import {
            name,
            sig: Signature::new(params, result),
            line,
        },
    );
    (
        prop::collection::vec(function, 0..4),
        prop::collection::vec(import, 0..3),
        prop::collection::vec(any::<i64>(), 0..4),
        prop::collection::vec(any::<u64>(), 0..4),
        prop::collection::vec(any::<String>(), 0..4),
        prop::collection::vec(sig(), 0..3),
    )
        .prop_map(
            |(functions, imports, iconsts, fconsts, strings, types)| Module {
                functions,
                imports,
                iconsts,
                fconsts,
                types: types
                    .into_iter()
                    .map(|(params, result)| Signature::new(params, result))
                    .collect(),
                globals: garbage_globals(&strings),
                structs: garbage_structs(&strings),
                strings,
            },
        )
}

/// Struct types with any parents (forward, self, out of range), names
/// (repeated, empty) and fields, from garbage strings.
pub fn garbage_structs(names: &[String]) -> Vec<StructDecl> {
    names
        .iter()
        .map(|n| StructDecl {
            name: n.chars().take(3).collect(),
            parent: (n.len() % 3 != 0).then_some((n.len() % 5) as u16),
            fields: n
                .chars()
                .take(3)
                .enumerate()
                .map(|(j, c)| FieldDecl {
                    name: c.to_string(),
                    bank: Bank::ALL[j % 3],
                })
                .collect(),
        })
        .collect()
}

/// Switch tables with any targets, from garbage numbers.
pub fn garbage_tables(numbers: &[u32]) -> Vec<SwitchTable> {
    numbers
        .chunks(2)
        .map(|c| SwitchTable {
            targets: c.iter().map(|&x| (x % 24) as u16).collect(),
            default: (c[0] % 20) as u16,
        })
        .collect()
}

/// Globals of any bank, names and initial values (reference globals
/// starting non-null too), from garbage strings.
pub fn garbage_globals(names: &[String]) -> Vec<Global> {
    names
        .iter()
        .map(|n| Global {
            name: n.clone(),
            bank: Bank::ALL[n.len() % 3],
            init: (n.len() / 3) as u64,
        })
        .collect()
}

/// Turn every function of a terminating module (forward jumps only, ending
/// with a return) into one with a loop that runs at most `iterations`
/// times: the ops from the one `split` picks to the final return become the
/// loop's body, after a header that counts down a new i64 register, and
/// branch back to it before that return. Jumps into the body from before it
/// stay forward (one to its first op lands on the header, so headers are
/// entered both ways), returns inside it leave the loop, and the program
/// still terminates. Template code keeps f64 registers live around such
/// loops; here random code runs through them.
pub fn wrap_in_loop(m: &mut Module, split: Index, iterations: u16) {
    for f in &mut m.functions {
        let n = f.code.len();
        let Some(Op { opcode: ret, .. }) = f.code.last().copied() else {
            continue;
        };
        if ret.flow() != Flow::Return {
            continue;
        }
        let counter = f.regs[Bank::I.index()];
        f.regs[Bank::I.index()] += 1;
        let k = split.index(n);
        let header = k as u16 + 1;
        let moved = |t: u16| -> u16 {
            match (t as usize).cmp(&k) {
                std::cmp::Ordering::Less => t + 1,
                std::cmp::Ordering::Equal => header,
                std::cmp::Ordering::Greater => t + 2,
            }
        };
        let mut code = Vec::with_capacity(n + 3);
        code.push(Op::new(Opcode::IConst, counter, iterations, 0));
        for (i, op) in f.code[..n - 1].iter().enumerate() {
            if i == k {
                code.push(Op::new(Opcode::SubI, counter, counter, 1));
            }
            let mut op = *op;
            if let Some(field) = op.opcode.target_field() {
                let t = moved(op.fields()[field]);
                match field {
                    0 => op.a = t,
                    1 => op.b = t,
                    _ => op.c = t,
                }
            }
            code.push(op);
        }
        if k == n - 1 {
            code.push(Op::new(Opcode::SubI, counter, counter, 1));
        }
        code.push(Op::new(Opcode::JGtI, counter, 0, header));
        code.push(f.code[n - 1]);
        f.code = code;
        for t in &mut f.switch_tables {
            t.default = moved(t.default);
            for target in &mut t.targets {
                *target = moved(*target);
            }
        }
        f.lines.clear();
        f.columns.clear();
    }
}
