//! The type checker: resolves every name, gives every expression its type,
//! and rejects ill-typed programs with an error at the offending line and
//! column.
//!
//! Its findings go into [`Checked`], keyed by [`NodeId`]: the code
//! generator reads the type of each expression and what each name and call
//! refers to, and never looks names up itself. Classes and closures will add
//! variants to [`Type`] (a class type, a function type) and to [`Resolved`].

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::LangError;
use super::ast::*;
use super::generics::{
    DisplayNames, Instantiator, Substitution, infer, instance_name, type_expr_of,
};
use crate::bytecode::Bank;

/// The longest name of a generic instance (`Vec$arr_int` and so on).
pub const MAX_INSTANCE_NAME: usize = 200;

/// A type of the language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    /// `int`: an i64.
    Int,
    /// `float`: an f64.
    Float,
    /// `bool`: an i64 that is 0 or 1.
    Bool,
    /// `string`: an immutable byte string.
    Str,
    /// `bytes`: a mutable byte array.
    Bytes,
    /// `[T]`: a fixed-length array.
    Array(Box<Type>),
    /// An object of a class (its index among the classes, and its name):
    /// it may hold an object of any descendant.
    Class(usize, String),
    /// A function value: its parameter types and result type.
    Func(Vec<Type>, Box<Type>),
    /// The type of `null`: assignable to every reference type.
    Null,
    /// What a call of a function without a result has.
    Void,
}

impl Type {
    /// The register bank holding a value of this type (`None` for void).
    pub fn bank(&self) -> Option<Bank> {
        match self {
            Type::Int | Type::Bool => Some(Bank::I),
            Type::Float => Some(Bank::F),
            Type::Str
            | Type::Bytes
            | Type::Array(_)
            | Type::Class(..)
            | Type::Func(..)
            | Type::Null => Some(Bank::R),
            Type::Void => None,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Int => write!(f, "int"),
            Type::Float => write!(f, "float"),
            Type::Bool => write!(f, "bool"),
            Type::Str => write!(f, "string"),
            Type::Bytes => write!(f, "bytes"),
            Type::Array(t) => write!(f, "[{t}]"),
            Type::Class(_, name) => write!(f, "{name}"),
            Type::Func(params, result) => {
                let params: Vec<String> = params.iter().map(Type::to_string).collect();
                write!(f, "fun({})", params.join(", "))?;
                match **result {
                    Type::Void => Ok(()),
                    ref r => write!(f, " -> {r}"),
                }
            }
            Type::Null => write!(f, "null"),
            Type::Void => write!(f, "nothing"),
        }
    }
}

/// The functions the language provides without a declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `len(a)`: an array's length or a string's length in bytes.
    Len,
    /// `sqrt(x)`.
    Sqrt,
    /// `abs(x)` of a float.
    Abs,
    /// `floor(x)`.
    Floor,
    /// `slice(s, from, to)`: bytes `from..to-1` of a string as a new one.
    Slice,
    /// `chr(c)`: a one-byte string.
    Chr,
    /// `copy(dst, at, src, from, n)`: bytes of a string or byte array into
    /// a byte array, or elements between arrays of one type (the `copy`
    /// op).
    Copy,
    /// `to_string(b, n)`: the first `n` bytes of a byte array as a string.
    ToString,
    /// `trap(code)`: stop with user trap `code` (the `trap` op).
    Trap,
    /// `hash(k)` of an int or a string (the latter through the library's
    /// `hash_string`, recorded in [`Checked::helpers`]).
    Hash,
}

const BUILTINS: &[(&str, Builtin)] = &[
    ("len", Builtin::Len),
    ("sqrt", Builtin::Sqrt),
    ("abs", Builtin::Abs),
    ("floor", Builtin::Floor),
    ("slice", Builtin::Slice),
    ("chr", Builtin::Chr),
    ("copy", Builtin::Copy),
    ("to_string", Builtin::ToString),
    ("trap", Builtin::Trap),
    ("hash", Builtin::Hash),
];

/// What a name or a call refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A local variable or parameter: the [`NodeId`] of its declaration.
    Local(NodeId),
    /// A global: its index among the program's globals.
    Global(usize),
    /// A function: its index among the program's functions.
    Func(usize),
    /// A builtin function.
    Builtin(Builtin),
    /// A host function: its index among the program's imports.
    Import(usize),
    /// A closure expression: its index in [`Checked::lambdas`].
    Lambda(usize),
    /// A call of the function value in a local variable (its declaration).
    CallLocal(NodeId),
    /// A call of the function value in a global.
    CallGlobal(usize),
    /// `obj.f(args)` where `f` is a field of a function type (and not a
    /// method): a call of the value in the field.
    CallField,
    /// The class `C` of `x is C`, or of `x as C` down the hierarchy (which
    /// checks at run time).
    Class(usize),
    /// A virtual method: the static class of the object and the slot.
    Method {
        /// The class the object is known to be.
        class: usize,
        /// The method's slot in that class's vtable.
        slot: usize,
    },
}

/// A function's signature in language types.
#[derive(Clone, Debug)]
pub struct FuncSig {
    /// Its name.
    pub name: String,
    /// Its parameter types.
    pub params: Vec<Type>,
    /// Its result type ([`Type::Void`] when none).
    pub result: Type,
}

/// A global's facts.
#[derive(Clone, Debug)]
pub struct GlobalInfo {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Whether it is a `var`.
    pub mutable: bool,
    /// Its initial value, when written (an int, float or bool literal).
    pub init: Option<ExprKind>,
}

/// A class's facts.
#[derive(Clone, Debug)]
pub struct ClassInfo {
    /// Its name.
    pub name: String,
    /// Its parent's index, which is lower than its own.
    pub parent: Option<usize>,
    /// Its own fields (after its ancestors'), with their types.
    pub fields: Vec<(String, Type)>,
    /// Its virtual methods, slot by slot: the name and the function that
    /// implements it for this class (inherited or overridden).
    pub vtable: Vec<(String, usize)>,
    /// Its constructor: its own `init` method or else its nearest
    /// ancestor's (a function, called directly; never in the vtable).
    pub init: Option<usize>,
}

/// What the checker found out, for the code generator.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// The type of each expression and of each variable declaration.
    pub types: HashMap<NodeId, Type>,
    /// What each name (`ExprKind::Name`) and call refers to.
    pub resolved: HashMap<NodeId, Resolved>,
    /// The functions, in source order.
    pub funcs: Vec<FuncSig>,
    /// The globals, in source order.
    pub globals: Vec<GlobalInfo>,
    /// The classes, in source order.
    pub classes: Vec<ClassInfo>,
    /// The host functions (`import fn`), in source order.
    pub imports: Vec<FuncSig>,
    /// The closures, in the order the checker met them.
    pub lambdas: Vec<LambdaInfo>,
    /// The `var`s some closure captures: each lives in a box (a one-field
    /// struct) shared by its function and the closures, which capture the
    /// box.
    pub boxed: std::collections::HashSet<NodeId>,
    /// The named functions and methods to compile (the program's own, and
    /// the library functions and generic instances it uses), with their
    /// declarations as checked (an instance's is the substituted copy).
    pub bodies: Vec<FuncBody>,
    /// Operations compiled as a call of a library function (`s == t` of
    /// strings calls `str_eq`, `hash(s)` calls `hash_string`): the
    /// expression and the function's index.
    pub helpers: HashMap<NodeId, usize>,
}

/// A named function or method to compile.
#[derive(Clone, Debug)]
pub struct FuncBody {
    /// Its index in [`Checked::funcs`].
    pub func: usize,
    /// The class whose method it is.
    pub class: Option<usize>,
    /// Its declaration.
    pub decl: FuncDecl,
    /// The file its code is in (a library file for library code).
    pub file: String,
}

