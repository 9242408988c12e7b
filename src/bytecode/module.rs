//! A bytecode module: functions, constant pools, host imports, strings.
//!
//! This is the raw, unverified form that the text parser and the builder
//! produce. [`crate::bytecode::verify`] checks it; engines only ever see verified ones.

use super::op::{Bank, Flow, Op};

/// The banks of a function's parameters and its result.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Signature {
    /// Parameter banks, in order. Parameter `j` of bank X is the callee's
    /// register `n` of bank X, where `n` counts the earlier parameters of X.
    pub params: Vec<Bank>,
    /// The result bank, or `None`.
    pub result: Option<Bank>,
}

impl Signature {
    /// A signature from its parts.
    pub fn new(params: impl Into<Vec<Bank>>, result: Option<Bank>) -> Signature {
        Signature {
            params: params.into(),
            result,
        }
    }

    /// How many parameters of each bank (indexed by [`Bank::index`]).
    pub fn param_counts(&self) -> [u16; 3] {
        let mut n = [0u16; 3];
        for b in &self.params {
            n[b.index()] = n[b.index()].saturating_add(1);
        }
        n
    }

    /// The type of a closure of a function with this signature: the
    /// signature without its last `r` parameter (the environment), or
    /// `None` when it has no `r` parameter.
    pub fn closure_view(&self) -> Option<Signature> {
        let env = self.params.iter().rposition(|&b| b == Bank::R)?;
        let mut params = self.params.clone();
        params.remove(env);
        Some(Signature {
            params,
            result: self.result,
        })
    }
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(")?;
        for (i, b) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{b}")?;
        }
        f.write_str(") -> ")?;
        match self.result {
            Some(b) => write!(f, "{b}"),
            None => f.write_str("none"),
        }
    }
}

/// The targets of a `switch`: case `k` jumps to `targets[k]`, any other
/// value to `default`. Op indices of the function, all after the switch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwitchTable {
    /// One target per case, from case 0.
    pub targets: Vec<u16>,
    /// Where values outside `0..targets.len()` go.
    pub default: u16,
}

impl SwitchTable {
    /// Every target, the cases' then the default.
    pub fn all_targets(&self) -> impl Iterator<Item = u16> + '_ {
        self.targets
            .iter()
            .copied()
            .chain(std::iter::once(self.default))
    }

    /// Where value `v` goes.
    #[inline]
    pub fn target_of(&self, v: i64) -> u16 {
        match usize::try_from(v).ok().and_then(|k| self.targets.get(k)) {
            Some(&t) => t,
            None => self.default,
        }
    }
}

/// A module-level variable: one per instance, read and written by the
/// `gget*`/`gset*` ops of its bank, a root of the collector when it holds
/// a reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    /// Its name, unique among the module's globals.
    pub name: String,
    /// Its bank: which ops reach it, and its index space.
    pub bank: Bank,
    /// Its initial value's bits: an i64, an f64's bits, or 0 (null) for a
    /// reference.
    pub init: u64,
}

/// A field of a struct type: one 8-byte slot of its objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDecl {
    /// Its name, unique among the fields of its struct and its ancestors.
    pub name: String,
    /// The bank of its values: which `sget*`/`sset*` ops reach it.
    pub bank: Bank,
}

/// A struct type: its parent's fields (if it has a parent) followed by its
/// own. Its objects are the parent's objects' slots and then one slot per
/// own field, so a reference to it can be used wherever a reference to an
/// ancestor is expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructDecl {
    /// Its name, unique among the module's structs.
    pub name: String,
    /// The index of its parent in [`Module::structs`], which comes before it.
    pub parent: Option<u16>,
    /// Its own fields, in order (not the inherited ones).
    pub fields: Vec<FieldDecl>,
}

/// Where a module-wide field index points ([`Module::field`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldInfo<'m> {
    /// The struct that declares the field.
    pub owner: usize,
    /// The field's position among its struct's own fields.
    pub position: usize,
    /// The declaration.
    pub decl: &'m FieldDecl,
}

/// One function.
#[derive(Clone, Debug, Default)]
pub struct Function {
    /// The function's name, unique in the module.
    pub name: String,
    /// Parameter and result banks.
    pub sig: Signature,
    /// Default values of i64 parameters, used when the embedder or the CLI
    /// passes fewer arguments than the function takes (`main(i=40)`).
    /// Empty, or one entry per parameter.
    pub param_defaults: Vec<Option<i64>>,
    /// Registers used in each bank (indexed by [`Bank::index`]); parameters
    /// included.
    pub regs: [u16; 3],
    /// The ops; jump targets are indices into this.
    pub code: Vec<Op>,
    /// Source line (1-based) of each op, when the function came from text;
    /// empty otherwise. Not part of equality.
    pub lines: Vec<u32>,
    /// Source column (1-based, in characters) of each op's mnemonic, when
    /// the function came from text; empty otherwise. Not part of equality.
    pub columns: Vec<u32>,
    /// The tables of its `switch` ops, by index.
    pub switch_tables: Vec<SwitchTable>,
}

