//! Runtime traps: what went wrong, in which function, at which op.

use crate::bytecode::Module;
use std::fmt;

/// The kind of a runtime trap. The discriminants are the status codes that
/// compiled code returns (0 means "returned normally").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum TrapKind {
    /// Integer division or remainder by zero.
    DivisionByZero = 1,
    /// `i64::MIN / -1`.
    IntegerOverflow = 2,
    /// Array index negative or not below the length.
    IndexOutOfBounds = 3,
    /// Array created with a negative length.
    NegativeLength = 4,
    /// A null reference where an array was needed.
    NullReference = 5,
    /// An array of another element kind than the op accesses.
    ElementKind = 6,
    /// Call depth beyond the limit, or a register stack that would overflow.
    StackOverflow = 7,
    /// The heap limit was reached.
    OutOfMemory = 8,
    /// A host function returned an error.
    HostError = 9,
    /// The embedder set the interrupt flag.
    Interrupted = 10,
    /// The program trapped on purpose (`trap`, `trapi`), with a user code
    /// ([`Trap::user_code`]).
    User = 11,
    /// An indirect call (`calli`, `tcalli`) through a reference that is not
    /// a function reference or whose type is not the one the call expects.
    SignatureMismatch = 12,
    /// A struct field access (`sget*`, `sset*`) on a reference that is not
    /// a struct of the field's type or a descendant of it (an array, a
    /// function reference, a struct of another type).
    WrongType = 13,
    /// A write (`setb`, `filli`, a copy's destination) to an immutable
    /// object: a string constant.
    Immutable = 14,
}

impl TrapKind {
    /// Every kind, for tests.
    pub const ALL: [TrapKind; 14] = [
        TrapKind::DivisionByZero,
        TrapKind::IntegerOverflow,
        TrapKind::IndexOutOfBounds,
        TrapKind::NegativeLength,
        TrapKind::NullReference,
        TrapKind::ElementKind,
        TrapKind::StackOverflow,
        TrapKind::OutOfMemory,
        TrapKind::HostError,
        TrapKind::Interrupted,
        TrapKind::User,
        TrapKind::SignatureMismatch,
        TrapKind::WrongType,
        TrapKind::Immutable,
    ];

    /// The status code compiled code returns for this trap.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The kind with this status code.
    pub fn from_code(code: u32) -> Option<TrapKind> {
        TrapKind::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// A short human description.
    pub fn message(self) -> &'static str {
        match self {
            TrapKind::DivisionByZero => "integer division by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::IndexOutOfBounds => "array index out of bounds",
            TrapKind::NegativeLength => "negative array length",
            TrapKind::NullReference => "null reference",
            TrapKind::ElementKind => "array element kind mismatch",
            TrapKind::StackOverflow => "stack overflow",
            TrapKind::OutOfMemory => "out of memory",
            TrapKind::HostError => "host function failed",
            TrapKind::Interrupted => "interrupted",
            TrapKind::User => "user trap",
            TrapKind::SignatureMismatch => "indirect call signature mismatch",
            TrapKind::WrongType => "struct type mismatch",
            TrapKind::Immutable => "write to an immutable object",
        }
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A trap as the embedder sees it: kind, function and op index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    /// What went wrong.
    pub kind: TrapKind,
    /// Index of the function that trapped.
    pub func: u32,
    /// Its name.
    pub func_name: String,
    /// The index of the trapping op in that function.
    pub pc: u32,
    /// The source line and column of that op, when the module came from
    /// text.
    pub position: Option<(u32, u32)>,
    /// For a [`TrapKind::User`] trap: the code the program gave.
    pub user_code: Option<i64>,
    /// For host errors: the host's message.
    pub detail: Option<String>,
}

impl Trap {
    /// A trap of `kind` at op `pc` of function `func` of `module`, with its
    /// name and source position (an index out of range gives neither).
    pub fn at(module: &Module, func: u32, pc: u32, kind: TrapKind, detail: Option<String>) -> Trap {
        let f = module.functions.get(func as usize);
        Trap {
            kind,
            func,
            func_name: f.map(|f| f.name.clone()).unwrap_or_default(),
            pc,
            position: f.and_then(|f| f.position_of(pc as usize)),
            user_code: None,
            detail,
        }
    }

    /// This trap with user code `code`.
    pub fn with_user_code(mut self, code: Option<i64>) -> Trap {
        self.user_code = code;
        self
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trap: {}", self.kind)?;
        if let Some(code) = self.user_code {
            write!(f, " {code}")?;
        }
        write!(f, " in function `{}` at op {}", self.func_name, self.pc)?;
        if let Some((line, column)) = self.position {
            write!(f, " (line {line}, column {column})")?;
        }
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Trap {}

/// A trap raised at `pc` of the running function, before it has a name.
pub(crate) struct RawTrap {
    pub(crate) kind: TrapKind,
    pub(crate) detail: Option<String>,
    /// For a [`TrapKind::User`] trap: the program's code.
    pub(crate) user_code: Option<i64>,
}

impl From<TrapKind> for RawTrap {
    fn from(kind: TrapKind) -> RawTrap {
        RawTrap {
            kind,
            detail: None,
            user_code: None,
        }
    }
}