/// The standard library, parsed: its items and the file each came from.
#[derive(Clone, Debug, Default)]
pub struct Library {
    /// The items, with their files' names.
    pub items: Vec<(Item, &'static str)>,
}

/// A body to check: a function declared after the program's own (a
/// library function or an instance), and how to describe it in errors.
struct Pending {
    body: FuncBody,
    /// For an instance, what errors in it add: "in the instance
    /// `Vec<bool>` made at f.lark:3:9".
    note: Option<String>,
}

/// A closure expression, lifted to a function of its own.
#[derive(Clone, Debug)]
pub struct LambdaInfo {
    /// Its code: a function in [`Checked::funcs`] that takes the closure's
    /// environment as a last, extra `r` parameter.
    pub func: usize,
    /// Its declaration (parameters and body).
    pub decl: FuncDecl,
    /// The variables it captures, with their types: the environment's
    /// fields, in order (a `let` by value, a `var` by its box, see
    /// [`Checked::boxed`]).
    pub captures: Vec<(NodeId, Type)>,
}

/// A closure being checked: where its scopes start and what it captures.
struct Frame {
    first_scope: usize,
    captures: Vec<(NodeId, Type)>,
}

impl Checked {
    /// Class hierarchy analysis: the function a call of vtable slot `slot`
    /// on an object of static class `class` always reaches, when neither
    /// the class nor any descendant overrides it (the call can then be
    /// direct); `None` when the slot is overridden below `class`.
    pub fn direct_target(&self, class: usize, slot: usize) -> Option<usize> {
        let func = self.classes.get(class)?.vtable.get(slot)?.1;
        let descends = |mut k: usize| loop {
            if k == class {
                return true;
            }
            match self.classes[k].parent {
                Some(p) => k = p,
                None => return false,
            }
        };
        let overridden = (0..self.classes.len())
            .any(|k| descends(k) && self.classes[k].vtable.get(slot).map(|e| e.1) != Some(func));
        (!overridden).then_some(func)
    }

    /// The type of expression or declaration `id` (void if unknown, which
    /// cannot happen for a checked program).
    pub fn type_of(&self, id: NodeId) -> &Type {
        self.types.get(&id).unwrap_or(&Type::Void)
    }
}

struct Local {
    id: NodeId,
    ty: Type,
    mutable: bool,
}

struct Checker<'s> {
    /// The file of the code being checked.
    file: String,
    /// The file of the program (where instances are made).
    main_file: &'s str,
    /// The program's generic classes and functions by name, with their
    /// files.
    generic_classes: HashMap<String, (&'s ClassDecl, &'s str)>,
    generic_funcs: HashMap<String, (&'s FuncDecl, &'s str)>,
    /// The library's (see [`Checker::generic_class`] for which one a name
    /// means).
    std_generic_classes: HashMap<String, (&'s ClassDecl, &'s str)>,
    std_generic_funcs: HashMap<String, (&'s FuncDecl, &'s str)>,
    /// The library's other classes and functions, declared on first use.
    std_classes: HashMap<String, (&'s ClassDecl, &'s str)>,
    std_funcs: HashMap<String, (&'s FuncDecl, &'s str)>,
    /// The library functions declared so far, by their names in the
    /// library.
    std_declared: HashMap<String, usize>,
    /// The library classes declared so far, by their names in the library.
    std_declared_classes: HashMap<String, usize>,
    /// The names the program declares itself: a library item of the same
    /// name is `std.NAME` in the module, and the program's class is also
    /// `main.NAME` (the name instances of library generics refer to it by).
    program_names: HashSet<String>,
    /// The generic class and type arguments of each class instance.
    instance_of: HashMap<usize, (String, Vec<Type>)>,
    /// The function instances made, by mangled name.
    func_instances: HashMap<String, usize>,
    /// What errors call each instance.
    display_names: DisplayNames,
    /// Bodies still to check.
    pending: Vec<Pending>,
    /// The last [`NodeId`] given out (instances take the next ones).
    next_id: NodeId,
    out: Checked,
    /// Top-level names: functions and globals share one namespace.
    top: HashMap<String, Resolved>,
    /// Class names.
    classes: HashMap<String, usize>,
    scopes: Vec<HashMap<String, Local>>,
    /// The closures being checked, innermost last.
    frames: Vec<Frame>,
    result: Type,
    loops: u32,
}

type CResult<T> = Result<T, LangError>;

/// A generic class or function as a name in some code means it.
struct Generic<'s, D> {
    decl: &'s D,
    /// The file it is declared in.
    file: &'s str,
    /// Its name in the module, which its instances' names start with.
    module_name: String,
}

/// What a library item's name starts with in the module when the program
/// declares that name too.
pub const STD_PREFIX: &str = "std.";

/// How the library's code names a program class that has a library
/// class's name (a type argument of a library generic).
const PROGRAM_PREFIX: &str = "main.";

/// The method `new C(args)` calls on the new object.
pub const INIT_METHOD: &str = "init";

/// Whether `==` on values of type `t` compares identity (`req`): every
/// reference type but strings, whose `==` compares contents.
pub fn is_identity_type(t: &Type) -> bool {
    matches!(
        t,
        Type::Class(..) | Type::Array(_) | Type::Bytes | Type::Func(..) | Type::Null
    )
}

/// Whether a block surely ends in a `return` (or a loop that never ends).
fn block_returns(b: &Block) -> bool {
    b.stmts.iter().any(stmt_returns)
}

fn stmt_returns(s: &Stmt) -> bool {
    match &s.kind {
        StmtKind::Return(_) => true,
        StmtKind::Expr(Expr {
            kind: ExprKind::Call(name, _),
            ..
        }) => name == "trap",
        StmtKind::If {
            arms,
            otherwise: Some(otherwise),
        } => arms.iter().all(|(_, b)| block_returns(b)) && block_returns(otherwise),
        StmtKind::Block(b) => block_returns(b),
        StmtKind::Match {
            arms,
            default: Some(default),
            ..
        } => arms.iter().all(|a| block_returns(&a.body)) && block_returns(default),
        StmtKind::While { cond, body } => {
            matches!(cond.kind, ExprKind::Bool(true)) && !breaks(body)
        }
        _ => false,
    }
}

/// Whether a `break` in `b` leaves the loop whose body `b` is.
fn breaks(b: &Block) -> bool {
    b.stmts.iter().any(|s| match &s.kind {
        StmtKind::Break => true,
        StmtKind::If { arms, otherwise } => {
            arms.iter().any(|(_, b)| breaks(b)) || otherwise.as_ref().is_some_and(breaks)
        }
        StmtKind::Block(b) => breaks(b),
        StmtKind::Match { arms, default, .. } => {
            arms.iter().any(|a| breaks(&a.body)) || default.as_ref().is_some_and(breaks)
        }
        _ => false,
    })
}

