//! Host functions: Rust code that bytecode calls through `hcall`.

use super::value::Value;
use crate::bytecode::Signature;

/// The Rust side of a host function: takes the arguments (in the declared
/// order) and returns the result (or `None` for a function returning none),
/// or an error message that becomes a [`crate::TrapKind::HostError`] trap.
pub type HostFn = dyn FnMut(&[Value]) -> Result<Option<Value>, String> + Send;

/// A host function with its signature.
pub struct HostFunc {
    pub(crate) sig: Signature,
    pub(crate) func: Box<HostFn>,
}

impl HostFunc {
    /// A host function of signature `sig`.
    pub fn new(
        sig: Signature,
        func: impl FnMut(&[Value]) -> Result<Option<Value>, String> + Send + 'static,
    ) -> HostFunc {
        HostFunc {
            sig,
            func: Box::new(func),
        }
    }

    /// Its signature.
    pub fn signature(&self) -> &Signature {
        &self.sig
    }
}

impl std::fmt::Debug for HostFunc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostFunc{}", self.sig)
    }
}
