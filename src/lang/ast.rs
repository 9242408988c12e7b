//! The syntax tree the parser builds and the checker and code generator
//! read.
//!
//! Every expression and every declaration of a variable carries a
//! [`NodeId`], unique in the program: the checker records its findings
//! (types, what a name refers to) in tables keyed by it, so the tree stays
//! immutable and the next passes need no scoping of their own.

use std::fmt;

/// A line and column (both from 1; columns in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    /// The line, from 1.
    pub line: u32,
    /// The column, from 1, in characters.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// The identity of an expression or a variable declaration.
pub type NodeId = u32;

/// A type as written in the source.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeExpr {
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `bool`.
    Bool,
    /// `string`.
    Str,
    /// `bytes`: a mutable byte array.
    Bytes,
    /// `[T]`.
    Array(Box<TypeExpr>),
    /// Any other name: a class.
    Named(String, Pos),
    /// `fun(T, ...) -> R` (or without `-> R`): a function value's type.
    Func(Vec<TypeExpr>, Option<Box<TypeExpr>>),
    /// `Name<T, ...>`: an instance of a generic class.
    Generic(String, Vec<TypeExpr>, Pos),
}

/// A whole source file.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// Its top-level items, in source order.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Clone, Debug)]
pub enum Item {
    /// `fn name(params) -> T { ... }`.
    Func(FuncDecl),
    /// `var name: T = constant` or `let name = constant` at the top level.
    Global(VarDecl),
    /// `class Name [extends Parent] { fields and methods }`.
    Class(ClassDecl),
    /// `import fn name(params) -> T`: a host function the embedder
    /// provides (a bytecode import); its body is a [`Block`] left empty.
    Import(FuncDecl),
}

impl Program {
    /// Every function in the order the checker numbers them
    /// ([`Resolved::Func`](super::types::Resolved::Func)): the top-level
    /// functions in source order, then each class's methods, class by
    /// class; a method comes with its class's index among the classes.
    pub fn functions(&self) -> Vec<(&FuncDecl, Option<usize>)> {
        let mut out: Vec<(&FuncDecl, Option<usize>)> = self
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Func(f) => Some((f, None)),
                _ => None,
            })
            .collect();
        for (k, c) in self.classes().enumerate() {
            out.extend(c.methods.iter().map(|m| (m, Some(k))));
        }
        out
    }

    /// The classes, in source order.
    pub fn classes(&self) -> impl Iterator<Item = &ClassDecl> {
        self.items.iter().filter_map(|i| match i {
            Item::Class(c) => Some(c),
            _ => None,
        })
    }
}

/// A class: a struct type with methods, dispatched virtually.
#[derive(Clone, Debug)]
pub struct ClassDecl {
    /// Its name.
    pub name: String,
    /// Where its name is.
    pub pos: Pos,
    /// The class it extends (declared before it), and where that name is.
    pub parent: Option<(String, Pos)>,
    /// Its own fields (after the parent's).
    pub fields: Vec<FieldDecl>,
    /// Its methods: functions with an implicit first parameter `self`.
    pub methods: Vec<FuncDecl>,
    /// Its type parameters (`class Vec<T>`): a generic class, compiled
    /// once per instantiation.
    pub type_params: Vec<String>,
}

/// `var name: T` in a class.
#[derive(Clone, Debug)]
pub struct FieldDecl {
    /// Its name, unique in the class and its ancestors.
    pub name: String,
    /// Where its name is.
    pub pos: Pos,
    /// Its type.
    pub ty: TypeExpr,
}

/// A function.
#[derive(Clone, Debug)]
pub struct FuncDecl {
    /// Its name.
    pub name: String,
    /// Where its name is.
    pub pos: Pos,
    /// Its parameters (immutable locals).
    pub params: Vec<Param>,
    /// Its result type; `None` when it returns nothing.
    pub result: Option<TypeExpr>,
    /// Its body.
    pub body: Block,
    /// The declaration of `self`, the first parameter of a method.
    pub self_id: NodeId,
    /// Its type parameters (`fn map<T, U>`): a generic function, compiled
    /// once per instantiation, its type arguments inferred from the
    /// arguments' types.
    pub type_params: Vec<String>,
}

/// A function parameter.
#[derive(Clone, Debug)]
pub struct Param {
    /// The declaration's identity.
    pub id: NodeId,
    /// Its name.
    pub name: String,
    /// Where its name is.
    pub pos: Pos,
    /// Its type.
    pub ty: TypeExpr,
    /// `= literal`: the value `main` gets when run with fewer arguments
    /// (only `main`'s `int` parameters may have one).
    pub default: Option<i64>,
}

/// `let`/`var` declarations, local or global.
#[derive(Clone, Debug)]
pub struct VarDecl {
    /// The declaration's identity.
    pub id: NodeId,
    /// The variable's name.
    pub name: String,
    /// Where its name is.
    pub pos: Pos,
    /// `var` (assignable) rather than `let`.
    pub mutable: bool,
    /// The declared type, if written.
    pub ty: Option<TypeExpr>,
    /// The initial value, if written.
    pub init: Option<Expr>,
}

/// `{ statements }`: a scope.
#[derive(Clone, Debug, Default)]
pub struct Block {
    /// The statements, in order.
    pub stmts: Vec<Stmt>,
}

/// A statement and where it starts.
#[derive(Clone, Debug)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// Where it starts.
    pub pos: Pos,
}

