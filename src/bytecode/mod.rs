//! The bytecode: ops, modules, the builder, the verifier and the text format.

pub mod builder;
pub mod error;
pub mod loops;
pub mod module;
pub mod op;
pub mod text;
pub mod verify;

pub use builder::{
    AnyReg, BuildError, FReg, FieldRef, FuncRef, FunctionBuilder, GlobalRef, HostRef, IReg, Label,
    ModuleBuilder, RReg, Reg, StructRef, TypeRef,
};
pub use error::{ParseError, VerifyError};
pub use loops::{loop_headers, loops};
pub use module::{
    ENTRY_NAME, FieldDecl, FieldInfo, Function, Global, Import, Module, Signature, StructDecl,
    SwitchTable,
};
pub use op::{Bank, Cmp, Flow, NO_REG, NO_TYPE, Op, Opcode, Operand};