impl PartialEq for Function {
    fn eq(&self, other: &Function) -> bool {
        self.name == other.name
            && self.sig == other.sig
            && self.param_defaults == other.param_defaults
            && self.regs == other.regs
            && self.code == other.code
            && self.switch_tables == other.switch_tables
    }
}

impl Function {
    /// The source line of op `pc`, when known.
    pub fn line_of(&self, pc: usize) -> Option<u32> {
        self.lines.get(pc).copied()
    }

    /// The source line and column of op `pc`, when known.
    pub fn position_of(&self, pc: usize) -> Option<(u32, u32)> {
        Some((*self.lines.get(pc)?, *self.columns.get(pc)?))
    }

    /// Every op index op `op` may jump to: its target, or its switch
    /// table's targets (an index past the tables gives none).
    pub fn targets_of<'a>(&'a self, op: &Op) -> impl Iterator<Item = u16> + 'a {
        let table = match op.opcode.flow() {
            Flow::Switch => self.switch_tables.get(usize::from(op.b)),
            _ => None,
        };
        op.target()
            .into_iter()
            .chain(table.into_iter().flat_map(SwitchTable::all_targets))
    }

    /// The default of parameter `i`, if one was declared.
    pub fn param_default(&self, i: usize) -> Option<i64> {
        self.param_defaults.get(i).copied().flatten()
    }
}

/// A host function the module needs; the embedder binds a Rust function to it.
#[derive(Clone, Debug, Eq)]
pub struct Import {
    /// The name the embedder binds a host function to.
    pub name: String,
    /// Parameter and result banks the host function must have.
    pub sig: Signature,
    /// Source line of the declaration, when it came from text.
    pub line: Option<u32>,
}

impl PartialEq for Import {
    /// Equal when name and signature are: the source line is not part of
    /// the module's meaning.
    fn eq(&self, other: &Import) -> bool {
        self.name == other.name && self.sig == other.sig
    }
}

/// A whole module.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Module {
    /// The functions; `call` ops index into this.
    pub functions: Vec<Function>,
    /// The host imports; `hcall` ops index into this.
    pub imports: Vec<Import>,
    /// The i64 constant pool (values that do not fit an op's 16-bit field).
    pub iconsts: Vec<i64>,
    /// The f64 constant pool, as bits so that equality is exact (NaNs too).
    pub fconsts: Vec<u64>,
    /// String constants (for `prints`).
    pub strings: Vec<String>,
    /// Function types, distinct: the signatures that indirect calls
    /// (`calli`, `tcalli`) expect, by index. A function reference's type is
    /// the index of its signature here.
    pub types: Vec<Signature>,
    /// The globals, in declaration order; each bank numbers its own.
    pub globals: Vec<Global>,
    /// The struct types, parents before children. Field operands number
    /// every struct's own fields in this order ([`Module::field`]).
    pub structs: Vec<StructDecl>,
}

/// The name of the entry function.
pub const ENTRY_NAME: &str = "main";

impl Module {
    /// The index of the function with this name.
    pub fn function_index(&self, name: &str) -> Option<usize> {
        self.functions.iter().position(|f| f.name == name)
    }

    /// The index of `main`, if the module has one.
    pub fn entry(&self) -> Option<usize> {
        self.function_index(ENTRY_NAME)
    }

    /// The f64 constant `k`.
    pub fn fconst(&self, k: usize) -> Option<f64> {
        self.fconsts.get(k).map(|&b| f64::from_bits(b))
    }

    /// The index of i64 constant `v`, adding it to the pool if new.
    pub fn intern_iconst(&mut self, v: i64) -> usize {
        intern(&mut self.iconsts, v)
    }

    /// The index of f64 constant `v` (by bits), adding it if new.
    pub fn intern_fconst(&mut self, v: f64) -> usize {
        intern(&mut self.fconsts, v.to_bits())
    }

    /// The index of string `s`, adding it if new.
    pub fn intern_string(&mut self, s: &str) -> usize {
        match self.strings.iter().position(|x| x == s) {
            Some(i) => i,
            None => {
                self.strings.push(s.to_owned());
                self.strings.len() - 1
            }
        }
    }

