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

/// What a host-call site tells the `host_call` helper, packed into one
/// 64-bit argument by both JIT tiers and unpacked by the helper: the import
/// index (bits 0..16), the argument window (16..32) and the result register
/// (32..48, [`crate::bytecode::NO_REG`] for none): the fields B, C and A of
/// the `hcall` op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostCallSite {
    /// The import called.
    pub import: u16,
    /// The first register of the argument window, in every bank.
    pub window: u16,
    /// The register of the result, or `NO_REG`.
    pub result: u16,
}

impl HostCallSite {
    /// The site of an `hcall` op.
    pub fn of_op(op: crate::bytecode::Op) -> HostCallSite {
        HostCallSite {
            import: op.b,
            window: op.c,
            result: op.a,
        }
    }

    /// The helper's packed argument.
    pub fn pack(self) -> i64 {
        i64::from(self.import) | i64::from(self.window) << 16 | i64::from(self.result) << 32
    }

    /// The site a packed argument describes.
    pub fn unpack(packed: u64) -> HostCallSite {
        HostCallSite {
            import: packed as u16,
            window: (packed >> 16) as u16,
            result: (packed >> 32) as u16,
        }
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
        user_code: None,
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
