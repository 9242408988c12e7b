//! A typed builder for modules, for embedders that generate bytecode.
//!
//! The builder resolves labels, allocates registers, pools constants
//! (deduplicated) and places call argument windows, and it types registers by
//! bank ([`IReg`], [`FReg`], [`RReg`]) so that an op cannot be given a
//! register of the wrong bank. Mistakes that types cannot rule out (a label
//! never bound, call arguments that do not match the callee's signature, a
//! `ret_i` in a function returning `f`, ...) are remembered and reported as a
//! [`BuildError`] by [`FunctionBuilder::finish`] or [`ModuleBuilder::finish`];
//! nothing panics. [`ModuleBuilder::finish`] also runs the
//! [verifier](super::verify::verify), so every module it returns is valid.
//!
//! # Example
//!
//! Naive Fibonacci and a `main` that prints `fib(n)`:
//!
//! ```
//! use tierjit::bytecode::op::IntBinOp;
//! use tierjit::bytecode::{Bank, Cmp, ModuleBuilder, Signature};
//!
//! let mut mb = ModuleBuilder::new();
//! // Declare first, so that calls can refer to functions defined later.
//! let fib = mb.declare_function("fib", Signature::new([Bank::I], Some(Bank::I)));
//! let main = mb.declare_function("main", Signature::new([Bank::I], None));
//!
//! let mut f = mb.function(fib);
//! let n = f.param_i(0);
//! let (a, b) = (f.new_i(), f.new_i());
//! let small = f.new_label();
//! f.branch_imm(Cmp::Lt, n, 2, small); // if n < 2 goto small
//! f.int_op_imm(IntBinOp::Sub, a, n, 1);
//! f.call(fib, &[a.into()], a); // a = fib(n - 1)
//! f.int_op_imm(IntBinOp::Sub, b, n, 2);
//! f.call(fib, &[b.into()], b); // b = fib(n - 2)
//! f.int_op(IntBinOp::Add, a, a, b);
//! f.ret_i(a);
//! f.bind(small);
//! f.ret_i(n);
//! f.finish()?;
//!
//! let mut m = mb.function(main);
//! m.set_default(0, 30); // main(i=30)
//! let n = m.param_i(0);
//! let r = m.new_i();
//! m.call(fib, &[n.into()], r);
//! m.prints("fib = ");
//! m.printi(r);
//! m.prints("\n");
//! m.ret();
//! m.finish()?;
//!
//! let module = mb.finish()?; // verified
//! assert_eq!(module.functions[0].name, "fib");
//! # Ok::<(), tierjit::bytecode::BuildError>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use super::module::{
    FieldDecl, Function, Global, Import, Module, Signature, StructDecl, SwitchTable, find_field,
};
use super::op::{
    Bank, BitCount, Cmp, Extension, FloatBinOp, FloatUnOp, IntBinOp, MAX_PRINTF_DIGITS, NO_REG, Op,
    Opcode,
};
use super::verify::{
    MAX_FUNCTIONS, MAX_GLOBALS_PER_BANK, MAX_IMPORTS, MAX_OPS, MAX_STRUCTS, MAX_TYPES, verify,
};
use crate::bytecode::error::VerifyError;

/// The most registers of one bank a function may have.
const MAX_REGS: u32 = u16::MAX as u32;
/// The most entries of a constant pool (indices fit an op field).
const MAX_POOL: usize = u16::MAX as usize + 1;

/// Identities of builders, so that a reference from one builder is not
/// silently accepted by another.
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

fn fresh_id() -> u32 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// An `i` (i64) register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IReg(
    /// The register's index in the `i` bank.
    pub u16,
);

/// An `f` (f64) register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FReg(
    /// The register's index in the `f` bank.
    pub u16,
);

/// An `r` (reference) register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RReg(
    /// The register's index in the `r` bank.
    pub u16,
);

/// A register of any bank: call arguments and results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnyReg {
    /// An `i` register.
    I(IReg),
    /// An `f` register.
    F(FReg),
    /// An `r` register.
    R(RReg),
}

impl AnyReg {
    /// The register's bank.
    pub fn bank(self) -> Bank {
        match self {
            AnyReg::I(_) => Bank::I,
            AnyReg::F(_) => Bank::F,
            AnyReg::R(_) => Bank::R,
        }
    }

    /// The register's index in its bank.
    pub fn index(self) -> u16 {
        match self {
            AnyReg::I(r) => r.0,
            AnyReg::F(r) => r.0,
            AnyReg::R(r) => r.0,
        }
    }
}

impl fmt::Display for AnyReg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.bank(), self.index())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::IReg {}
    impl Sealed for super::FReg {}
    impl Sealed for super::RReg {}
}

/// The three typed register types ([`IReg`], [`FReg`], [`RReg`]).
pub trait Reg: Copy + Into<AnyReg> + sealed::Sealed {
    /// The bank of this register type.
    const BANK: Bank;
    /// The register's index in its bank.
    fn index(self) -> u16;
}

macro_rules! reg_impls {
    ($($ty:ident => $bank:ident),*) => {$(
        impl Reg for $ty {
            const BANK: Bank = Bank::$bank;
            fn index(self) -> u16 {
                self.0
            }
        }
        impl From<$ty> for AnyReg {
            fn from(r: $ty) -> AnyReg {
                AnyReg::$bank(r)
            }
        }
        impl From<$ty> for Option<AnyReg> {
            fn from(r: $ty) -> Option<AnyReg> {
                Some(AnyReg::$bank(r))
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", Bank::$bank, self.0)
            }
        }
    )*};
}

reg_impls!(IReg => I, FReg => F, RReg => R);

/// A function declared in a [`ModuleBuilder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FuncRef {
    module: u32,
    index: u32,
}

impl FuncRef {
    /// The function's index in the module.
    pub fn index(self) -> u32 {
        self.index
    }
}

/// A function type declared in a [`ModuleBuilder`]: what an indirect call
/// expects of the reference it calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TypeRef {
    module: u32,
    index: u32,
}

impl TypeRef {
    /// The type's index in the module's type table.
    pub fn index(self) -> u32 {
        self.index
    }
}

/// A global declared in a [`ModuleBuilder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GlobalRef {
    module: u32,
    bank: Bank,
    index: u32,
}

impl GlobalRef {
    /// The global's bank.
    pub fn bank(self) -> Bank {
        self.bank
    }

    /// Its index among the globals of its bank.
    pub fn index(self) -> u32 {
        self.index
    }
}

/// A struct type declared in a [`ModuleBuilder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StructRef {
    module: u32,
    index: u32,
}

impl StructRef {
    /// The struct's index in the module.
    pub fn index(self) -> u32 {
        self.index
    }
}

/// A struct field (own or inherited) of a [`ModuleBuilder`]'s struct:
/// [`ModuleBuilder::field`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldRef {
    module: u32,
    bank: Bank,
    index: u32,
}

impl FieldRef {
    /// The bank of the field's values.
    pub fn bank(self) -> Bank {
        self.bank
    }

    /// The field's module-wide index (every struct's own fields in
    /// declaration order).
    pub fn index(self) -> u32 {
        self.index
    }
}

/// A host import declared in a [`ModuleBuilder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostRef {
    module: u32,
    index: u32,
}

impl HostRef {
    /// The import's index in the module.
    pub fn index(self) -> u32 {
        self.index
    }
}

/// A jump target in the function being built: create it with
/// [`FunctionBuilder::new_label`], place it with [`FunctionBuilder::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    owner: u32,
    index: u32,
}