    /// Global `k` of `bank` (the `k`-th global of that bank).
    pub fn global(&self, bank: Bank, k: usize) -> Option<&Global> {
        self.globals.iter().filter(|g| g.bank == bank).nth(k)
    }

    /// How many globals each bank has.
    pub fn global_counts(&self) -> [usize; 3] {
        let mut n = [0; 3];
        for g in &self.globals {
            n[g.bank.index()] += 1;
        }
        n
    }

    /// The initial values of each bank's globals, in order (bits).
    pub fn global_inits(&self) -> [Vec<u64>; 3] {
        let mut v: [Vec<u64>; 3] = Default::default();
        for g in &self.globals {
            v[g.bank.index()].push(g.init);
        }
        v
    }

    /// The index of function type `sig`, adding it if new.
    pub fn intern_type(&mut self, sig: &Signature) -> usize {
        match self.types.iter().position(|t| t == sig) {
            Some(i) => i,
            None => {
                self.types.push(sig.clone());
                self.types.len() - 1
            }
        }
    }

    /// The type of a function reference with signature `sig`: its index in
    /// [`Module::types`], or [`NO_TYPE`](super::NO_TYPE) when no indirect call
    /// can expect it.
    pub fn type_id(&self, sig: &Signature) -> u32 {
        self.types
            .iter()
            .position(|t| t == sig)
            .map_or(super::NO_TYPE, |i| i as u32)
    }

    /// The type of `fref f` and of `closure f, env`: `(reference, closure)`.
    pub fn ref_types(&self, f: &Function) -> (u32, u32) {
        let closure = f
            .sig
            .closure_view()
            .map_or(super::NO_TYPE, |v| self.type_id(&v));
        (self.type_id(&f.sig), closure)
    }

    /// Field `k` of the module-wide numbering: every struct's own fields,
    /// struct by struct in declaration order. A linear walk, for tools and
    /// the verifier; engines look fields up in `runtime::structs`.
    pub fn field(&self, k: usize) -> Option<FieldInfo<'_>> {
        let mut first = 0;
        for (owner, s) in self.structs.iter().enumerate() {
            if k < first + s.fields.len() {
                let position = k - first;
                return Some(FieldInfo {
                    owner,
                    position,
                    decl: &s.fields[position],
                });
            }
            first += s.fields.len();
        }
        None
    }

    /// How many fields the module declares (every struct's own ones).
    pub fn field_count(&self) -> usize {
        self.structs.iter().map(|s| s.fields.len()).sum()
    }

    /// The module-wide index of the field named `name` of struct `s`, which
    /// may be inherited: the field of the nearest ancestor (or `s` itself)
    /// that declares it. Parents must come before children (else `None`).
    pub fn field_index(&self, s: usize, name: &str) -> Option<usize> {
        find_field(&self.structs, s, name).map(|(k, _)| k)
    }

    /// The module-wide index of each struct's first own field.
    pub fn first_fields(&self) -> Vec<usize> {
        first_fields(&self.structs)
    }

    /// The index of the struct named `name`.
    pub fn struct_index(&self, name: &str) -> Option<usize> {
        self.structs.iter().position(|s| s.name == name)
    }

    /// Total number of ops over all functions.
    pub fn op_count(&self) -> usize {
        self.functions.iter().map(|f| f.code.len()).sum()
    }
}

/// The module-wide index of each of `structs`' first own field.
fn first_fields(structs: &[StructDecl]) -> Vec<usize> {
    let mut next = 0;
    structs
        .iter()
        .map(|s| {
            let first = next;
            next += s.fields.len();
            first
        })
        .collect()
}

/// The field named `name` of struct `s` of `structs` (own or the nearest
/// ancestor's): its module-wide index and declaration. Parents must come
/// before children (else `None`).
pub fn find_field<'s>(
    structs: &'s [StructDecl],
    s: usize,
    name: &str,
) -> Option<(usize, &'s FieldDecl)> {
    let firsts = first_fields(structs);
    let mut cur = Some(s);
    while let Some(k) = cur {
        let decl = structs.get(k)?;
        if let Some(p) = decl.fields.iter().position(|f| f.name == name) {
            return Some((firsts[k] + p, &decl.fields[p]));
        }
        // Strictly decreasing, so the walk ends.
        cur = decl.parent.map(usize::from).filter(|&p| p < k);
    }
    None
}

fn intern<T: PartialEq + Copy>(pool: &mut Vec<T>, v: T) -> usize {
    match pool.iter().position(|x| *x == v) {
        Some(i) => i,
        None => {
            pool.push(v);
            pool.len() - 1
        }
    }
}