impl<'s> Checker<'s> {
    /// The generic class `name` means in the code being checked (see
    /// [`Checker::pick_generic`]).
    fn generic_class(&self, name: &str) -> Option<Generic<'s, ClassDecl>> {
        self.pick_generic(&self.generic_classes, &self.std_generic_classes, name)
    }

    /// The generic function `name` means in the code being checked.
    fn generic_func(&self, name: &str) -> Option<Generic<'s, FuncDecl>> {
        self.pick_generic(&self.generic_funcs, &self.std_generic_funcs, name)
    }

    /// Of the program's generic `name` in `own` and the library's in
    /// `std`: in the library's code the library's, in the program's its
    /// own; else whichever exists. A library generic the program also
    /// declares is `std.NAME` in the module, so their instances differ.
    fn pick_generic<D>(
        &self,
        own: &HashMap<String, (&'s D, &'s str)>,
        std: &HashMap<String, (&'s D, &'s str)>,
        name: &str,
    ) -> Option<Generic<'s, D>> {
        let own = own.get(name).map(|&(decl, file)| Generic {
            decl,
            file,
            module_name: name.to_owned(),
        });
        let std = || {
            std.get(name).map(|&(decl, file)| Generic {
                decl,
                file,
                module_name: self.library_name(name),
            })
        };
        if self.in_library() {
            std().or(own)
        } else {
            own.or_else(std)
        }
    }

    /// Whether the code being checked is the library's (its functions and
    /// the instances of its generics): its names mean the library's items,
    /// whatever the program declares.
    fn in_library(&self) -> bool {
        self.file != self.main_file
    }

    /// The name library item `name` has in the module: its own, or
    /// `std.NAME` when the program declares that name too.
    fn library_name(&self, name: &str) -> String {
        if self.program_names.contains(name) {
            format!("{STD_PREFIX}{name}")
        } else {
            name.to_owned()
        }
    }

    /// `t` with each program class that has a library class's name
    /// written `main.NAME`, so that it means the program's class in the
    /// library's code too (a type argument of a library generic).
    fn program_class_refs(&self, t: TypeExpr) -> TypeExpr {
        match t {
            TypeExpr::Named(n, pos)
                if self.std_classes.contains_key(&n) && self.program_names.contains(&n) =>
            {
                TypeExpr::Named(format!("{PROGRAM_PREFIX}{n}"), pos)
            }
            TypeExpr::Array(e) => TypeExpr::Array(Box::new(self.program_class_refs(*e))),
            TypeExpr::Func(params, result) => TypeExpr::Func(
                params
                    .into_iter()
                    .map(|p| self.program_class_refs(p))
                    .collect(),
                result.map(|r| Box::new(self.program_class_refs(*r))),
            ),
            other => other,
        }
    }

    fn error<T>(&self, pos: Pos, message: String) -> CResult<T> {
        Err(LangError::new(&self.file, pos, message))
    }

    fn resolve_type(&mut self, t: &TypeExpr) -> CResult<Type> {
        Ok(match t {
            TypeExpr::Int => Type::Int,
            TypeExpr::Float => Type::Float,
            TypeExpr::Bool => Type::Bool,
            TypeExpr::Str => Type::Str,
            TypeExpr::Bytes => Type::Bytes,
            TypeExpr::Generic(name, args, pos) => {
                let mut types = Vec::new();
                for a in args {
                    types.push(self.resolve_type(a)?);
                }
                let c = self.class_instance(name, types, *pos)?;
                self.class_type(c)
            }
            TypeExpr::Array(e) => Type::Array(Box::new(self.resolve_type(e)?)),
            TypeExpr::Func(params, result) => {
                let mut ps = Vec::new();
                for p in params {
                    ps.push(self.resolve_type(p)?);
                }
                let r = match result {
                    Some(r) => self.resolve_type(r)?,
                    None => Type::Void,
                };
                Type::Func(ps, Box::new(r))
            }
            TypeExpr::Named(n, pos) => match self.class_named(n, *pos)? {
                Some(c) => self.class_type(c),
                None => return self.error(*pos, format!("unknown type `{n}`")),
            },
        })
    }

    fn declare_top(&mut self, name: &str, pos: Pos, what: Resolved) -> CResult<()> {
        if BUILTINS.iter().any(|(b, _)| *b == name) || name == "print" || name == "println" {
            return self.error(pos, format!("`{name}` is a builtin function"));
        }
        if self.top.insert(name.to_owned(), what).is_some() {
            return self.error(pos, format!("`{name}` is declared twice"));
        }
        Ok(())
    }

    fn program(&mut self, p: &'s Program) -> CResult<()> {
        for item in &p.items {
            self.program_names.insert(
                match item {
                    Item::Func(f) | Item::Import(f) => &f.name,
                    Item::Global(g) => &g.name,
                    Item::Class(c) => &c.name,
                }
                .clone(),
            );
        }
        // Declarations first: functions, classes and globals may be used
        // before they are declared (a class's parent excepted). Each
        // function's index is reserved before any signature is resolved,
        // since resolving one may declare library functions and instances.
        let mut globals = 0;
        let mut own: Vec<(FuncDecl, Option<usize>, usize)> = Vec::new();
        for item in &p.items {
            match item {
                Item::Func(f) if !f.type_params.is_empty() => {
                    if self.top.contains_key(&f.name) || self.generic_funcs.contains_key(&f.name) {
                        return self.error(f.pos, format!("`{}` is declared twice", f.name));
                    }
                    self.generic_funcs
                        .insert(f.name.clone(), (f, self.main_file));
                }
                Item::Func(f) => {
                    if self.generic_funcs.contains_key(&f.name) {
                        return self.error(f.pos, format!("`{}` is declared twice", f.name));
                    }
                    let index = self.reserve_func(&f.name);
                    self.declare_top(&f.name, f.pos, Resolved::Func(index))?;
                    own.push((f.clone(), None, index));
                }
                Item::Global(g) => {
                    self.declare_top(&g.name, g.pos, Resolved::Global(globals))?;
                    globals += 1;
                }
                Item::Import(f) => {
                    let index = self.out.imports.len();
                    self.declare_top(&f.name, f.pos, Resolved::Import(index))?;
                    let sig = self.signature(f, f.name.clone(), Vec::new())?;
                    self.out.imports.push(sig);
                }
                Item::Class(c) if !c.type_params.is_empty() => {
                    if self.generic_classes.contains_key(&c.name) {
                        return self.error(c.pos, format!("`{}` is declared twice", c.name));
                    }
                    self.generic_classes
                        .insert(c.name.clone(), (c, self.main_file));
                }
                Item::Class(_) => {}
            }
        }
        let mut classes = Vec::new();
        for c in p.classes().filter(|c| c.type_params.is_empty()) {
            if self.generic_classes.contains_key(&c.name) {
                return self.error(c.pos, format!("`{}` is declared twice", c.name));
            }
            let k = self.class(c)?;
            let first = self.out.funcs.len();
            for m in &c.methods {
                let index = self.reserve_func(&m.name);
                own.push((m.clone(), Some(k), index));
            }
            classes.push((k, c, first));
        }
        for item in &p.items {
            if let Item::Global(g) = item {
                let info = self.global(g)?;
                self.out.types.insert(g.id, info.ty.clone());
                self.out.globals.push(info);
            }
        }
        for (f, class, index) in &own {
            let mut params = Vec::new();
            let name = match class {
                None => f.name.clone(),
                Some(c) => {
                    params.push(self.class_type(*c));
                    format!("{}.{}", self.out.classes[*c].name, f.name)
                }
            };
            let sig = self.signature(f, name, params)?;
            let params = sig.params.clone();
            let is_main = class.is_none() && f.name == "main";
            if !is_main && let Some(param) = f.params.iter().find(|p| p.default.is_some()) {
                return self.error(
                    param.pos,
                    "only `main`'s parameters may have default values".to_owned(),
                );
            }
            if is_main
                && let Some((param, _)) =
                    f.params.iter().zip(&params).find(|(_, t)| **t != Type::Int)
            {
                return self.error(param.pos, "`main` takes only `int` parameters".to_owned());
            }
            self.out.funcs[*index] = sig;
        }
        if !self.top.contains_key("main") {
            return self.error(
                Pos { line: 1, col: 1 },
                "the program has no `main` function".to_owned(),
            );
        }
        for &(k, c, first) in &classes {
            self.vtable(k, c, first)?;
        }
        for (f, class, index) in own {
            self.function(&f, index, class)?;
            self.out.bodies.push(FuncBody {
                func: index,
                class,
                decl: f,
                file: self.main_file.to_owned(),
            });
        }
        self.check_pending()
    }

    /// A function index for `name`, its signature filled in later.
    fn reserve_func(&mut self, name: &str) -> usize {
        self.out.funcs.push(FuncSig {
            name: name.to_owned(),
            params: Vec::new(),
            result: Type::Void,
        });
        self.out.funcs.len() - 1
    }

    /// Check the bodies of the library functions and instances used, and
    /// of those they use in turn.
    fn check_pending(&mut self) -> CResult<()> {
        while let Some(p) = self.pending.pop() {
            self.file = p.body.file.clone();
            let checked = self.function(&p.body.decl, p.body.func, p.body.class);
            self.file = self.main_file.to_owned();
            if let Err(mut e) = checked {
                if let Some(note) = p.note {
                    e.message = format!("{} ({note})", e.message);
                }
                return Err(e);
            }
            self.out.bodies.push(p.body);
        }
        Ok(())
    }

    /// The class named `name`: the program's, or the library's (declared
    /// now if this is its first use); an error for a generic class
    /// without type arguments.
    fn class_named(&mut self, name: &str, pos: Pos) -> CResult<Option<usize>> {
        if let Some(&c) = self.std_declared_classes.get(name)
            && (self.in_library() || !self.program_names.contains(name))
        {
            return Ok(Some(c));
        }
        if self.in_library()
            && let Some((decl, file)) = self.std_classes.get(name).cloned()
        {
            return self.declare_class(decl, file, None).map(Some);
        }
        if let Some(&c) = self.classes.get(name) {
            return Ok(Some(c));
        }
        if self.generic_class(name).is_some() {
            return self.error(
                pos,
                format!("`{name}` is generic: give its type arguments (`{name}<...>`)"),
            );
        }
        let Some((decl, file)) = self.std_classes.get(name).cloned() else {
            return Ok(None);
        };
        self.declare_class(decl, file, None).map(Some)
    }

    /// Declare a library class or an instance completely: fields, method
    /// signatures and vtable; its methods' bodies are checked later.
    fn declare_class(&mut self, c: &ClassDecl, file: &str, note: Option<String>) -> CResult<usize> {
        let saved = std::mem::replace(&mut self.file, file.to_owned());
        let k = self.class(c)?;
        let first = self.out.funcs.len();
        for m in &c.methods {
            self.reserve_func(&m.name);
        }
        for (j, m) in c.methods.iter().enumerate() {
            let name = format!("{}.{}", self.out.classes[k].name, m.name);
            let sig = self.signature(m, name, vec![self.class_type(k)])?;
            self.out.funcs[first + j] = sig;
        }
        self.vtable(k, c, first)?;
        for (j, m) in c.methods.iter().enumerate() {
            self.pending.push(Pending {
                body: FuncBody {
                    func: first + j,
                    class: Some(k),
                    decl: m.clone(),
                    file: file.to_owned(),
                },
                note: note.clone(),
            });
        }
        self.file = saved;
        Ok(k)
    }

    /// The instance of generic class `name` for `args`, made on first use.
    fn class_instance(&mut self, name: &str, args: Vec<Type>, pos: Pos) -> CResult<usize> {
        let Some(Generic {
            decl: generic,
            file,
            module_name,
        }) = self.generic_class(name)
        else {
            return self.error(pos, format!("unknown generic class `{name}`"));
        };
        if args.len() != generic.type_params.len() {
            let n = generic.type_params.len();
            return self.error(
                pos,
                format!(
                    "`{name}` takes {n} type argument{}, not {}",
                    if n == 1 { "" } else { "s" },
                    args.len()
                ),
            );
        }
        let mangled = instance_name(&module_name, &args);
        self.check_instance_name(&mangled, pos)?;
        if let Some(&c) = self.classes.get(&mangled) {
            return Ok(c);
        }
        self.display_names.note(&mangled, &module_name, &args);
        let subst = self.substitution(&generic.type_params, &args);
        let mut inst = Instantiator {
            subst: &subst,
            next_id: &mut self.next_id,
        };
        let decl = ClassDecl {
            name: mangled,
            pos: generic.pos,
            parent: generic.parent.clone(),
            fields: generic
                .fields
                .iter()
                .map(|f| FieldDecl {
                    name: f.name.clone(),
                    pos: f.pos,
                    ty: inst.type_expr(&f.ty),
                })
                .collect(),
            methods: generic.methods.iter().map(|m| inst.func(m)).collect(),
            type_params: Vec::new(),
        };
        let note = self.instance_note(&module_name, &args, pos);
        let k = self.declare_class(&decl, file, Some(note))?;
        self.instance_of.insert(k, (name.to_owned(), args));
        Ok(k)
    }

    /// Reject an instance whose name has grown past [`MAX_INSTANCE_NAME`]:
    /// a generic that instantiates itself with ever larger type arguments
    /// would otherwise never end.
    fn check_instance_name(&self, mangled: &str, pos: Pos) -> CResult<()> {
        if mangled.len() > MAX_INSTANCE_NAME {
            let short: String = mangled.chars().take(60).collect();
            return self.error(
                pos,
                format!(
                    "the instance `{short}...` nests its type arguments too deeply \
                     (a generic that instantiates itself with larger types?)"
                ),
            );
        }
        Ok(())
    }

    fn substitution(&self, params: &[String], args: &[Type]) -> Substitution {
        params
            .iter()
            .zip(args)
            .map(|(p, a)| (p.clone(), self.program_class_refs(type_expr_of(a))))
            .collect()
    }

    fn instance_note(&self, name: &str, args: &[Type], pos: Pos) -> String {
        let args: Vec<String> = args.iter().map(Type::to_string).collect();
        format!(
            "in the instance `{name}<{}>` made at {}:{pos}",
            args.join(", "),
            self.file
        )
    }

    /// The library function `name`, declared on first use.
    fn std_func(&mut self, name: &str, pos: Pos) -> CResult<usize> {
        if let Some(&f) = self.std_declared.get(name) {
            return Ok(f);
        }
        let Some((decl, file)) = self.std_funcs.get(name).cloned() else {
            return self.error(pos, format!("the library has no function `{name}`"));
        };
        let module_name = self.library_name(name);
        let index = self.reserve_func(&module_name);
        self.std_declared.insert(name.to_owned(), index);
        let saved = std::mem::replace(&mut self.file, file.to_owned());
        let sig = self.signature(decl, module_name, Vec::new());
        self.file = saved;
        self.out.funcs[index] = sig?;
        self.pending.push(Pending {
            body: FuncBody {
                func: index,
                class: None,
                decl: decl.clone(),
                file: file.to_owned(),
            },
            note: None,
        });
        Ok(index)
    }

    /// In the library's code, declare the library function `name` (if the
    /// library has one and no local hides it): the name means it there,
    /// whatever the program declares.
    fn use_library_func(&mut self, name: &str, pos: Pos) -> CResult<()> {
        if self.in_library()
            && self.std_funcs.contains_key(name)
            && !self.scopes.iter().any(|s| s.contains_key(name))
        {
            self.std_func(name, pos)?;
        }
        Ok(())
    }

    /// Declare the library function `name` as a top-level name if the
    /// program has none of that name.
    fn use_std(&mut self, name: &str, pos: Pos) -> CResult<()> {
        if !self.top.contains_key(name) && self.std_funcs.contains_key(name) {
            let f = self.std_func(name, pos)?;
            self.top.insert(name.to_owned(), Resolved::Func(f));
        }
        Ok(())
    }

    /// The signature of `f`, after the parameters `params` already has.
    fn signature(&mut self, f: &FuncDecl, name: String, mut params: Vec<Type>) -> CResult<FuncSig> {
        for param in &f.params {
            params.push(self.resolve_type(&param.ty)?);
        }
        let result = match &f.result {
            Some(t) => self.resolve_type(t)?,
            None => Type::Void,
        };
        Ok(FuncSig {
            name,
            params,
            result,
        })
    }

    fn class_type(&self, c: usize) -> Type {
        Type::Class(c, self.out.classes[c].name.clone())
    }

    /// Declare class `c`: its name, parent and fields (methods come later).
    fn class(&mut self, c: &ClassDecl) -> CResult<usize> {
        let library = self.in_library() && self.std_classes.contains_key(&c.name);
        let name = if library {
            self.library_name(&c.name)
        } else {
            c.name.clone()
        };
        if self.classes.contains_key(&name) || self.top.contains_key(&name) {
            return self.error(c.pos, format!("`{}` is declared twice", c.name));
        }
        let parent = match &c.parent {
            None => None,
            Some((name, pos)) => match self.classes.get(name) {
                Some(&k) => Some(k),
                None => {
                    return self.error(
                        *pos,
                        format!(
                            "unknown class `{name}` (a parent is declared before its children)"
                        ),
                    );
                }
            },
        };
        let index = self.out.classes.len();
        self.classes.insert(name.clone(), index);
        if library {
            self.std_declared_classes.insert(c.name.clone(), index);
        } else if self.std_classes.contains_key(&c.name) {
            self.classes
                .insert(format!("{PROGRAM_PREFIX}{}", c.name), index);
        }
        self.out.classes.push(ClassInfo {
            name,
            parent,
            fields: Vec::new(),
            vtable: Vec::new(),
            init: None,
        });
        for f in &c.fields {
            let ty = self.resolve_type(&f.ty)?;
            if self.field(index, &f.name).is_some() {
                return self.error(
                    f.pos,
                    format!("`{}` already has a field `{}`", c.name, f.name),
                );
            }
            self.out.classes[index].fields.push((f.name.clone(), ty));
        }
        Ok(index)
    }

    /// The type of field `name` of class `c` (its own or inherited).
    fn field(&self, c: usize, name: &str) -> Option<Type> {
        let mut at = Some(c);
        while let Some(k) = at {
            let info = &self.out.classes[k];
            if let Some((_, t)) = info.fields.iter().find(|(n, _)| n == name) {
                return Some(t.clone());
            }
            at = info.parent;
        }
        None
    }

    /// `new C(args)` of class `c`: the arguments checked against `C`'s
    /// `init` (its own or its nearest ancestor's), none without one.
    fn construct(&mut self, e: &Expr, c: usize, args: &[Expr]) -> CResult<Type> {
        let name = self.out.classes[c].name.clone();
        match self.out.classes[c].init {
            Some(f) => {
                self.out.resolved.insert(e.id, Resolved::Func(f));
                let params = self.out.funcs[f].params[1..].to_vec();
                self.arguments(e, &format!("{name}.{INIT_METHOD}"), args, &params)?;
            }
            None if !args.is_empty() => {
                return self.error(
                    e.pos,
                    format!(
                        "`{name}` has no `{INIT_METHOD}` method: `new {name}()` takes no arguments"
                    ),
                );
            }
            None => {}
        }
        Ok(self.class_type(c))
    }

    /// Class `k`'s vtable: its parent's, with overrides in place and its new
    /// methods after.
    fn vtable(&mut self, k: usize, c: &ClassDecl, first: usize) -> CResult<()> {
        let (mut table, mut init) = match self.out.classes[k].parent {
            Some(p) => (self.out.classes[p].vtable.clone(), self.out.classes[p].init),
            None => (Vec::new(), None),
        };
        for (m, decl) in c.methods.iter().enumerate() {
            let func = first + m;
            if decl.name == INIT_METHOD {
                if decl.result.is_some() {
                    return self.error(
                        decl.pos,
                        format!(
                            "`{}.{INIT_METHOD}` is a constructor: it returns nothing",
                            c.name
                        ),
                    );
                }
                if c.methods[..m].iter().any(|d| d.name == decl.name) {
                    return self.error(
                        decl.pos,
                        format!("`{}` already has a method `{}`", c.name, decl.name),
                    );
                }
                // Each class's own: any parameters, not virtual.
                init = Some(func);
                continue;
            }
            if c.methods[..m].iter().any(|d| d.name == decl.name) {
                return self.error(
                    decl.pos,
                    format!("`{}` already has a method `{}`", c.name, decl.name),
                );
            }
            match table.iter_mut().find(|(n, _)| *n == decl.name) {
                Some(slot) => {
                    let old = &self.out.funcs[slot.1];
                    let new = &self.out.funcs[func];
                    if old.params[1..] != new.params[1..] || old.result != new.result {
                        return self.error(
                            decl.pos,
                            format!(
                                "`{}` overrides `{}` with another signature",
                                new.name, old.name
                            ),
                        );
                    }
                    slot.1 = func;
                }
                None => table.push((decl.name.clone(), func)),
            }
        }
        self.out.classes[k].vtable = table;
        self.out.classes[k].init = init;
        Ok(())
    }

    fn global(&mut self, g: &VarDecl) -> CResult<GlobalInfo> {
        let declared = g.ty.as_ref().map(|t| self.resolve_type(t)).transpose()?;
        let init_ty = match g.init.as_ref().map(|e| &e.kind) {
            None => None,
            Some(ExprKind::Int(_)) => Some(Type::Int),
            Some(ExprKind::Float(_)) => Some(Type::Float),
            Some(ExprKind::Bool(_)) => Some(Type::Bool),
            Some(_) => {
                let pos = g.init.as_ref().map_or(g.pos, |e| e.pos);
                return self.error(
                    pos,
                    "a global's initial value must be an int, float or bool literal".to_owned(),
                );
            }
        };
        let ty = match (declared, init_ty) {
            (Some(d), Some(i)) if d != i => {
                let pos = g.init.as_ref().map_or(g.pos, |e| e.pos);
                return self.error(
                    pos,
                    format!("`{}` is declared {d} but initialised with {i}", g.name),
                );
            }
            (Some(d), _) => d,
            (None, Some(i)) => i,
            (None, None) => {
                return self.error(
                    g.pos,
                    format!("`{}` needs a type or an initial value", g.name),
                );
            }
        };
        Ok(GlobalInfo {
            name: g.name.clone(),
            ty,
            mutable: g.mutable,
            init: g.init.as_ref().map(|e| e.kind.clone()),
        })
    }

    fn function(&mut self, f: &FuncDecl, index: usize, class: Option<usize>) -> CResult<()> {
        let sig = self.out.funcs[index].clone();
        self.result = sig.result.clone();
        self.scopes = vec![HashMap::new()];
        let mut types = sig.params.iter();
        if let Some(c) = class {
            types.next();
            let ty = self.class_type(c);
            self.declare_local("self", f.pos, f.self_id, ty, false)?;
        }
        for (param, ty) in f.params.iter().zip(types) {
            self.declare_local(&param.name, param.pos, param.id, ty.clone(), false)?;
        }
        self.block(&f.body)?;
        if sig.result != Type::Void && !block_returns(&f.body) {
            return self.error(
                f.pos,
                format!(
                    "`{}` may end without returning its {}",
                    sig.name, sig.result
                ),
            );
        }
        Ok(())
    }

    fn declare_local(
        &mut self,
        name: &str,
        pos: Pos,
        id: NodeId,
        ty: Type,
        mutable: bool,
    ) -> CResult<()> {
        self.out.types.insert(id, ty.clone());
        let scope = self.scopes.last_mut().expect("a function has a scope");
        if scope.contains_key(name) {
            return self.error(pos, format!("`{name}` is already declared in this scope"));
        }
        scope.insert(name.to_owned(), Local { id, ty, mutable });
        Ok(())
    }

    fn block(&mut self, b: &Block) -> CResult<()> {
        self.scopes.push(HashMap::new());
        for s in &b.stmts {
            self.stmt(s)?;
        }
        self.scopes.pop();
        Ok(())
    }

    fn expect_type(&mut self, e: &Expr, want: &Type, what: &str) -> CResult<()> {
        let got = self.expr(e)?;
        if !self.assignable(&got, want) {
            return self.error(e.pos, format!("{what} must be {want}, found {got}"));
        }
        Ok(())
    }

    /// Whether a value of type `got` may go where `want` is expected: the
    /// same type, a class and one of its ancestors, or `null` and any
    /// reference type.
    fn assignable(&self, got: &Type, want: &Type) -> bool {
        if *got == Type::Null {
            return want.bank() == Some(Bank::R);
        }
        if let (&Type::Class(c, _), &Type::Class(w, _)) = (got, want) {
            return self.is_ancestor(w, c);
        }
        got == want
    }

    /// Whether class `a` is class `c` or one of its ancestors.
    fn is_ancestor(&self, a: usize, c: usize) -> bool {
        let mut at = Some(c);
        while let Some(k) = at {
            if k == a {
                return true;
            }
            at = self.out.classes[k].parent;
        }
        false
    }

    fn stmt(&mut self, s: &Stmt) -> CResult<()> {
        match &s.kind {
            StmtKind::Var(d) => {
                let declared = d.ty.as_ref().map(|t| self.resolve_type(t)).transpose()?;
                let ty = match (&d.init, declared) {
                    (Some(init), Some(t)) => {
                        self.expect_type(init, &t, &format!("the value of `{}`", d.name))?;
                        t
                    }
                    (Some(init), None) => {
                        let t = self.value(init)?;
                        if t == Type::Null {
                            return self.error(
                                init.pos,
                                format!(
                                    "`null` has no type of its own: declare `{}`'s type",
                                    d.name
                                ),
                            );
                        }
                        t
                    }
                    (None, Some(t)) => {
                        if !d.mutable {
                            return self.error(d.pos, format!("`let {}` needs a value", d.name));
                        }
                        t
                    }
                    (None, None) => {
                        return self.error(
                            d.pos,
                            format!("`{}` needs a type or an initial value", d.name),
                        );
                    }
                };
                self.declare_local(&d.name, d.pos, d.id, ty, d.mutable)
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value),
            StmtKind::If { arms, otherwise } => {
                for (cond, then) in arms {
                    self.expect_type(cond, &Type::Bool, "a condition")?;
                    self.block(then)?;
                }
                if let Some(b) = otherwise {
                    self.block(b)?;
                }
                Ok(())
            }
            StmtKind::While { cond, body } => {
                self.expect_type(cond, &Type::Bool, "a condition")?;
                self.loop_body(body)
            }
            StmtKind::Match {
                value,
                arms,
                default,
            } => {
                self.expect_type(value, &Type::Int, "a matched value")?;
                let mut seen = std::collections::HashSet::new();
                for arm in arms {
                    for &(v, pos) in &arm.values {
                        if !seen.insert(v) {
                            return self.error(pos, format!("`{v}` is matched by an earlier arm"));
                        }
                    }
                    self.block(&arm.body)?;
                }
                if let Some(b) = default {
                    self.block(b)?;
                }
                Ok(())
            }
            StmtKind::For {
                var,
                start,
                end,
                body,
            } => {
                self.expect_type(start, &Type::Int, "a range's start")?;
                self.expect_type(end, &Type::Int, "a range's end")?;
                self.scopes.push(HashMap::new());
                self.declare_local(&var.name, var.pos, var.id, Type::Int, false)?;
                self.loop_body(body)?;
                self.scopes.pop();
                Ok(())
            }
            StmtKind::Break | StmtKind::Continue => {
                if self.loops == 0 {
                    let word = if matches!(s.kind, StmtKind::Break) {
                        "break"
                    } else {
                        "continue"
                    };
                    return self.error(s.pos, format!("`{word}` outside a loop"));
                }
                Ok(())
            }
            StmtKind::Return(value) => {
                let want = self.result.clone();
                match (value, &want) {
                    (None, Type::Void) => Ok(()),
                    (None, t) => self.error(
                        s.pos,
                        format!("`return` without a value in a function returning {t}"),
                    ),
                    (Some(e), Type::Void) => self.error(
                        e.pos,
                        "a function without a result type returns no value".to_owned(),
                    ),
                    (Some(e), t) => self.expect_type(e, t, "the returned value"),
                }
            }
            StmtKind::Expr(e) => {
                if !matches!(
                    e.kind,
                    ExprKind::Call(..)
                        | ExprKind::CallValue(..)
                        | ExprKind::MethodCall(..)
                        | ExprKind::Print { .. }
                ) {
                    return self.error(
                        e.pos,
                        "this expression does nothing: only calls can be statements".to_owned(),
                    );
                }
                self.expr(e).map(|_| ())
            }
            StmtKind::Block(b) => self.block(b),
        }
    }

    fn loop_body(&mut self, body: &Block) -> CResult<()> {
        self.loops += 1;
        let r = self.block(body);
        self.loops -= 1;
        r
    }

    fn lookup(&self, name: &str) -> Option<(Resolved, Type, bool)> {
        for scope in self.scopes.iter().rev() {
            if let Some(l) = scope.get(name) {
                return Some((Resolved::Local(l.id), l.ty.clone(), l.mutable));
            }
        }
        self.lookup_top(name)
    }

    /// A local named inside a closure but declared outside it is captured
    /// by every closure between: a `let` by value, a `var` by reference
    /// (it is boxed).
    fn capture(&mut self, name: &str) -> CResult<()> {
        let Some(at) = self.scopes.iter().rposition(|s| s.contains_key(name)) else {
            return Ok(());
        };
        let (id, ty, mutable) = {
            let l = &self.scopes[at][name];
            (l.id, l.ty.clone(), l.mutable)
        };
        let crossing = self.frames.iter().any(|f| f.first_scope > at);
        if crossing && mutable {
            self.out.boxed.insert(id);
        }
        for f in self.frames.iter_mut().filter(|f| f.first_scope > at) {
            if !f.captures.iter().any(|(c, _)| *c == id) {
                f.captures.push((id, ty.clone()));
            }
        }
        Ok(())
    }

    fn lookup_top(&self, name: &str) -> Option<(Resolved, Type, bool)> {
        if self.in_library()
            && let Some(&f) = self.std_declared.get(name)
        {
            return Some((Resolved::Func(f), Type::Void, false));
        }
        match self.top.get(name) {
            Some(&Resolved::Global(i)) => {
                let g = &self.out.globals[i];
                Some((Resolved::Global(i), g.ty.clone(), g.mutable))
            }
            Some(&other) => Some((other, Type::Void, false)),
            None => None,
        }
    }

    fn assign(&mut self, target: &Expr, op: Option<BinOp>, value: &Expr) -> CResult<()> {
        let target_ty = match &target.kind {
            ExprKind::Name(name) => {
                let ty = self.expr(target)?;
                let Some((_, _, mutable)) = self.lookup(name) else {
                    return self.error(target.pos, format!("unknown variable `{name}`"));
                };
                if !mutable {
                    return self.error(
                        target.pos,
                        format!("`{name}` is not a `var`: it cannot be assigned"),
                    );
                }
                ty
            }
            ExprKind::Index(array, _) => {
                let ty = self.expr(target)?;
                if *self.out.type_of(array.id) == Type::Str {
                    return self.error(
                        array.pos,
                        "strings are immutable: their bytes cannot be assigned".to_owned(),
                    );
                }
                ty
            }
            ExprKind::Field(..) => self.expr(target)?,
            _ => {
                return self.error(
                    target.pos,
                    "only a variable, an element or a field can be assigned".to_owned(),
                );
            }
        };
        match op {
            None => self.expect_type(value, &target_ty, "the assigned value"),
            Some(op) => {
                let value_ty = self.value(value)?;
                let result = self.arith(op, &target_ty, &value_ty, target.pos)?;
                if result != target_ty {
                    return self.error(
                        value.pos,
                        format!("`{}=` gives {result}, not {target_ty}", op.symbol()),
                    );
                }
                Ok(())
            }
        }
    }

    /// Check an expression that must have a value (not void).
    fn value(&mut self, e: &Expr) -> CResult<Type> {
        let t = self.expr(e)?;
        if t == Type::Void {
            return self.error(e.pos, "this expression has no value".to_owned());
        }
        Ok(t)
    }

    fn expr(&mut self, e: &Expr) -> CResult<Type> {
        let t = self.expr_kind(e)?;
        self.out.types.insert(e.id, t.clone());
        Ok(t)
    }

    fn arith(&self, op: BinOp, l: &Type, r: &Type, pos: Pos) -> CResult<Type> {
        let sym = op.symbol();
        if matches!(op, BinOp::Eq | BinOp::Ne)
            && let Some(same_kind) = self.identity_comparable(l, r)
        {
            if !same_kind {
                return self.error(
                    pos,
                    format!("`{sym}` of {l} and {r}: they can never be the same object"),
                );
            }
            return Ok(Type::Bool);
        }
        if l != r {
            return self.error(
                pos,
                format!(
                    "`{sym}` of {l} and {r}: both sides must have one type (convert with `as`)"
                ),
            );
        }
        let ok = match op {
            BinOp::Add => matches!(l, Type::Int | Type::Float | Type::Str),
            BinOp::Sub | BinOp::Mul | BinOp::Div => matches!(l, Type::Int | Type::Float),
            BinOp::Rem
            | BinOp::BitAnd
            | BinOp::BitOr
            | BinOp::BitXor
            | BinOp::Shl
            | BinOp::Shr
            | BinOp::Ushr => *l == Type::Int,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => matches!(l, Type::Int | Type::Float),
            BinOp::Eq | BinOp::Ne => matches!(l, Type::Int | Type::Float | Type::Bool | Type::Str),
            BinOp::And | BinOp::Or => *l == Type::Bool,
        };
        if !ok {
            return self.error(pos, format!("`{sym}` does not apply to {l}"));
        }
        Ok(if op.is_comparison() {
            Type::Bool
        } else {
            l.clone()
        })
    }

    /// For `==`/`!=`: `None` when neither side is compared by identity
    /// (numbers, bools, two strings), else whether the two types may hold
    /// the same object: one is `null`, or both are classes, arrays or
    /// functions and one type is the other's (or an ancestor of it).
    fn identity_comparable(&self, l: &Type, r: &Type) -> Option<bool> {
        if *l == Type::Null || *r == Type::Null {
            let other = if *l == Type::Null { r } else { l };
            return Some(other.bank() == Some(Bank::R));
        }
        if !is_identity_type(l) && !is_identity_type(r) {
            return None;
        }
        Some(self.assignable(l, r) || self.assignable(r, l))
    }

    fn expr_kind(&mut self, e: &Expr) -> CResult<Type> {
        if let ExprKind::Name(name) = &e.kind {
            self.use_library_func(name, e.pos)?;
        }
        if let ExprKind::Name(name) = &e.kind
            && self.lookup(name).is_none()
        {
            if self.generic_func(name).is_some() {
                return self.error(
                    e.pos,
                    format!("`{name}` is generic: call it (the arguments give its type arguments)"),
                );
            }
            self.use_std(name, e.pos)?;
        }
        Ok(match &e.kind {
            ExprKind::Int(_) => Type::Int,
            ExprKind::Float(_) => Type::Float,
            ExprKind::Bool(_) => Type::Bool,
            ExprKind::Str(_) => Type::Str,
            ExprKind::Null => Type::Null,
            ExprKind::Name(name) => match self.lookup(name) {
                Some((r @ (Resolved::Local(_) | Resolved::Global(_)), ty, _)) => {
                    self.capture(name)?;
                    self.out.resolved.insert(e.id, r);
                    ty
                }
                Some((Resolved::Func(i), _, _)) => {
                    self.out.resolved.insert(e.id, Resolved::Func(i));
                    let sig = &self.out.funcs[i];
                    Type::Func(sig.params.clone(), Box::new(sig.result.clone()))
                }
                Some(_) => {
                    return self.error(e.pos, format!("`{name}` is a function, not a value"));
                }
                None => return self.error(e.pos, format!("unknown variable `{name}`")),
            },
            ExprKind::Unary(op, operand) => {
                let t = self.value(operand)?;
                match (op, &t) {
                    (UnOp::Neg, Type::Int | Type::Float)
                    | (UnOp::BitNot, Type::Int)
                    | (UnOp::Not, Type::Bool) => t,
                    _ => {
                        let sym = match op {
                            UnOp::Neg => "-",
                            UnOp::Not => "!",
                            UnOp::BitNot => "~",
                        };
                        return self.error(e.pos, format!("`{sym}` does not apply to {t}"));
                    }
                }
            }
            ExprKind::Binary(op, l, r) => {
                let lt = self.value(l)?;
                let rt = self.value(r)?;
                let t = self.arith(*op, &lt, &rt, e.pos)?;
                if lt == Type::Str && rt == Type::Str && matches!(op, BinOp::Eq | BinOp::Ne) {
                    let f = self.std_func("str_eq", e.pos)?;
                    self.out.helpers.insert(e.id, f);
                }
                t
            }
            ExprKind::Call(name, args) => self.call(e, name, args)?,
            ExprKind::CallValue(callee, args) => {
                let Type::Func(params, result) = self.value(callee)? else {
                    let t = self.out.type_of(callee.id).clone();
                    return self.error(e.pos, format!("cannot call {t}: it is not a function"));
                };
                let name = Type::Func(params.clone(), result.clone()).to_string();
                self.arguments(e, &name, args, &params)?;
                *result
            }
            ExprKind::Print { args, .. } => {
                for a in args {
                    let t = self.value(&a.expr)?;
                    if matches!(
                        t,
                        Type::Array(_) | Type::Class(..) | Type::Func(..) | Type::Null
                    ) {
                        return self
                            .error(a.expr.pos, format!("cannot print {t}: print its elements"));
                    }
                    if a.digits.is_some() && t != Type::Float {
                        return self.error(
                            a.expr.pos,
                            format!("a digit count applies to a float, not {t}"),
                        );
                    }
                }
                Type::Void
            }
            ExprKind::Index(array, index) => {
                let at = self.value(array)?;
                self.expect_type(index, &Type::Int, "an index")?;
                match at {
                    Type::Array(elem) => *elem,
                    Type::Str | Type::Bytes => Type::Int,
                    other => return self.error(array.pos, format!("cannot index {other}")),
                }
            }
            ExprKind::NewArray(elem, len) => {
                let elem = self.resolve_type(elem)?;
                self.expect_type(len, &Type::Int, "an array length")?;
                Type::Array(Box::new(elem))
            }
            ExprKind::Cast(inner, to) => {
                let from = self.value(inner)?;
                let to = self.resolve_type(to)?;
                match (&from, &to) {
                    (Type::Int, Type::Float)
                    | (Type::Float, Type::Int)
                    | (Type::Bool, Type::Int) => to,
                    (Type::Null, _) if to.bank() == Some(Bank::R) => to,
                    (&Type::Class(a, _), &Type::Class(b, _)) if self.is_ancestor(b, a) => to,
                    (&Type::Class(a, _), &Type::Class(b, _)) if self.is_ancestor(a, b) => {
                        self.out.resolved.insert(e.id, Resolved::Class(b));
                        to
                    }
                    (a, b) if a == b => to,
                    _ => return self.error(e.pos, format!("cannot convert {from} to {to}")),
                }
            }
            ExprKind::Lambda(decl) => self.lambda(e, decl)?,
            ExprKind::NewObject(name, args) => match self.class_named(name, e.pos)? {
                Some(c) => self.construct(e, c, args)?,
                None => return self.error(e.pos, format!("unknown class `{name}`")),
            },
            ExprKind::NewGeneric(t, args) => match self.resolve_type(t)? {
                Type::Class(c, _) => self.construct(e, c, args)?,
                other => return self.error(e.pos, format!("`new {other}`: not a class")),
            },
            ExprKind::Is(obj, class) => {
                let from = self.value(obj)?;
                let to = self.resolve_type(class)?;
                let (Type::Class(a, _), Type::Class(b, _)) = (&from, &to) else {
                    return self.error(
                        e.pos,
                        format!("`is` tests an object against a class, not {from} against {to}"),
                    );
                };
                if !self.is_ancestor(*a, *b) && !self.is_ancestor(*b, *a) {
                    return self.error(e.pos, format!("{from} is never {to}: unrelated classes"));
                }
                self.out.resolved.insert(e.id, Resolved::Class(*b));
                Type::Bool
            }
            ExprKind::NewBytes(len) => {
                self.expect_type(len, &Type::Int, "a length")?;
                Type::Bytes
            }
            ExprKind::Field(obj, name) => {
                let Type::Class(c, cname) = self.value(obj)? else {
                    let t = self.out.type_of(obj.id).clone();
                    return self.error(e.pos, format!("{t} has no fields"));
                };
                match self.field(c, name) {
                    Some(t) => t,
                    None => return self.error(e.pos, format!("`{cname}` has no field `{name}`")),
                }
            }
            ExprKind::MethodCall(obj, name, args) => {
                let Type::Class(c, cname) = self.value(obj)? else {
                    let t = self.out.type_of(obj.id).clone();
                    return self.error(e.pos, format!("{t} has no methods"));
                };
                let Some(slot) = self.out.classes[c]
                    .vtable
                    .iter()
                    .position(|(n, _)| n == name)
                else {
                    // A field holding a function value, called.
                    if let Some(Type::Func(params, result)) = self.field(c, name) {
                        self.out.resolved.insert(e.id, Resolved::CallField);
                        self.arguments(e, &format!("{cname}.{name}"), args, &params)?;
                        return Ok(*result);
                    }
                    return self.error(e.pos, format!("`{cname}` has no method `{name}`"));
                };
                self.out
                    .resolved
                    .insert(e.id, Resolved::Method { class: c, slot });
                let sig = self.out.funcs[self.out.classes[c].vtable[slot].1].clone();
                self.arguments(e, &format!("{cname}.{name}"), args, &sig.params[1..])?;
                sig.result
            }
        })
    }

    fn call(&mut self, e: &Expr, name: &str, args: &[Expr]) -> CResult<Type> {
        if let Some(&(_, b)) = BUILTINS.iter().find(|(n, _)| *n == name)
            && !matches!(
                b,
                Builtin::Len | Builtin::Sqrt | Builtin::Abs | Builtin::Floor
            )
        {
            self.out.resolved.insert(e.id, Resolved::Builtin(b));
            return self.builtin(e, b, name, args);
        }
        self.use_library_func(name, e.pos)?;
        let generic = self.generic_func(name);
        // The library's code calls the library's generic even where the
        // program has a function of that name.
        let library_generic = self.in_library()
            && self.std_generic_funcs.contains_key(name)
            && !self.scopes.iter().any(|s| s.contains_key(name));
        if library_generic || self.lookup(name).is_none() {
            if let Some(generic) = generic {
                return self.generic_call(e, generic, args);
            }
            self.use_std(name, e.pos)?;
        }
        if let Some(&(_, b)) = BUILTINS.iter().find(|(n, _)| *n == name) {
            self.out.resolved.insert(e.id, Resolved::Builtin(b));
            if args.len() != 1 {
                return self.error(
                    e.pos,
                    format!("`{name}` takes 1 argument, not {}", args.len()),
                );
            }
            let t = self.value(&args[0])?;
            return match (b, &t) {
                (Builtin::Len, Type::Array(_) | Type::Str | Type::Bytes) => Ok(Type::Int),
                (Builtin::Sqrt | Builtin::Abs | Builtin::Floor, Type::Float) => Ok(Type::Float),
                _ => self.error(args[0].pos, format!("`{name}` does not take {t}")),
            };
        }
        let index = match self.lookup(name) {
            Some((Resolved::Func(i), _, _)) => i,
            Some((
                r @ (Resolved::Local(_) | Resolved::Global(_)),
                Type::Func(params, result),
                _,
            )) => {
                self.capture(name)?;
                let how = match r {
                    Resolved::Local(id) => Resolved::CallLocal(id),
                    Resolved::Global(g) => Resolved::CallGlobal(g),
                    other => other,
                };
                self.out.resolved.insert(e.id, how);
                self.arguments(e, name, args, &params)?;
                return Ok(*result);
            }
            Some((Resolved::Import(i), _, _)) => {
                self.out.resolved.insert(e.id, Resolved::Import(i));
                let sig = self.out.imports[i].clone();
                self.arguments(e, name, args, &sig.params)?;
                return Ok(sig.result);
            }
            Some(_) => return self.error(e.pos, format!("`{name}` is a variable, not a function")),
            None => return self.error(e.pos, format!("unknown function `{name}`")),
        };
        self.out.resolved.insert(e.id, Resolved::Func(index));
        let sig = self.out.funcs[index].clone();
        self.arguments(e, name, args, &sig.params)?;
        Ok(sig.result)
    }

    /// The builtins on strings and byte arrays, `trap` and `hash`.
    fn builtin(&mut self, e: &Expr, b: Builtin, name: &str, args: &[Expr]) -> CResult<Type> {
        use Type::{Bytes, Int, Str, Void};
        let (params, result): (&[Type], Type) = match b {
            Builtin::Slice => (&[Str, Int, Int], Str),
            Builtin::Chr => (&[Int], Str),
            // Bytes from a string or bytes, or elements between arrays
            // of one type: checked below.
            Builtin::Copy => (&[Void, Int, Void, Int, Int], Void),
            Builtin::ToString => (&[Bytes, Int], Str),
            Builtin::Trap => (&[Int], Void),
            _ => (&[Void], Int),
        };
        if args.len() != params.len() {
            return self.error(
                e.pos,
                format!(
                    "`{name}` takes {} arguments, not {}",
                    params.len(),
                    args.len()
                ),
            );
        }
        let mut dst = Void;
        for (k, (a, want)) in args.iter().zip(params).enumerate() {
            if *want != Void {
                self.expect_type(a, want, &format!("argument {} of `{name}`", k + 1))?;
                continue;
            }
            let t = self.value(a)?;
            match (b, &t) {
                (Builtin::Copy, _) if k == 0 => {
                    if !matches!(t, Bytes | Type::Array(_)) {
                        return self.error(
                            a.pos,
                            format!("argument 1 of `copy` must be bytes or an array, found {t}"),
                        );
                    }
                    dst = t;
                }
                (Builtin::Copy, Str | Bytes) if dst == Bytes => {}
                (Builtin::Copy, _) if matches!(dst, Type::Array(_)) => {
                    if t != dst {
                        return self.error(
                            a.pos,
                            format!("argument 3 of `copy` must be {dst}, found {t}"),
                        );
                    }
                }
                (Builtin::Hash, Int) => {}
                (Builtin::Hash, Str) => {
                    let f = self.std_func("hash_string", e.pos)?;
                    self.out.helpers.insert(e.id, f);
                }
                (Builtin::Copy, _) => {
                    return self.error(
                        a.pos,
                        format!("argument 3 of `copy` must be string or bytes, found {t}"),
                    );
                }
                _ => {
                    return self.error(a.pos, format!("`hash` takes an int or a string, not {t}"));
                }
            }
        }
        Ok(result)
    }

    /// A call of a generic function: its type arguments come from the
    /// arguments' types; the instance is made on first use.
    fn generic_call(
        &mut self,
        e: &Expr,
        generic: Generic<'s, FuncDecl>,
        args: &[Expr],
    ) -> CResult<Type> {
        let Generic {
            decl: generic,
            file,
            module_name,
        } = generic;
        let name = &generic.name;
        if args.len() != generic.params.len() {
            return self.error(
                e.pos,
                format!(
                    "`{name}` takes {} arguments, not {}",
                    generic.params.len(),
                    args.len()
                ),
            );
        }
        let mut types = Vec::new();
        for a in args {
            types.push(self.value(a)?);
        }
        let mut bound = HashMap::new();
        let instance_of = &self.instance_of;
        let lookup = |c: usize| instance_of.get(&c).cloned();
        for (p, t) in generic.params.iter().zip(&types) {
            infer(&p.ty, t, &generic.type_params, &lookup, &mut bound);
        }
        let mut type_args = Vec::new();
        for p in &generic.type_params {
            match bound.remove(p) {
                Some(t) => type_args.push(t),
                None => {
                    return self.error(
                        e.pos,
                        format!(
                            "the type parameter `{p}` of `{name}` is not determined by the arguments"
                        ),
                    );
                }
            }
        }
        let mangled = instance_name(&module_name, &type_args);
        self.check_instance_name(&mangled, e.pos)?;
        let index = match self.func_instances.get(&mangled) {
            Some(&f) => f,
            None => {
                let subst = self.substitution(&generic.type_params, &type_args);
                let decl = Instantiator {
                    subst: &subst,
                    next_id: &mut self.next_id,
                }
                .func(generic);
                let note = self.instance_note(&module_name, &type_args, e.pos);
                self.display_names.note(&mangled, &module_name, &type_args);
                let index = self.reserve_func(&mangled);
                self.func_instances.insert(mangled.clone(), index);
                let saved = std::mem::replace(&mut self.file, file.to_owned());
                let sig = self.signature(&decl, mangled, Vec::new());
                self.file = saved;
                self.out.funcs[index] = sig?;
                self.pending.push(Pending {
                    body: FuncBody {
                        func: index,
                        class: None,
                        decl,
                        file: file.to_owned(),
                    },
                    note: Some(note),
                });
                index
            }
        };
        self.out.resolved.insert(e.id, Resolved::Func(index));
        let sig = self.out.funcs[index].clone();
        for (k, ((a, got), want)) in args.iter().zip(&types).zip(&sig.params).enumerate() {
            if !self.assignable(got, want) {
                return self.error(
                    a.pos,
                    format!("argument {} of `{name}` must be {want}, found {got}", k + 1),
                );
            }
        }
        Ok(sig.result)
    }

    fn lambda(&mut self, e: &Expr, decl: &FuncDecl) -> CResult<Type> {
        let func = self.out.funcs.len();
        let sig = self.signature(decl, format!("fun${func}"), Vec::new())?;
        if let Some(p) = decl.params.iter().find(|p| p.default.is_some()) {
            return self.error(
                p.pos,
                "only `main`'s parameters may have default values".to_owned(),
            );
        }
        self.out.funcs.push(sig.clone());
        let saved = (
            std::mem::replace(&mut self.result, sig.result.clone()),
            self.loops,
        );
        self.loops = 0;
        self.frames.push(Frame {
            first_scope: self.scopes.len(),
            captures: Vec::new(),
        });
        let first_scope = self.scopes.len();
        self.scopes.push(HashMap::new());
        let body = self.lambda_body(decl, &sig);
        // Restored on an error too: the enclosing loop's count is popped
        // by its own check as the error passes.
        self.scopes.truncate(first_scope);
        let frame = self.frames.pop().map(|f| f.captures).unwrap_or_default();
        (self.result, self.loops) = saved;
        body?;
        if sig.result != Type::Void && !block_returns(&decl.body) {
            return self.error(
                e.pos,
                format!("the closure may end without returning its {}", sig.result),
            );
        }
        self.out
            .resolved
            .insert(e.id, Resolved::Lambda(self.out.lambdas.len()));
        self.out.lambdas.push(LambdaInfo {
            func,
            decl: decl.clone(),
            captures: frame,
        });
        Ok(Type::Func(sig.params, Box::new(sig.result)))
    }

    fn lambda_body(&mut self, decl: &FuncDecl, sig: &FuncSig) -> CResult<()> {
        for (param, ty) in decl.params.iter().zip(&sig.params) {
            self.declare_local(&param.name, param.pos, param.id, ty.clone(), false)?;
        }
        self.block(&decl.body)
    }

    fn arguments(&mut self, e: &Expr, name: &str, args: &[Expr], params: &[Type]) -> CResult<()> {
        if args.len() != params.len() {
            return self.error(
                e.pos,
                format!(
                    "`{name}` takes {} arguments, not {}",
                    params.len(),
                    args.len()
                ),
            );
        }
        for (k, (a, want)) in args.iter().zip(params).enumerate() {
            self.expect_type(a, want, &format!("argument {} of `{name}`", k + 1))?;
        }
        Ok(())
    }
}