/// What went wrong while building a module.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A label was jumped to but never bound.
    #[error("function `{function}`: label {label} is used but never bound")]
    UnboundLabel {
        /// The function being built.
        function: String,
        /// The label's number, in order of creation in that function.
        label: u32,
    },
    /// A label was bound twice.
    #[error("function `{function}`: label {label} is bound twice")]
    LabelBoundTwice {
        /// The function being built.
        function: String,
        /// The label's number, in order of creation in that function.
        label: u32,
    },
    /// A label that is jumped to was bound after the last op.
    #[error("function `{function}`: label {label} is jumped to but bound after the last op")]
    LabelAtEnd {
        /// The function being built.
        function: String,
        /// The label's number, in order of creation in that function.
        label: u32,
    },
    /// A label made by another function builder.
    #[error("function `{function}`: label {label} belongs to another function")]
    ForeignLabel {
        /// The function being built.
        function: String,
        /// The label's number, in order of creation in that function.
        label: u32,
    },
    /// More ops than a function may have.
    #[error("function `{function}` has {count} ops (at most {MAX_OPS})")]
    TooManyOps {
        /// The function being built.
        function: String,
        /// How many ops it has.
        count: usize,
    },
    /// More registers of one bank than a function may have.
    #[error("function `{function}` needs more than {MAX_REGS} {bank} registers")]
    TooManyRegisters {
        /// The function being built.
        function: String,
        /// The bank that ran out.
        bank: Bank,
    },
    /// A register that was neither a parameter nor allocated with `new_*`.
    #[error("function `{function}`: register {reg} is not allocated")]
    UnallocatedRegister {
        /// The function being built.
        function: String,
        /// The offending register.
        reg: AnyReg,
    },
    /// A function without ops.
    #[error("function `{function}` has no ops")]
    EmptyFunction {
        /// The function being built.
        function: String,
    },
    /// The last op can fall through past the end of the function.
    #[error("function `{function}`: the last op `{op}` neither jumps nor returns")]
    FallsOffEnd {
        /// The function being built.
        function: String,
        /// The opcode of its last op.
        op: Opcode,
    },
    /// An op that does not fit its context: call arguments or result of the
    /// wrong bank, a return of the wrong bank, a parameter that does not
    /// exist, a reference from another builder, ...
    #[error("function `{function}`: {message}")]
    Invalid {
        /// The function being built.
        function: String,
        /// What is wrong.
        message: String,
    },
    /// A function defined twice.
    #[error("function `{0}` is defined twice")]
    DefinedTwice(
        /// The function's name.
        String,
    ),
    /// A function declared but never defined.
    #[error("function `{0}` is declared but never defined")]
    Undefined(
        /// The function's name.
        String,
    ),
    /// Two functions, or two imports, of the same name.
    #[error("duplicate {kind} name `{name}`")]
    DuplicateName {
        /// `"function"` or `"import"`.
        kind: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A module-wide problem: an empty name, too many functions, imports or
    /// constants.
    #[error("{0}")]
    Module(
        /// What is wrong.
        String,
    ),
    /// The finished module does not verify (a builder bug if it happens).
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

#[derive(Debug)]
struct Slot {
    name: String,
    sig: Signature,
    def: Option<Function>,
}

/// Builds a [`Module`]: declare functions and imports, define each function
/// with a [`FunctionBuilder`], then [`finish`](ModuleBuilder::finish).
#[derive(Debug)]
pub struct ModuleBuilder {
    id: u32,
    functions: Vec<Slot>,
    function_names: HashSet<String>,
    imports: Vec<Import>,
    import_names: HashSet<String>,
    iconsts: Vec<i64>,
    iconst_index: HashMap<i64, u16>,
    fconsts: Vec<u64>,
    fconst_index: HashMap<u64, u16>,
    strings: Vec<String>,
    string_index: HashMap<String, u16>,
    types: Vec<Signature>,
    globals: Vec<Global>,
    structs: Vec<StructDecl>,
    error: Option<BuildError>,
}

impl Default for ModuleBuilder {
    fn default() -> Self {
        ModuleBuilder::new()
    }
}

impl ModuleBuilder {
    /// An empty module.
    pub fn new() -> ModuleBuilder {
        ModuleBuilder {
            id: fresh_id(),
            functions: Vec::new(),
            function_names: HashSet::new(),
            imports: Vec::new(),
            import_names: HashSet::new(),
            iconsts: Vec::new(),
            iconst_index: HashMap::new(),
            fconsts: Vec::new(),
            fconst_index: HashMap::new(),
            strings: Vec::new(),
            string_index: HashMap::new(),
            types: Vec::new(),
            globals: Vec::new(),
            structs: Vec::new(),
            error: None,
        }
    }

    fn fail(&mut self, e: BuildError) {
        self.error.get_or_insert(e);
    }

    /// Declare a function; define it later with [`ModuleBuilder::function`].
    /// Functions get indices in declaration order.
    pub fn declare_function(&mut self, name: impl Into<String>, sig: Signature) -> FuncRef {
        let name = name.into();
        if name.is_empty() {
            self.fail(BuildError::Module("function with an empty name".to_owned()));
        } else if !self.function_names.insert(name.clone()) {
            self.fail(BuildError::DuplicateName {
                kind: "function",
                name: name.clone(),
            });
        }
        if self.functions.len() >= MAX_FUNCTIONS {
            self.fail(BuildError::Module(format!(
                "too many functions (at most {MAX_FUNCTIONS})"
            )));
        }
        let index = u32::try_from(self.functions.len()).unwrap_or(u32::MAX);
        self.functions.push(Slot {
            name,
            sig,
            def: None,
        });
        FuncRef {
            module: self.id,
            index,
        }
    }

    /// Declare a host import, which the embedder binds to a Rust function.
    pub fn declare_import(&mut self, name: impl Into<String>, sig: Signature) -> HostRef {
        let name = name.into();
        if name.is_empty() {
            self.fail(BuildError::Module("import with an empty name".to_owned()));
        } else if !self.import_names.insert(name.clone()) {
            self.fail(BuildError::DuplicateName {
                kind: "import",
                name: name.clone(),
            });
        }
        if self.imports.len() >= MAX_IMPORTS {
            self.fail(BuildError::Module(format!(
                "too many imports (at most {MAX_IMPORTS})"
            )));
        }
        let index = u32::try_from(self.imports.len()).unwrap_or(u32::MAX);
        self.imports.push(Import {
            name,
            sig,
            line: None,
        });
        HostRef {
            module: self.id,
            index,
        }
    }

    /// Declare a function type for indirect calls ([`FunctionBuilder::call_indirect`]).
    /// Declaring the same signature twice gives the same type.
    pub fn declare_type(&mut self, sig: Signature) -> TypeRef {
        let index = match self.types.iter().position(|t| *t == sig) {
            Some(i) => i,
            None => {
                if self.types.len() >= MAX_TYPES {
                    self.fail(BuildError::Module(format!(
                        "too many types (at most {MAX_TYPES})"
                    )));
                }
                self.types.push(sig);
                self.types.len() - 1
            }
        };
        TypeRef {
            module: self.id,
            index: u32::try_from(index).unwrap_or(u32::MAX),
        }
    }

    /// Declare a global of `bank` with initial bits `init` (an i64, an
    /// f64's bits, 0 for a reference: see the typed forms).
    fn declare_global(&mut self, name: String, bank: Bank, init: u64) -> GlobalRef {
        if name.is_empty() {
            self.fail(BuildError::Module("global with an empty name".to_owned()));
        } else if self.globals.iter().any(|g| g.name == name) {
            self.fail(BuildError::DuplicateName {
                kind: "global",
                name: name.clone(),
            });
        }
        let index = self.globals.iter().filter(|g| g.bank == bank).count();
        if index >= MAX_GLOBALS_PER_BANK {
            self.fail(BuildError::Module(format!(
                "too many {bank} globals (at most {MAX_GLOBALS_PER_BANK})"
            )));
        }
        self.globals.push(Global { name, bank, init });
        GlobalRef {
            module: self.id,
            bank,
            index: u32::try_from(index).unwrap_or(u32::MAX),
        }
    }

    /// Declare an i64 global starting at `init`.
    pub fn declare_global_i(&mut self, name: impl Into<String>, init: i64) -> GlobalRef {
        self.declare_global(name.into(), Bank::I, init as u64)
    }

    /// Declare an f64 global starting at `init`.
    pub fn declare_global_f(&mut self, name: impl Into<String>, init: f64) -> GlobalRef {
        self.declare_global(name.into(), Bank::F, init.to_bits())
    }

    /// Declare a reference global, starting null.
    pub fn declare_global_r(&mut self, name: impl Into<String>) -> GlobalRef {
        self.declare_global(name.into(), Bank::R, 0)
    }

    /// Declare a struct type with `fields` (bank, name) after those of
    /// `parent`, if any (declared before it). Field names must not repeat
    /// within the struct and its ancestors.
    pub fn declare_struct(
        &mut self,
        name: impl Into<String>,
        parent: Option<StructRef>,
        fields: &[(Bank, &str)],
    ) -> StructRef {
        let name = name.into();
        if name.is_empty() {
            self.fail(BuildError::Module("struct with an empty name".to_owned()));
        } else if self.structs.iter().any(|s| s.name == name) {
            self.fail(BuildError::DuplicateName {
                kind: "struct",
                name: name.clone(),
            });
        }
        let parent = match parent {
            Some(p) if p.module != self.id || p.index as usize >= self.structs.len() => {
                self.fail(BuildError::Module(format!(
                    "parent of struct `{name}` from another module builder"
                )));
                None
            }
            Some(p) => u16::try_from(p.index).ok(),
            None => None,
        };
        if self.structs.len() >= MAX_STRUCTS {
            self.fail(BuildError::Module(format!(
                "too many structs (at most {MAX_STRUCTS})"
            )));
        }
        // Duplicate and inherited field names: the verifier reports them
        // at `finish`.
        self.structs.push(StructDecl {
            name,
            parent,
            fields: fields
                .iter()
                .map(|&(bank, n)| FieldDecl {
                    name: n.to_owned(),
                    bank,
                })
                .collect(),
        });
        StructRef {
            module: self.id,
            index: u32::try_from(self.structs.len() - 1).unwrap_or(u32::MAX),
        }
    }

    /// The field `name` of struct `s`: its own, or the nearest ancestor's.
    /// An unknown name is remembered as an error (returned by
    /// [`ModuleBuilder::finish`]); the handle it gives then names field 0.
    pub fn field(&mut self, s: StructRef, name: &str) -> FieldRef {
        let found = (s.module == self.id)
            .then(|| find_field(&self.structs, s.index as usize, name))
            .flatten()
            .map(|(k, f)| (k, f.bank));
        match found {
            Some((k, bank)) => FieldRef {
                module: self.id,
                bank,
                index: u32::try_from(k).unwrap_or(u32::MAX),
            },
            None => {
                self.fail(BuildError::Module(format!(
                    "struct {} has no field `{name}`",
                    s.index
                )));
                FieldRef {
                    module: self.id,
                    bank: Bank::I,
                    index: 0,
                }
            }
        }
    }

    /// Start defining function `f`. The definition takes effect when
    /// [`FunctionBuilder::finish`] succeeds.
    pub fn function(&mut self, f: FuncRef) -> FunctionBuilder<'_> {
        let slot = (f.module == self.id)
            .then_some(f.index as usize)
            .filter(|&i| i < self.functions.len());
        let (name, sig) = match slot {
            Some(i) => (
                self.functions[i].name.clone(),
                self.functions[i].sig.clone(),
            ),
            None => (String::new(), Signature::default()),
        };
        let mut counts = [0u32; 3];
        for b in &sig.params {
            counts[b.index()] = counts[b.index()].saturating_add(1);
        }
        let mut fb = FunctionBuilder {
            id: fresh_id(),
            module: self,
            slot,
            name,
            params: counts,
            regs: counts,
            sig,
            defaults: Vec::new(),
            code: Vec::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
            windows: Vec::new(),
            switch_tables: Vec::new(),
            table_fixups: Vec::new(),
            window_need: [0; 3],
            error: None,
        };
        if slot.is_none() {
            fb.invalid("function reference from another module builder".to_owned());
        }
        for bank in Bank::ALL {
            if counts[bank.index()] > MAX_REGS {
                fb.fail(BuildError::TooManyRegisters {
                    function: fb.name.clone(),
                    bank,
                });
            }
        }
        fb
    }

    /// The module, once every declared function is defined. It is verified.
    pub fn finish(self) -> Result<Module, BuildError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut functions = Vec::with_capacity(self.functions.len());
        for slot in self.functions {
            match slot.def {
                Some(def) => functions.push(def),
                None => return Err(BuildError::Undefined(slot.name)),
            }
        }
        let module = Module {
            functions,
            imports: self.imports,
            iconsts: self.iconsts,
            fconsts: self.fconsts,
            strings: self.strings,
            types: self.types,
            globals: self.globals,
            structs: self.structs,
        };
        verify(&module)?;
        Ok(module)
    }

    fn intern_iconst(&mut self, v: i64) -> Option<u16> {
        if let Some(&k) = self.iconst_index.get(&v) {
            return Some(k);
        }
        let k = pool_index(self.iconsts.len())?;
        self.iconsts.push(v);
        self.iconst_index.insert(v, k);
        Some(k)
    }

    fn intern_fconst(&mut self, bits: u64) -> Option<u16> {
        if let Some(&k) = self.fconst_index.get(&bits) {
            return Some(k);
        }
        let k = pool_index(self.fconsts.len())?;
        self.fconsts.push(bits);
        self.fconst_index.insert(bits, k);
        Some(k)
    }

    fn intern_string(&mut self, s: &str) -> Option<u16> {
        if let Some(&k) = self.string_index.get(s) {
            return Some(k);
        }
        let k = pool_index(self.strings.len())?;
        self.strings.push(s.to_owned());
        self.string_index.insert(s.to_owned(), k);
        Some(k)
    }
}