/// The kinds of statement.
// A `for` holds three expressions inline; statements are made once per
// source line and walked a few times, so boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum StmtKind {
    /// `let x = e`, `var x: T = e`, `var x: T`.
    Var(VarDecl),
    /// `target = value` or `target op= value` (`op` is the operator).
    Assign {
        /// A variable or an index expression.
        target: Expr,
        /// The operator of a compound assignment (`+=` has `Add`).
        op: Option<BinOp>,
        /// The value.
        value: Expr,
    },
    /// `if c1 { } else if c2 { } ... else { }`: the arms in order, each a
    /// condition and its block (an `else if` chain is one statement, so
    /// no pass recurses over its length).
    If {
        /// The conditions (each a `bool`) and their blocks; at least one.
        arms: Vec<(Expr, Block)>,
        /// The block run when no condition holds.
        otherwise: Option<Block>,
    },
    /// `match value { 1 => { } 2, 3 => { } _ => { } }` on an int.
    Match {
        /// The value matched (an `int`).
        value: Expr,
        /// The arms in order: their int literals and blocks.
        arms: Vec<MatchArm>,
        /// The `_` arm's block, if any.
        default: Option<Block>,
    },
    /// `while cond { }`.
    While {
        /// The condition (a `bool`).
        cond: Expr,
        /// The loop body.
        body: Block,
    },
    /// `for var in start..end { }`: `var` takes `start`, `start + 1`, ...,
    /// `end - 1`; `end` is evaluated once, before the first iteration.
    For {
        /// The loop variable (an immutable `int`).
        var: VarDecl,
        /// The first value.
        start: Expr,
        /// One past the last value.
        end: Expr,
        /// The loop body.
        body: Block,
    },
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `return` or `return e`.
    Return(Option<Expr>),
    /// A call (or print) whose result, if any, is dropped.
    Expr(Expr),
    /// A nested `{ }`.
    Block(Block),
}

/// An arm of a `match`: `1, -2 => { ... }`.
#[derive(Clone, Debug)]
pub struct MatchArm {
    /// The values it takes, each with where it is written.
    pub values: Vec<(i64, Pos)>,
    /// The block run for them.
    pub body: Block,
}

/// An expression.
#[derive(Clone, Debug)]
pub struct Expr {
    /// Its identity.
    pub id: NodeId,
    /// What it is.
    pub kind: ExprKind,
    /// Where it starts (for a binary operation: where its operator is).
    pub pos: Pos,
}

/// The kinds of expression.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// An `int` literal (already negated when written `-5`).
    Int(i64),
    /// A `float` literal.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A string literal.
    Str(String),
    /// `null`: the absent value of any reference type.
    Null,
    /// A variable (local or global).
    Name(String),
    /// `op e`.
    Unary(UnOp, Box<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `name(args)`: a function or a builtin (`len`, `sqrt`, ...).
    Call(String, Vec<Expr>),
    /// `callee(args)` for any other callee expression (`make()(3)`,
    /// `fs[i](x)`): a call of the function value it gives.
    CallValue(Box<Expr>, Vec<Expr>),
    /// `print(args)` or `println(args)` (which adds a newline).
    Print {
        /// Whether a newline follows the arguments.
        newline: bool,
        /// The arguments, printed in order without separators.
        args: Vec<PrintArg>,
    },
    /// `array[index]` (also a string's byte).
    Index(Box<Expr>, Box<Expr>),
    /// `new [T](len)`: an array of `len` zero elements.
    NewArray(TypeExpr, Box<Expr>),
    /// `e as T`: `int` to `float` and back, `bool` to `int`.
    Cast(Box<Expr>, TypeExpr),
    /// `new Name(args)`: an object of a class, every field zero or null,
    /// then its `init` method called with the arguments (if it has one).
    NewObject(String, Vec<Expr>),
    /// `e is Name`: whether the object is of class `Name` or a descendant
    /// (false for null).
    Is(Box<Expr>, TypeExpr),
    /// `new Name<T, ...>(args)`: an object of an instance of a generic
    /// class, then its `init` called with the arguments (if it has one).
    NewGeneric(TypeExpr, Vec<Expr>),
    /// `new bytes(len)`: a byte array of `len` zero bytes.
    NewBytes(Box<Expr>),
    /// `object.field`.
    Field(Box<Expr>, String),
    /// `object.method(args)`: a virtual call.
    MethodCall(Box<Expr>, String, Vec<Expr>),
    /// `fun (params) -> T { body }`: a closure, capturing the `let`
    /// variables and parameters it names by value.
    Lambda(Box<FuncDecl>),
}

/// An argument of `print`: `e`, or `e : digits` for a float printed with
/// that many digits after the point.
#[derive(Clone, Debug)]
pub struct PrintArg {
    /// The value.
    pub expr: Expr,
    /// The digits after the point, for a `float`.
    pub digits: Option<u16>,
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-`: negation (`int` wraps, `float` flips the sign).
    Neg,
    /// `!`: logical not of a `bool`.
    Not,
    /// `~`: bitwise not of an `int`.
    BitNot,
}

/// Infix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (an `int` division by zero traps)
    Div,
    /// `%` (`int` only)
    Rem,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `<<`
    Shl,
    /// `>>` (arithmetic)
    Shr,
    /// `>>>` (logical)
    Ushr,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&` (short-circuit)
    And,
    /// `||` (short-circuit)
    Or,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Ushr => ">>>",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }

    /// Whether it compares (its result is a `bool`).
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }
}
