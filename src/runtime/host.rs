//! Host functions: Rust code that bytecode calls through `hcall`.

use super::trap::{RawTrap, TrapKind};
use super::value::{Ref, Value};
use crate::bytecode::Bank;
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

/// The arguments of a host call, read from the caller's frame: parameter
/// `j` of bank X comes from register `window + n` of bank X, where `n`
/// counts the earlier parameters of X.
///
/// # Safety
/// The frame bases are valid for the window (the verifier bounds it by the
/// caller's registers in every bank the signature uses).
pub(crate) unsafe fn gather_args(
    sig: &crate::bytecode::Signature,
    window: usize,
    ib: *const i64,
    fb: *const f64,
    rb: *const u64,
) -> Vec<Value> {
    let mut next = [0usize; 3];
    sig.params
        .iter()
        .map(|&b| {
            let k = window + next[b.index()];
            next[b.index()] += 1;
            // SAFETY: by the caller's contract.
            unsafe {
                match b {
                    Bank::I => Value::I(*ib.add(k)),
                    Bank::F => Value::F(*fb.add(k)),
                    Bank::R => Value::R(Ref(*rb.add(k))),
                }
            }
        })
        .collect()
}

/// Call a host function, turning an error or a panic into a trap and
/// checking the result's bank.
pub(crate) fn call_host(hf: &mut HostFunc, args: &[Value]) -> Result<Option<Value>, RawTrap> {
    let f = &mut hf.func;
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(args)));
    let host_err = |d: String| RawTrap {
        kind: TrapKind::HostError,
        detail: Some(d),
    };
    match res {
        Err(_) => Err(host_err("host function panicked".into())),
        Ok(Err(msg)) => Err(host_err(msg)),
        Ok(Ok(v)) => {
            let got = v.map(|v| v.bank());
            if got != hf.sig.result {
                return Err(host_err(format!(
                    "host function returned {} but its signature says {}",
                    got.map_or("none".to_string(), |b| b.to_string()),
                    hf.sig.result.map_or("none".to_string(), |b| b.to_string())
                )));
            }
            Ok(v)
        }
    }
}