fn pool_index(len: usize) -> Option<u16> {
    if len >= MAX_POOL {
        None
    } else {
        u16::try_from(len).ok()
    }
}

/// An argument window whose place is decided by [`FunctionBuilder::finish`]:
/// field `field` of op `pc` becomes `window + offset`.
#[derive(Debug)]
struct WindowFixup {
    pc: usize,
    field: usize,
    offset: u32,
}

/// Defines one function. Made by [`ModuleBuilder::function`].
///
/// Op methods take typed registers and never fail on the spot: a misuse is
/// remembered and returned by [`finish`](FunctionBuilder::finish).
#[derive(Debug)]
pub struct FunctionBuilder<'m> {
    module: &'m mut ModuleBuilder,
    id: u32,
    slot: Option<usize>,
    name: String,
    sig: Signature,
    /// Parameters per bank.
    params: [u32; 3],
    /// Registers allocated per bank (parameters included).
    regs: [u32; 3],
    defaults: Vec<Option<i64>>,
    code: Vec<Op>,
    /// The op each label is bound to.
    labels: Vec<Option<u32>>,
    /// Target fields to fill in: (op, field, label).
    fixups: Vec<(usize, usize, u32)>,
    windows: Vec<WindowFixup>,
    /// Switch tables, and their entries to fill in: (table, case or
    /// `None` for the default, label).
    switch_tables: Vec<SwitchTable>,
    table_fixups: Vec<(usize, Option<usize>, u32)>,
    /// Per bank, the most parameters of any callee whose window is placed by
    /// `finish`.
    window_need: [u32; 3],
    error: Option<BuildError>,
}