/// Check `program`: every name resolved, every expression typed.
pub fn check(program: &Program, file: &str) -> Result<Checked, LangError> {
    check_with(program, file, &Library::default(), 0)
}

/// [`check`] with the library `std` in scope: the names the program does
/// not declare itself may refer to its functions and classes, which are
/// checked (and later compiled) only when used. `last_id` is the highest
/// [`NodeId`] in the program and the library.
pub fn check_with<'s>(
    program: &'s Program,
    file: &'s str,
    std: &'s Library,
    last_id: NodeId,
) -> Result<Checked, LangError> {
    let mut c = Checker {
        file: file.to_owned(),
        main_file: file,
        generic_classes: HashMap::new(),
        generic_funcs: HashMap::new(),
        std_generic_classes: HashMap::new(),
        std_generic_funcs: HashMap::new(),
        std_classes: HashMap::new(),
        std_funcs: HashMap::new(),
        std_declared: HashMap::new(),
        std_declared_classes: HashMap::new(),
        program_names: HashSet::new(),
        instance_of: HashMap::new(),
        func_instances: HashMap::new(),
        display_names: DisplayNames::default(),
        pending: Vec::new(),
        next_id: last_id,
        out: Checked::default(),
        top: HashMap::new(),
        classes: HashMap::new(),
        scopes: Vec::new(),
        frames: Vec::new(),
        result: Type::Void,
        loops: 0,
    };
    for &(ref item, file) in &std.items {
        match item {
            Item::Func(f) if !f.type_params.is_empty() => {
                c.std_generic_funcs.insert(f.name.clone(), (f, file));
            }
            Item::Func(f) => {
                c.std_funcs.insert(f.name.clone(), (f, file));
            }
            Item::Class(k) if !k.type_params.is_empty() => {
                c.std_generic_classes.insert(k.name.clone(), (k, file));
            }
            Item::Class(k) => {
                c.std_classes.insert(k.name.clone(), (k, file));
            }
            // The library declares no globals or imports.
            Item::Global(_) | Item::Import(_) => {}
        }
    }
    // Errors name instances as the program writes them, not by the
    // mangled names their code carries.
    c.program(program).map_err(|mut e| {
        e.message = c.display_names.rewrite(&e.message);
        e
    })?;
    Ok(c.out)
}