impl FunctionBuilder<'_> {
    fn fail(&mut self, e: BuildError) {
        self.error.get_or_insert(e);
    }

    fn invalid(&mut self, message: String) {
        let function = self.name.clone();
        self.fail(BuildError::Invalid { function, message });
    }

    /// The signature of the function being built.
    pub fn signature(&self) -> &Signature {
        &self.sig
    }

    /// The number of ops emitted so far (the index of the next op).
    pub fn pc(&self) -> usize {
        self.code.len()
    }

    // ---- registers ----

    fn param(&mut self, bank: Bank, j: u16) -> u16 {
        if u32::from(j) >= self.params[bank.index()] {
            self.invalid(format!(
                "no {bank} parameter {j} (the function has {})",
                self.params[bank.index()]
            ));
        }
        j
    }

    /// The register of the `j`-th `i` parameter (counting only `i` parameters).
    pub fn param_i(&mut self, j: u16) -> IReg {
        IReg(self.param(Bank::I, j))
    }

    /// The register of the `j`-th `f` parameter (counting only `f` parameters).
    pub fn param_f(&mut self, j: u16) -> FReg {
        FReg(self.param(Bank::F, j))
    }

    /// The register of the `j`-th `r` parameter (counting only `r` parameters).
    pub fn param_r(&mut self, j: u16) -> RReg {
        RReg(self.param(Bank::R, j))
    }

    /// Give parameter `param` (an index into the signature's parameters,
    /// which must be an `i` parameter) a default value, used when the caller
    /// from outside passes fewer arguments.
    pub fn set_default(&mut self, param: usize, value: i64) {
        match self.sig.params.get(param) {
            Some(Bank::I) => {
                if self.defaults.is_empty() {
                    self.defaults = vec![None; self.sig.params.len()];
                }
                self.defaults[param] = Some(value);
            }
            Some(bank) => {
                let bank = *bank;
                self.invalid(format!(
                    "parameter {param} is of bank {bank}; only i parameters can have defaults"
                ));
            }
            None => self.invalid(format!("no parameter {param}")),
        }
    }

    fn alloc(&mut self, bank: Bank) -> u16 {
        let n = self.regs[bank.index()];
        if n >= MAX_REGS {
            let function = self.name.clone();
            self.fail(BuildError::TooManyRegisters { function, bank });
            return 0;
        }
        self.regs[bank.index()] = n + 1;
        n as u16
    }

    /// A fresh `i` register (starts as 0).
    pub fn new_i(&mut self) -> IReg {
        IReg(self.alloc(Bank::I))
    }

    /// `n` fresh consecutive `i` registers (each starts as 0), the first
    /// returned: the run a bulk operation (`copy`, `fill_*`) reads.
    pub fn new_i_run(&mut self, n: u16) -> IReg {
        let first = self.new_i();
        for _ in 1..n {
            self.new_i();
        }
        first
    }

    /// A fresh `f` register (starts as 0.0).
    pub fn new_f(&mut self) -> FReg {
        FReg(self.alloc(Bank::F))
    }

    /// A fresh `r` register (starts as null).
    pub fn new_r(&mut self) -> RReg {
        RReg(self.alloc(Bank::R))
    }

    /// The field value of a register, checking that it was allocated.
    fn r(&mut self, reg: impl Into<AnyReg>) -> u16 {
        let reg = reg.into();
        if u32::from(reg.index()) >= self.regs[reg.bank().index()] {
            let function = self.name.clone();
            self.fail(BuildError::UnallocatedRegister { function, reg });
        }
        reg.index()
    }

    // ---- labels ----

    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        let index = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
        self.labels.push(None);
        Label {
            owner: self.id,
            index,
        }
    }

    /// Bind `label` to the next op emitted.
    pub fn bind(&mut self, label: Label) {
        if !self.own_label(label) {
            return;
        }
        let pc = u32::try_from(self.code.len()).unwrap_or(u32::MAX);
        match self.labels.get_mut(label.index as usize) {
            Some(slot @ None) => *slot = Some(pc),
            _ => {
                let function = self.name.clone();
                self.fail(BuildError::LabelBoundTwice {
                    function,
                    label: label.index,
                });
            }
        }
    }

    fn own_label(&mut self, label: Label) -> bool {
        if label.owner == self.id && (label.index as usize) < self.labels.len() {
            return true;
        }
        let function = self.name.clone();
        self.fail(BuildError::ForeignLabel {
            function,
            label: label.index,
        });
        false
    }

    /// Emit an op whose field `field` is the target `label`.
    fn emit_jump(&mut self, opcode: Opcode, fields: [u16; 3], field: usize, label: Label) {
        if self.own_label(label) {
            self.fixups.push((self.code.len(), field, label.index));
        }
        self.emit(opcode, fields);
    }

    // ---- globals and switch ----

    /// `dst = ` global `g` (of `dst`'s bank).
    pub fn global_get(&mut self, dst: impl Into<AnyReg>, g: GlobalRef) {
        let dst = dst.into();
        if let Some(index) = self.own_global(g, dst.bank()) {
            let a = self.r(dst);
            let opcode = [Opcode::GGetI, Opcode::GGetF, Opcode::GGetR][g.bank.index()];
            self.emit(opcode, [a, index, 0]);
        }
    }

    /// Global `g = src` (of `src`'s bank).
    pub fn global_set(&mut self, g: GlobalRef, src: impl Into<AnyReg>) {
        let src = src.into();
        if let Some(index) = self.own_global(g, src.bank()) {
            let b = self.r(src);
            let opcode = [Opcode::GSetI, Opcode::GSetF, Opcode::GSetR][g.bank.index()];
            self.emit(opcode, [index, b, 0]);
        }
    }

    /// `g`'s index if it is a global of this module builder of `bank`.
    fn own_global(&mut self, g: GlobalRef, bank: Bank) -> Option<u16> {
        if g.module != self.module.id {
            self.invalid("global reference from another module builder".to_owned());
            return None;
        }
        if g.bank != bank {
            self.invalid(format!(
                "global {} of bank {} used with a register of bank {bank}",
                g.index, g.bank
            ));
            return None;
        }
        Some(g.index as u16)
    }

    /// Jump to `cases[value]` when `0 <= value < cases.len()`, else to
    /// `default`: a jump table. Every label must be bound after this op.
    pub fn switch(&mut self, value: IReg, cases: &[Label], default: Label) {
        let a = self.r(value);
        let table = self.switch_tables.len();
        for (k, &label) in cases.iter().chain(std::iter::once(&default)).enumerate() {
            if self.own_label(label) {
                let entry = (k < cases.len()).then_some(k);
                self.table_fixups.push((table, entry, label.index));
            }
        }
        self.switch_tables.push(SwitchTable {
            targets: vec![0; cases.len()],
            default: 0,
        });
        self.emit(Opcode::Switch, [a, table as u16, 0]);
    }

    fn emit(&mut self, opcode: Opcode, [a, b, c]: [u16; 3]) {
        self.code.push(Op::new(opcode, a, b, c));
    }

    // ---- constants and moves ----

    /// Do nothing.
    pub fn nop(&mut self) {
        self.emit(Opcode::Nop, [0, 0, 0]);
    }

    /// `dst = v`: inline when `v` fits 16 bits, else from the constant pool.
    pub fn iconst(&mut self, dst: IReg, v: i64) {
        let a = self.r(dst);
        match i16::try_from(v) {
            Ok(small) => self.emit(Opcode::IConst, [a, small as u16, 0]),
            Err(_) => {
                let k = self.module.intern_iconst(v);
                let k = self.pooled(k, "i64 constants");
                self.emit(Opcode::IConstK, [a, k, 0]);
            }
        }
    }

    /// `dst = v` (pooled by bits: `-0.0` and NaN payloads are kept exactly).
    pub fn fconst(&mut self, dst: FReg, v: f64) {
        let a = self.r(dst);
        let k = self.module.intern_fconst(v.to_bits());
        let k = self.pooled(k, "f64 constants");
        self.emit(Opcode::FConst, [a, k, 0]);
    }

    fn pooled(&mut self, k: Option<u16>, what: &str) -> u16 {
        match k {
            Some(k) => k,
            None => {
                self.fail(BuildError::Module(format!(
                    "too many {what} (at most {MAX_POOL})"
                )));
                0
            }
        }
    }

    /// `dst = null`.
    pub fn rnull(&mut self, dst: RReg) {
        let a = self.r(dst);
        self.emit(Opcode::RNull, [a, 0, 0]);
    }

    /// `dst = src`, in any bank (`mov`, `fmov` or `rmov`).
    pub fn mov<R: Reg>(&mut self, dst: R, src: R) {
        let (a, b) = (self.r(dst), self.r(src));
        self.emit(mov_opcode(R::BANK), [a, b, 0]);
    }

    // ---- i64 ----

    /// `dst = a op b`.
    pub fn int_op(&mut self, op: IntBinOp, dst: IReg, a: IReg, b: IReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::int_rr(op), f);
    }

    /// `dst = a op imm`.
    pub fn int_op_imm(&mut self, op: IntBinOp, dst: IReg, a: IReg, imm: i16) {
        let f = [self.r(dst), self.r(a), imm as u16];
        self.emit(Opcode::int_ri(op), f);
    }

    /// `dst = -src` (wrapping).
    pub fn neg(&mut self, dst: IReg, src: IReg) {
        let f = [self.r(dst), self.r(src), 0];
        self.emit(Opcode::Neg, f);
    }

    /// `dst = !src` (bitwise).
    pub fn not(&mut self, dst: IReg, src: IReg) {
        let f = [self.r(dst), self.r(src), 0];
        self.emit(Opcode::Not, f);
    }

    /// `dst = (a cmp b) as 0/1`.
    pub fn cmp(&mut self, cmp: Cmp, dst: IReg, a: IReg, b: IReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::cmp_rr(cmp), f);
    }

    /// `dst = (a cmp imm) as 0/1`.
    pub fn cmp_imm(&mut self, cmp: Cmp, dst: IReg, a: IReg, imm: i16) {
        let f = [self.r(dst), self.r(a), imm as u16];
        self.emit(Opcode::cmp_ri(cmp), f);
    }

    /// `if a cmp b goto target`.
    pub fn branch(&mut self, cmp: Cmp, a: IReg, b: IReg, target: Label) {
        let f = [self.r(a), self.r(b), 0];
        self.emit_jump(Opcode::branch_rr(cmp), f, 2, target);
    }

    /// `if a cmp imm goto target`.
    pub fn branch_imm(&mut self, cmp: Cmp, a: IReg, imm: i16, target: Label) {
        let f = [self.r(a), imm as u16, 0];
        self.emit_jump(Opcode::branch_ri(cmp), f, 2, target);
    }

    /// `dst = a / b` as `u64` (`udiv`; traps on a zero divisor).
    pub fn udiv(&mut self, dst: IReg, a: IReg, b: IReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::UDiv, f);
    }

    /// `dst = a % b` as `u64` (`urem`; traps on a zero divisor).
    pub fn urem(&mut self, dst: IReg, a: IReg, b: IReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::URem, f);
    }

    /// `dst = (a cmp b) as 0/1`, comparing as `u64` (`ult`, ...; `Eq` and
    /// `Ne`, alike signed or not, emit `eq` and `ne`).
    pub fn ucmp(&mut self, cmp: Cmp, dst: IReg, a: IReg, b: IReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::ucmp_rr(cmp).unwrap_or(Opcode::cmp_rr(cmp)), f);
    }

    /// `if a cmp b goto target`, comparing as `u64` (`jult`, ...; `Eq` and
    /// `Ne` emit `jeq` and `jne`).
    pub fn ubranch(&mut self, cmp: Cmp, a: IReg, b: IReg, target: Label) {
        let f = [self.r(a), self.r(b), 0];
        let opcode = Opcode::ubranch_rr(cmp).unwrap_or(Opcode::branch_rr(cmp));
        self.emit_jump(opcode, f, 2, target);
    }

    /// `dst = op(src)`: `popcnt`, `clz` or `ctz`.
    pub fn bit_count(&mut self, op: BitCount, dst: IReg, src: IReg) {
        let opcode = match op {
            BitCount::Popcnt => Opcode::Popcnt,
            BitCount::Clz => Opcode::Clz,
            BitCount::Ctz => Opcode::Ctz,
        };
        let f = [self.r(dst), self.r(src), 0];
        self.emit(opcode, f);
    }

    /// `dst = a` rotated left by `b mod 64` (`rotl`).
    pub fn rotl(&mut self, dst: IReg, a: IReg, b: IReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::Rotl, f);
    }

    /// `dst = a` rotated right by `b mod 64` (`rotr`).
    pub fn rotr(&mut self, dst: IReg, a: IReg, b: IReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::Rotr, f);
    }

    /// `dst = a` rotated left by `imm mod 64` (`rotli`).
    pub fn rotl_imm(&mut self, dst: IReg, a: IReg, imm: i16) {
        let f = [self.r(dst), self.r(a), imm as u16];
        self.emit(Opcode::RotlI, f);
    }

    /// `dst = min(a, b)`, signed.
    pub fn min(&mut self, dst: IReg, a: IReg, b: IReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::Min, f);
    }

    /// `dst = max(a, b)`, signed.
    pub fn max(&mut self, dst: IReg, a: IReg, b: IReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::Max, f);
    }

    /// `if cond != 0 { dst = src }` in any bank (`sel`, `fsel`, `rsel`).
    pub fn select<R: Reg>(&mut self, dst: R, src: R, cond: IReg) {
        let opcode = match R::BANK {
            Bank::I => Opcode::Sel,
            Bank::F => Opcode::FSel,
            Bank::R => Opcode::RSel,
        };
        let f = [self.r(dst), self.r(src), self.r(cond)];
        self.emit(opcode, f);
    }

    /// `dst` = the low bits of `src`, extended (`sext8` ... `zext32`).
    pub fn extend(&mut self, ext: Extension, dst: IReg, src: IReg) {
        let opcode = match ext {
            Extension::S8 => Opcode::Sext8,
            Extension::S16 => Opcode::Sext16,
            Extension::S32 => Opcode::Sext32,
            Extension::U8 => Opcode::Zext8,
            Extension::U16 => Opcode::Zext16,
            Extension::U32 => Opcode::Zext32,
        };
        let f = [self.r(dst), self.r(src), 0];
        self.emit(opcode, f);
    }

    // ---- f64 ----

    /// `acc = a * b + acc` rounded once (`fma`).
    pub fn fma(&mut self, acc: FReg, a: FReg, b: FReg) {
        let f = [self.r(acc), self.r(a), self.r(b)];
        self.emit(Opcode::Fma, f);
    }

    /// `dst = minimum(a, b)` (IEEE 754-2019: -0.0 < +0.0, NaNs spread).
    pub fn fmin(&mut self, dst: FReg, a: FReg, b: FReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::FMin, f);
    }

    /// `dst = maximum(a, b)` (IEEE 754-2019: -0.0 < +0.0, NaNs spread).
    pub fn fmax(&mut self, dst: FReg, a: FReg, b: FReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::FMax, f);
    }

    /// `dst` = the magnitude of `a` with the sign of `b` (`fcopysign`).
    pub fn fcopysign(&mut self, dst: FReg, a: FReg, b: FReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::FCopysign, f);
    }

    /// `dst` = the bits of `src` (`fbits`).
    pub fn fbits(&mut self, dst: IReg, src: FReg) {
        let f = [self.r(dst), self.r(src), 0];
        self.emit(Opcode::FBits, f);
    }

    /// `dst` = the f64 with the bits of `src` (`bitsf`).
    pub fn bitsf(&mut self, dst: FReg, src: IReg) {
        let f = [self.r(dst), self.r(src), 0];
        self.emit(Opcode::BitsF, f);
    }

    /// `dst = a op b`.
    pub fn float_op(&mut self, op: FloatBinOp, dst: FReg, a: FReg, b: FReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::float_rr(op), f);
    }

    /// `dst = op src`.
    pub fn float_unop(&mut self, op: FloatUnOp, dst: FReg, src: FReg) {
        let f = [self.r(dst), self.r(src), 0];
        self.emit(Opcode::float_un(op), f);
    }

    /// `dst = (a cmp b) as 0/1` (IEEE: ordered compares with NaN are false).
    pub fn fcmp(&mut self, cmp: Cmp, dst: IReg, a: FReg, b: FReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::fcmp_rr(cmp), f);
    }

    /// `if a cmp b goto target` on f64.
    pub fn fbranch(&mut self, cmp: Cmp, a: FReg, b: FReg, target: Label) {
        let f = [self.r(a), self.r(b), 0];
        self.emit_jump(Opcode::fbranch_rr(cmp), f, 2, target);
    }

    /// `dst = src as f64`.
    pub fn i2f(&mut self, dst: FReg, src: IReg) {
        let f = [self.r(dst), self.r(src), 0];
        self.emit(Opcode::I2F, f);
    }

    /// `dst = src as i64` (saturating, NaN gives 0).
    pub fn f2i(&mut self, dst: IReg, src: FReg) {
        let f = [self.r(dst), self.r(src), 0];
        self.emit(Opcode::F2I, f);
    }

    // ---- control ----

    /// `goto target`.
    pub fn jump(&mut self, target: Label) {
        self.emit_jump(Opcode::Jmp, [0, 0, 0], 0, target);
    }

    /// `if cond == 0 goto target`.
    pub fn jz(&mut self, cond: IReg, target: Label) {
        let f = [self.r(cond), 0, 0];
        self.emit_jump(Opcode::Jz, f, 1, target);
    }

    /// `if cond != 0 goto target`.
    pub fn jnz(&mut self, cond: IReg, target: Label) {
        let f = [self.r(cond), 0, 0];
        self.emit_jump(Opcode::Jnz, f, 1, target);
    }

    fn callee(&mut self, host: bool, module: u32, index: u32) -> Option<(String, Signature)> {
        let found = if module != self.module.id {
            None
        } else if host {
            let i = self.module.imports.get(index as usize);
            i.map(|i| (i.name.clone(), i.sig.clone()))
        } else {
            let f = self.module.functions.get(index as usize);
            f.map(|f| (f.name.clone(), f.sig.clone()))
        };
        if found.is_none() {
            let what = if host { "import" } else { "function" };
            self.invalid(format!("{what} reference from another module builder"));
        }
        found
    }

    /// The CallDst field for a call to `callee` with result `dst`.
    fn call_dst(&mut self, callee: &str, sig: &Signature, dst: Option<AnyReg>) -> u16 {
        match (sig.result, dst) {
            (None, None) => NO_REG,
            (None, Some(d)) => {
                self.invalid(format!(
                    "`{callee}` returns none but the call has result register {d}"
                ));
                NO_REG
            }
            // The result is not wanted: it goes into a fresh register.
            (Some(bank), None) => self.alloc(bank),
            (Some(bank), Some(d)) => {
                if d.bank() != bank {
                    self.invalid(format!(
                        "`{callee}` returns {bank} but the call has result register {d}"
                    ));
                }
                self.r(d)
            }
        }
    }

    fn emit_call(
        &mut self,
        host: bool,
        module: u32,
        index: u32,
        args: &[AnyReg],
        dst: Option<AnyReg>,
    ) {
        let Some((callee, sig)) = self.callee(host, module, index) else {
            return;
        };
        let banks: Vec<Bank> = args.iter().map(|a| a.bank()).collect();
        if banks != sig.params {
            let got: Vec<String> = banks.iter().map(Bank::to_string).collect();
            self.invalid(format!(
                "`{callee}` takes {sig} but the call passes ({})",
                got.join(", ")
            ));
            return;
        }
        let dst = self.call_dst(&callee, &sig, dst);
        let placed = self.place_args(args);
        if placed {
            self.windows.push(WindowFixup {
                pc: self.code.len(),
                field: 2,
                offset: 0,
            });
        }
        let opcode = if host { Opcode::HostCall } else { Opcode::Call };
        self.emit(opcode, [dst, index as u16, 0]);
    }

    /// Move `args` into the argument window, which `finish` places above
    /// every register of the function; whether there were any.
    fn place_args(&mut self, args: &[AnyReg]) -> bool {
        let mut offsets = [0u32; 3];
        for &arg in args {
            let bank = arg.bank();
            let src = self.r(arg);
            self.windows.push(WindowFixup {
                pc: self.code.len(),
                field: 0,
                offset: offsets[bank.index()],
            });
            self.emit(mov_opcode(bank), [0, src, 0]);
            offsets[bank.index()] += 1;
        }
        for bank in Bank::ALL {
            let need = &mut self.window_need[bank.index()];
            *need = (*need).max(offsets[bank.index()]);
        }
        !args.is_empty()
    }

    /// Whether `args` pass `sig`'s parameters; records the misuse if not.
    fn args_match(&mut self, what: &str, sig: &Signature, args: &[AnyReg]) -> bool {
        let banks: Vec<Bank> = args.iter().map(|a| a.bank()).collect();
        if banks != sig.params {
            let got: Vec<String> = banks.iter().map(Bank::to_string).collect();
            self.invalid(format!(
                "{what} takes {sig} but the call passes ({})",
                got.join(", ")
            ));
            return false;
        }
        true
    }

    /// The signature of type `ty`, if it belongs to this module builder.
    fn type_sig(&mut self, ty: TypeRef) -> Option<Signature> {
        let found = (ty.module == self.module.id)
            .then(|| self.module.types.get(ty.index as usize).cloned())
            .flatten();
        if found.is_none() {
            self.invalid("type reference from another module builder".to_owned());
        }
        found
    }

    /// Whether a tail call to something returning `result` may end this
    /// function; records the misuse if not.
    fn tail_result_matches(&mut self, callee: &str, result: Option<Bank>) -> bool {
        if result != self.sig.result {
            let name = |b: Option<Bank>| b.map_or("none".to_owned(), |b| b.to_string());
            self.invalid(format!(
                "tail call to {callee} returning {} in a function returning {}",
                name(result),
                name(self.sig.result)
            ));
            return false;
        }
        true
    }

    fn emit_call_window(
        &mut self,
        host: bool,
        module: u32,
        index: u32,
        window: u16,
        dst: Option<AnyReg>,
    ) {
        let Some((callee, sig)) = self.callee(host, module, index) else {
            return;
        };
        self.check_window(&format!("call to `{callee}`"), &sig, window);
        let dst = self.call_dst(&callee, &sig, dst);
        let opcode = if host { Opcode::HostCall } else { Opcode::Call };
        self.emit(opcode, [dst, index as u16, window]);
    }

    /// Call `f` with `args`, its result into `dst` (`None` when `f` returns
    /// nothing, or to discard the result).
    ///
    /// The arguments must match `f`'s parameters bank by bank. They are moved
    /// into an argument window that [`finish`](FunctionBuilder::finish)
    /// places above every register of the function, so a call never
    /// clobbers one of them.
    pub fn call(&mut self, f: FuncRef, args: &[AnyReg], dst: impl Into<Option<AnyReg>>) {
        self.emit_call(false, f.module, f.index, args, dst.into());
    }

    /// Call host import `h` with `args`, like [`call`](FunctionBuilder::call).
    pub fn host_call(&mut self, h: HostRef, args: &[AnyReg], dst: impl Into<Option<AnyReg>>) {
        self.emit_call(true, h.module, h.index, args, dst.into());
    }

    /// Call `f` with arguments already in place: `f`'s parameters of bank X
    /// are this function's registers `window, window+1, ...` of bank X, which
    /// must be allocated. The callee may overwrite registers at and above the
    /// window. This is the raw form of the `call` op; prefer
    /// [`call`](FunctionBuilder::call).
    pub fn call_window(&mut self, f: FuncRef, window: u16, dst: impl Into<Option<AnyReg>>) {
        self.emit_call_window(false, f.module, f.index, window, dst.into());
    }

    /// Call host import `h` with arguments already in place, like
    /// [`call_window`](FunctionBuilder::call_window).
    pub fn host_call_window(&mut self, h: HostRef, window: u16, dst: impl Into<Option<AnyReg>>) {
        self.emit_call_window(true, h.module, h.index, window, dst.into());
    }

    // ---- functions as values ----

    /// `dst =` the reference to function `f` (no environment; the same
    /// object every time). Its type is `f`'s signature: declare it with
    /// [`ModuleBuilder::declare_type`] to call it indirectly.
    pub fn func_ref(&mut self, dst: RReg, f: FuncRef) {
        if self.callee(false, f.module, f.index).is_none() {
            return;
        }
        let a = self.r(dst);
        self.emit(Opcode::FRef, [a, f.index as u16, 0]);
    }

    /// `dst =` a new closure of `f` over `env`. `f` takes the environment
    /// as its last `r` parameter; the closure's type is `f`'s signature
    /// without it.
    pub fn closure(&mut self, dst: RReg, f: FuncRef, env: RReg) {
        let Some((name, sig)) = self.callee(false, f.module, f.index) else {
            return;
        };
        if !sig.params.contains(&Bank::R) {
            self.invalid(format!(
                "`closure` of `{name}`, which has no `r` parameter for its environment"
            ));
            return;
        }
        let (a, c) = (self.r(dst), self.r(env));
        self.emit(Opcode::Closure, [a, f.index as u16, c]);
    }

    /// Call the function reference `callee`, which must have type `ty`,
    /// with `args`; the result into `dst` (`None` when `ty` returns nothing,
    /// or to discard it). A null reference traps with `NullReference`, a
    /// reference of another type with `SignatureMismatch`.
    pub fn call_indirect(
        &mut self,
        ty: TypeRef,
        callee: RReg,
        args: &[AnyReg],
        dst: impl Into<Option<AnyReg>>,
    ) {
        let Some(sig) = self.type_sig(ty) else {
            return;
        };
        if !self.args_match("the indirect call's type", &sig, args) {
            return;
        }
        let dst = dst.into();
        if let Err(m) = check_result(&sig, dst) {
            self.invalid(format!("indirect call: {m}"));
            return;
        }
        let c = self.r(callee);
        self.place_args(args);
        // The result arrives in the window's first register of its bank.
        if let Some(bank) = sig.result {
            let need = &mut self.window_need[bank.index()];
            *need = (*need).max(1);
        }
        self.windows.push(WindowFixup {
            pc: self.code.len(),
            field: 2,
            offset: 0,
        });
        self.emit(Opcode::CallI, [ty.index as u16, c, 0]);
        if let (Some(d), Some(bank)) = (dst, sig.result) {
            let d = self.r(d);
            self.windows.push(WindowFixup {
                pc: self.code.len(),
                field: 1,
                offset: 0,
            });
            self.emit(mov_opcode(bank), [d, 0, 0]);
        }
    }

    /// Call the reference `callee` of type `ty` with arguments already in
    /// place from `window` (the raw `calli`); the result, if any, arrives in
    /// register `window` of the result bank.
    pub fn call_indirect_window(&mut self, ty: TypeRef, callee: RReg, window: u16) {
        let Some(sig) = self.type_sig(ty) else {
            return;
        };
        self.check_window("indirect call", &sig, window);
        if let Some(bank) = sig.result
            && u32::from(window) >= self.regs[bank.index()]
        {
            self.invalid(format!(
                "indirect call puts its result in {bank}{window}, which is not allocated"
            ));
        }
        let c = self.r(callee);
        self.emit(Opcode::CallI, [ty.index as u16, c, window]);
    }

    /// Tail call of `f` with `args`: `f` replaces this activation and its
    /// result is this function's result (so it must return what this
    /// function returns). Ends the function like a return.
    pub fn tail_call(&mut self, f: FuncRef, args: &[AnyReg]) {
        let Some((name, sig)) = self.callee(false, f.module, f.index) else {
            return;
        };
        if !self.args_match(&format!("`{name}`"), &sig, args)
            || !self.tail_result_matches(&format!("`{name}`"), sig.result)
        {
            return;
        }
        if self.place_args(args) {
            self.windows.push(WindowFixup {
                pc: self.code.len(),
                field: 1,
                offset: 0,
            });
        }
        self.emit(Opcode::TCall, [f.index as u16, 0, 0]);
    }

    /// Tail call of `f` with arguments already in place from `window`.
    pub fn tail_call_window(&mut self, f: FuncRef, window: u16) {
        let Some((name, sig)) = self.callee(false, f.module, f.index) else {
            return;
        };
        self.check_window(&format!("tail call to `{name}`"), &sig, window);
        if self.tail_result_matches(&format!("`{name}`"), sig.result) {
            self.emit(Opcode::TCall, [f.index as u16, window, 0]);
        }
    }

    /// Tail call through the reference `callee` of type `ty` with `args`:
    /// [`call_indirect`](FunctionBuilder::call_indirect)'s checks,
    /// [`tail_call`](FunctionBuilder::tail_call)'s frame reuse.
    pub fn tail_call_indirect(&mut self, ty: TypeRef, callee: RReg, args: &[AnyReg]) {
        let Some(sig) = self.type_sig(ty) else {
            return;
        };
        if !self.args_match("the indirect call's type", &sig, args)
            || !self.tail_result_matches("a reference", sig.result)
        {
            return;
        }
        let c = self.r(callee);
        if self.place_args(args) {
            self.windows.push(WindowFixup {
                pc: self.code.len(),
                field: 2,
                offset: 0,
            });
        }
        self.emit(Opcode::TCallI, [ty.index as u16, c, 0]);
    }

    /// Tail call through `callee` of type `ty` with arguments already in
    /// place from `window`.
    pub fn tail_call_indirect_window(&mut self, ty: TypeRef, callee: RReg, window: u16) {
        let Some(sig) = self.type_sig(ty) else {
            return;
        };
        self.check_window("indirect tail call", &sig, window);
        if self.tail_result_matches("a reference", sig.result) {
            let c = self.r(callee);
            self.emit(Opcode::TCallI, [ty.index as u16, c, window]);
        }
    }

    /// Records a misuse when `sig`'s parameters from `window` are not all
    /// allocated.
    fn check_window(&mut self, what: &str, sig: &Signature, window: u16) {
        for bank in Bank::ALL {
            let n = sig.params.iter().filter(|&&b| b == bank).count() as u64;
            let have = u64::from(self.regs[bank.index()]);
            if n > 0 && u64::from(window) + n > have {
                self.invalid(format!(
                    "{what} needs {bank} registers {window}..{} but only {have} are allocated",
                    u64::from(window) + n
                ));
            }
        }
    }

    fn emit_ret(&mut self, bank: Option<Bank>, opcode: Opcode, a: u16) {
        if bank != self.sig.result {
            let result = match self.sig.result {
                Some(b) => b.to_string(),
                None => "none".to_owned(),
            };
            self.invalid(format!("`{opcode}` in a function returning {result}"));
        }
        self.emit(opcode, [a, 0, 0]);
    }

    /// Return nothing (the function must return none).
    pub fn ret(&mut self) {
        self.emit_ret(None, Opcode::Ret, 0);
    }

    /// Return `v` (the function must return `i`).
    pub fn ret_i(&mut self, v: IReg) {
        let a = self.r(v);
        self.emit_ret(Some(Bank::I), Opcode::RetI, a);
    }

    /// Return `v` (the function must return `f`).
    pub fn ret_f(&mut self, v: FReg) {
        let a = self.r(v);
        self.emit_ret(Some(Bank::F), Opcode::RetF, a);
    }

    /// Return `v` (the function must return `r`).
    pub fn ret_r(&mut self, v: RReg) {
        let a = self.r(v);
        self.emit_ret(Some(Bank::R), Opcode::RetR, a);
    }

    // ---- user traps ----

    /// Trap with the user code in `code` (a language's `panic`): the call
    /// into the engine ends with a [`TrapKind::User`](crate::TrapKind::User)
    /// trap carrying the code.
    pub fn trap(&mut self, code: IReg) {
        let a = self.r(code);
        self.emit(Opcode::Trap, [a, 0, 0]);
    }

    /// Trap with the constant user code `code`.
    pub fn trap_imm(&mut self, code: i16) {
        self.emit(Opcode::TrapI, [code as u16, 0, 0]);
    }

    // ---- arrays ----

    /// `dst = new array of elem kind` with `len` elements (0, 0.0 or null).
    pub fn new_array(&mut self, elem: Bank, dst: RReg, len: IReg) {
        let opcode = match elem {
            Bank::I => Opcode::NewI,
            Bank::F => Opcode::NewF,
            Bank::R => Opcode::NewR,
        };
        let f = [self.r(dst), self.r(len), 0];
        self.emit(opcode, f);
    }

    /// `dst = length of array`.
    pub fn len(&mut self, dst: IReg, array: RReg) {
        let f = [self.r(dst), self.r(array), 0];
        self.emit(Opcode::Len, f);
    }

    /// `dst = array[index]` of an i64 array.
    pub fn get_i(&mut self, dst: IReg, array: RReg, index: IReg) {
        let f = [self.r(dst), self.r(array), self.r(index)];
        self.emit(Opcode::GetI, f);
    }

    /// `dst = array[index]` of an f64 array.
    pub fn get_f(&mut self, dst: FReg, array: RReg, index: IReg) {
        let f = [self.r(dst), self.r(array), self.r(index)];
        self.emit(Opcode::GetF, f);
    }

    /// `dst = array[index]` of a ref array.
    pub fn get_r(&mut self, dst: RReg, array: RReg, index: IReg) {
        let f = [self.r(dst), self.r(array), self.r(index)];
        self.emit(Opcode::GetR, f);
    }

    /// `array[index] = v` of an i64 array.
    pub fn set_i(&mut self, array: RReg, index: IReg, v: IReg) {
        let f = [self.r(array), self.r(index), self.r(v)];
        self.emit(Opcode::SetI, f);
    }

    /// `array[index] = v` of an f64 array.
    pub fn set_f(&mut self, array: RReg, index: IReg, v: FReg) {
        let f = [self.r(array), self.r(index), self.r(v)];
        self.emit(Opcode::SetF, f);
    }

    /// `array[index] = v` of a ref array.
    pub fn set_r(&mut self, array: RReg, index: IReg, v: RReg) {
        let f = [self.r(array), self.r(index), self.r(v)];
        self.emit(Opcode::SetR, f);
    }

    // ---- byte arrays, strings, bulk operations ----

    /// The registers `first, first+1, .., first+n-1` of a run, checked to
    /// be allocated: the first's index.
    fn run(&mut self, first: IReg, n: u16) -> u16 {
        for k in 1..n {
            self.r(IReg(first.0.saturating_add(k)));
        }
        self.r(first)
    }

    /// `dst = new byte array` of `len` bytes, zero-filled.
    pub fn new_bytes(&mut self, dst: RReg, len: IReg) {
        let f = [self.r(dst), self.r(len), 0];
        self.emit(Opcode::NewB, f);
    }

    /// `dst = array[index]` of a byte array or string, zero-extended.
    pub fn get_b(&mut self, dst: IReg, array: RReg, index: IReg) {
        let f = [self.r(dst), self.r(array), self.r(index)];
        self.emit(Opcode::GetB, f);
    }

    /// `array[index] = v & 0xff` of a byte array.
    pub fn set_b(&mut self, array: RReg, index: IReg, v: IReg) {
        let f = [self.r(array), self.r(index), self.r(v)];
        self.emit(Opcode::SetB, f);
    }

    /// `dst =` the immutable byte string of `s` (its UTF-8 bytes): the
    /// same object every time in one instance.
    pub fn sconst(&mut self, dst: RReg, s: &str) {
        let a = self.r(dst);
        let k = self.module.intern_string(s);
        let k = self.pooled(k, "strings");
        self.emit(Opcode::SConst, [a, k, 0]);
    }

    /// Print the bytes of byte array or string `v` as they are.
    pub fn printb(&mut self, v: RReg) {
        let a = self.r(v);
        self.emit(Opcode::PrintB, [a, 0, 0]);
    }

    /// Copy `range+2` elements of `src` from index `range+1` to `dst` from
    /// index `range` (`memmove`): `range` is the first of three `i`
    /// registers (see [`FunctionBuilder::new_i_run`]).
    pub fn copy(&mut self, dst: RReg, src: RReg, range: IReg) {
        let f = [self.r(dst), self.r(src), self.run(range, 3)];
        self.emit(Opcode::Copy, f);
    }

    /// Store `v` into the `range+1` elements of `array` (an i64 array, or a
    /// byte array: the low 8 bits) from index `range`.
    pub fn fill_i(&mut self, array: RReg, range: IReg, v: IReg) {
        let f = [self.r(array), self.run(range, 2), self.r(v)];
        self.emit(Opcode::FillI, f);
    }

    /// Store `v` into the `range+1` elements of f64 array `array` from
    /// index `range`.
    pub fn fill_f(&mut self, array: RReg, range: IReg, v: FReg) {
        let f = [self.r(array), self.run(range, 2), self.r(v)];
        self.emit(Opcode::FillF, f);
    }

    /// Store `v` into the `range+1` elements of reference array `array`
    /// from index `range`.
    pub fn fill_r(&mut self, array: RReg, range: IReg, v: RReg) {
        let f = [self.r(array), self.run(range, 2), self.r(v)];
        self.emit(Opcode::FillR, f);
    }

    // ---- structs and reference tests ----

    /// `dst =` a new struct of type `s`, every field 0, 0.0 or null.
    pub fn new_struct(&mut self, dst: RReg, s: StructRef) {
        if let Some(index) = self.own_struct(s) {
            let a = self.r(dst);
            self.emit(Opcode::SNew, [a, index, 0]);
        }
    }

    /// `dst = obj.field` (the field's bank is `dst`'s).
    pub fn field_get(&mut self, dst: impl Into<AnyReg>, obj: RReg, field: FieldRef) {
        let dst = dst.into();
        if let Some(index) = self.own_field(field, dst.bank()) {
            let opcode = [Opcode::SGetI, Opcode::SGetF, Opcode::SGetR][field.bank.index()];
            let f = [self.r(dst), self.r(obj), index];
            self.emit(opcode, f);
        }
    }

    /// `obj.field = src` (the field's bank is `src`'s).
    pub fn field_set(&mut self, obj: RReg, field: FieldRef, src: impl Into<AnyReg>) {
        let src = src.into();
        if let Some(index) = self.own_field(field, src.bank()) {
            let opcode = [Opcode::SSetI, Opcode::SSetF, Opcode::SSetR][field.bank.index()];
            let f = [self.r(obj), index, self.r(src)];
            self.emit(opcode, f);
        }
    }

    /// `dst = 1` if `obj` is a struct of type `s` or a descendant, else 0.
    pub fn isa(&mut self, dst: IReg, obj: RReg, s: StructRef) {
        if let Some(index) = self.own_struct(s) {
            let f = [self.r(dst), self.r(obj), index];
            self.emit(Opcode::Isa, f);
        }
    }

    /// `dst = (obj == null) as i64`.
    pub fn is_null(&mut self, dst: IReg, obj: RReg) {
        let f = [self.r(dst), self.r(obj), 0];
        self.emit(Opcode::IsNull, f);
    }

    /// `dst = (a == b) as i64`: the same object, or both null.
    pub fn ref_eq(&mut self, dst: IReg, a: RReg, b: RReg) {
        let f = [self.r(dst), self.r(a), self.r(b)];
        self.emit(Opcode::REq, f);
    }

    /// `if obj == null goto target`.
    pub fn jnull(&mut self, obj: RReg, target: Label) {
        let f = [self.r(obj), 0, 0];
        self.emit_jump(Opcode::JNull, f, 1, target);
    }

    /// `if obj != null goto target`.
    pub fn jnnull(&mut self, obj: RReg, target: Label) {
        let f = [self.r(obj), 0, 0];
        self.emit_jump(Opcode::JNNull, f, 1, target);
    }

    /// `s`'s index if it is a struct of this module builder.
    fn own_struct(&mut self, s: StructRef) -> Option<u16> {
        if s.module != self.module.id {
            self.invalid("struct reference from another module builder".to_owned());
            return None;
        }
        u16::try_from(s.index).ok()
    }

    /// `f`'s index if it is a field of this module builder of `bank`.
    fn own_field(&mut self, f: FieldRef, bank: Bank) -> Option<u16> {
        if f.module != self.module.id {
            self.invalid("field reference from another module builder".to_owned());
            return None;
        }
        if f.bank != bank {
            self.invalid(format!(
                "field {} of bank {} used with a register of bank {bank}",
                f.index, f.bank
            ));
            return None;
        }
        u16::try_from(f.index).ok()
    }

    // ---- output ----

    /// Print `s`.
    pub fn prints(&mut self, s: &str) {
        let k = self.module.intern_string(s);
        let k = self.pooled(k, "strings");
        self.emit(Opcode::PrintS, [k, 0, 0]);
    }

    /// Print `v` in decimal.
    pub fn printi(&mut self, v: IReg) {
        let a = self.r(v);
        self.emit(Opcode::PrintI, [a, 0, 0]);
    }

    /// Print `v` with `digits` digits after the point (C's `%.<digits>f`);
    /// `digits` is at most [`MAX_PRINTF_DIGITS`].
    pub fn printf(&mut self, v: FReg, digits: u16) {
        if digits > MAX_PRINTF_DIGITS {
            self.invalid(format!(
                "printf with {digits} digits (at most {MAX_PRINTF_DIGITS})"
            ));
        }
        let a = self.r(v);
        self.emit(Opcode::PrintF, [a, digits, 0]);
    }

    // ---- finishing ----

    /// Resolve labels and argument windows and define the function in the
    /// module. Errors on any misuse recorded while building, a label jumped
    /// to but not bound, no ops or too many, too many registers, a last op
    /// that can fall through, and a function defined twice.
    pub fn finish(mut self) -> Result<(), BuildError> {
        let function = self.name.clone();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let Some(slot) = self.slot else {
            return Err(BuildError::Invalid {
                function,
                message: "function reference from another module builder".to_owned(),
            });
        };
        if self
            .module
            .functions
            .get(slot)
            .is_none_or(|s| s.def.is_some())
        {
            return Err(BuildError::DefinedTwice(function));
        }
        let len = self.code.len();
        let Some(last) = self.code.last() else {
            return Err(BuildError::EmptyFunction { function });
        };
        if len > MAX_OPS {
            return Err(BuildError::TooManyOps {
                function,
                count: len,
            });
        }
        if last.opcode.flow().falls_through() {
            return Err(BuildError::FallsOffEnd {
                function,
                op: last.opcode,
            });
        }

        for &(pc, field, label) in &self.fixups {
            let target = match self.labels.get(label as usize).copied().flatten() {
                Some(t) => t,
                None => return Err(BuildError::UnboundLabel { function, label }),
            };
            if target as usize >= len {
                return Err(BuildError::LabelAtEnd { function, label });
            }
            if let Some(op) = self.code.get_mut(pc) {
                op.set_field(field, target as u16);
            }
        }
        for &(table, entry, label) in &self.table_fixups {
            let target = match self.labels.get(label as usize).copied().flatten() {
                Some(t) => t,
                None => return Err(BuildError::UnboundLabel { function, label }),
            };
            if target as usize >= len {
                return Err(BuildError::LabelAtEnd { function, label });
            }
            if let Some(t) = self.switch_tables.get_mut(table) {
                match entry {
                    Some(k) => t.targets[k] = target as u16,
                    None => t.default = target as u16,
                }
            }
        }

        // Argument windows: one window above every register of every bank,
        // shared by all calls (each call fills it right before it calls).
        if !self.windows.is_empty() {
            let window = self.regs.iter().copied().max().unwrap_or(0);
            for bank in Bank::ALL {
                let need = self.window_need[bank.index()];
                if need == 0 {
                    continue;
                }
                let end = window + need;
                if end > MAX_REGS {
                    return Err(BuildError::TooManyRegisters { function, bank });
                }
                let regs = &mut self.regs[bank.index()];
                *regs = (*regs).max(end);
            }
            for w in &self.windows {
                if let Some(op) = self.code.get_mut(w.pc) {
                    op.set_field(w.field, (window + w.offset) as u16);
                }
            }
        }

        let regs = self.regs.map(|n| n.min(MAX_REGS) as u16);
        let def = Function {
            name: function,
            sig: self.sig,
            param_defaults: self.defaults,
            regs,
            code: self.code,
            lines: Vec::new(),
            columns: Vec::new(),
            switch_tables: self.switch_tables,
        };
        if let Some(s) = self.module.functions.get_mut(slot) {
            s.def = Some(def);
        }
        Ok(())
    }
}

/// Whether `dst` can take the result of a call of signature `sig`.
fn check_result(sig: &Signature, dst: Option<AnyReg>) -> Result<(), String> {
    match (sig.result, dst) {
        (None, Some(d)) => Err(format!("returns none but has result register {d}")),
        (Some(bank), Some(d)) if d.bank() != bank => {
            Err(format!("returns {bank} but has result register {d}"))
        }
        _ => Ok(()),
    }
}

fn mov_opcode(bank: Bank) -> Opcode {
    match bank {
        Bank::I => Opcode::Mov,
        Bank::F => Opcode::FMov,
        Bank::R => Opcode::RMov,
    }
}
