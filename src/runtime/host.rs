//! Host functions: Rust code that bytecode calls through `hcall`.
//!
//! A host function gets a [`Caller`] (access to the instance's objects) and
//! its arguments; references arrive as handles scoped to the call (see
//! [`super::handles`]): they and every handle the function makes are
//! released when it returns, except the one it returns (checked, then
//! stored as the result) and those it [`persist`](Objects::persist)s.

use super::heap::Heap;
use super::objects::Objects;
use super::trap::{RawTrap, TrapKind};
use super::value::Value;
use crate::bytecode::{Bank, Module, Signature};

/// The Rust side of a host function: gets the caller's object access and
/// the arguments (in the declared order), returns the result (or `None` for
/// a function returning none), or an error message that becomes a
/// [`crate::TrapKind::HostError`] trap.
pub type HostFn = dyn FnMut(&mut Caller<'_>, &[Value]) -> Result<Option<Value>, String> + Send;

/// What a host function can reach of the instance that called it: its
/// objects (read, write, allocate, through [`Objects`], which `Caller`
/// dereferences to). It cannot call back into the program.
///
/// A host function that formats an f64 into a new byte string, which the
/// program prints:
///
/// ```
/// use tierjit::{Bank, Config, Engine, Linker, Module, SharedOutput, Signature, Value};
///
/// let mut linker = Linker::new();
/// linker.func_with_caller(
///     "format_f64",
///     Signature::new(vec![Bank::F], Some(Bank::R)),
///     |caller, args| {
///         let [Value::F(x)] = args else {
///             return Err("format_f64 takes one f64".into());
///         };
///         // A new byte array, owned by the program once returned.
///         let text = caller.new_string(&format!("{x:e}"))?;
///         Ok(Some(Value::R(text)))
///     },
/// )?;
/// let engine = Engine::new(Config::new())?;
/// let module = Module::new(&engine, "
///     import format_f64(f) -> r
///     func main() -> i
///         fconst f0, 1234.5
///         hcall r0, format_f64, 0
///         printb r0
///         len i0, r0
///         reti i0
///     end
/// ")?;
/// let mut instance = linker.instantiate(&module)?;
/// let out = SharedOutput::new();
/// instance.set_output(out.clone());
/// assert_eq!(instance.call("main", &[])?, Some(Value::I(8)));
/// assert_eq!(out.take_string(), "1.2345e3");
/// # Ok::<(), tierjit::Error>(())
/// ```
pub struct Caller<'a> {
    objects: Objects<'a>,
}

impl<'a> std::ops::Deref for Caller<'a> {
    type Target = Objects<'a>;
    fn deref(&self) -> &Objects<'a> {
        &self.objects
    }
}

impl<'a> std::ops::DerefMut for Caller<'a> {
    fn deref_mut(&mut self) -> &mut Objects<'a> {
        &mut self.objects
    }
}

/// A host function with its signature.
pub struct HostFunc {
    pub(crate) sig: Signature,
    pub(crate) func: Box<HostFn>,
}

impl HostFunc {
    /// A host function of signature `sig`.
    pub fn new(
        sig: Signature,
        func: impl FnMut(&mut Caller<'_>, &[Value]) -> Result<Option<Value>, String> + Send + 'static,
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
/// (32..48, [`crate::bytecode::NO_REG`] for none), the fields B, C and A of
/// the `hcall` op; and the caller's count of reference registers (48..64),
/// where the collector's roots on the reference stack end while the host
/// function runs (it may allocate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostCallSite {
    /// The import called.
    pub import: u16,
    /// The first register of the argument window, in every bank.
    pub window: u16,
    /// The register of the result, or `NO_REG`.
    pub result: u16,
    /// The caller's reference registers.
    pub frame_refs: u16,
}

impl HostCallSite {
    /// The site of an `hcall` op in a function with `frame_refs` reference
    /// registers.
    pub fn of_op(op: crate::bytecode::Op, frame_refs: u16) -> HostCallSite {
        HostCallSite {
            import: op.b,
            window: op.c,
            result: op.a,
            frame_refs,
        }
    }

    /// The helper's packed argument.
    pub fn pack(self) -> i64 {
        (u64::from(self.import)
            | u64::from(self.window) << 16
            | u64::from(self.result) << 32
            | u64::from(self.frame_refs) << 48) as i64
    }

    /// The site a packed argument describes.
    pub fn unpack(packed: u64) -> HostCallSite {
        HostCallSite {
            import: packed as u16,
            window: (packed >> 16) as u16,
            result: (packed >> 32) as u16,
            frame_refs: (packed >> 48) as u16,
        }
    }
}

/// Where a host call's arguments and result live: the caller's frame bases
/// and the argument window.
pub(crate) struct HostFrame {
    /// The first register of the argument window.
    pub window: usize,
    /// The caller's frame bases.
    pub ib: *mut i64,
    /// See `ib`.
    pub fb: *mut f64,
    /// See `ib`.
    pub rb: *mut u64,
}

/// What a host call leaves in its result register: the bits of a value of
/// the signature's result bank.
pub(crate) type HostResult = Option<(Bank, u64)>;

/// Call host function `hf` from a frame: gather the arguments (references
/// as handles scoped to the call), run it with a [`Caller`] over `heap`
/// (whose roots besides the handles are `stack`, the live reference
/// registers, and `globals`), check its result (a reference must be a live
/// handle of this instance), release the call's handles, and return the
/// result's bits. An error or a panic becomes a `HostError` trap.
///
/// # Safety
/// The frame bases are valid for the window (the verifier bounds it by the
/// caller's registers in every bank the signature uses); `stack` covers
/// every live reference register.
pub(crate) unsafe fn run_host(
    hf: &mut HostFunc,
    heap: &mut Heap,
    module: &Module,
    stack: &[u64],
    globals: &[u64],
    frame: &HostFrame,
) -> Result<HostResult, RawTrap> {
    heap.handles.open_scope();
    // SAFETY: by the caller's contract.
    let args = unsafe { gather_args(&hf.sig, frame, heap) };
    let mut caller = Caller {
        objects: Objects::new(heap, stack, globals, module),
    };
    let f = &mut hf.func;
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut caller, &args)));
    let host_err = |d: String| RawTrap {
        kind: TrapKind::HostError,
        detail: Some(d),
        user_code: None,
    };
    let out =
        match res {
            Err(_) => Err(host_err("host function panicked".into())),
            Ok(Err(msg)) => Err(host_err(msg)),
            Ok(Ok(v)) => {
                let got = v.map(|v| v.bank());
                if got != hf.sig.result {
                    Err(host_err(format!(
                        "host function returned {} but its signature says {}",
                        got.map_or("none".to_string(), |b| b.to_string()),
                        hf.sig.result.map_or("none".to_string(), |b| b.to_string())
                    )))
                } else {
                    match v {
                        None => Ok(None),
                        Some(Value::R(r)) => caller
                            .resolve(r)
                            .map(|obj| Some((Bank::R, obj)))
                            .map_err(|e| {
                                host_err(format!("host function returned a bad reference: {e}"))
                            }),
                        Some(v) => Ok(Some((v.bank(), v.to_bits()))),
                    }
                }
            }
        };
    heap.handles.close_scope();
    out
}

/// The arguments of a host call, read from the caller's frame: parameter
/// `j` of bank X comes from register `window + n` of bank X, where `n`
/// counts the earlier parameters of X. References become handles of the
/// open scope.
///
/// # Safety
/// As for [`run_host`].
unsafe fn gather_args(sig: &Signature, frame: &HostFrame, heap: &mut Heap) -> Vec<Value> {
    let mut next = [0usize; 3];
    sig.params
        .iter()
        .map(|&b| {
            let k = frame.window + next[b.index()];
            next[b.index()] += 1;
            // SAFETY: by the caller's contract.
            unsafe {
                match b {
                    Bank::I => Value::I(*frame.ib.add(k)),
                    Bank::F => Value::F(*frame.fb.add(k)),
                    Bank::R => Value::R(heap.handles.make(*frame.rb.add(k))),
                }
            }
        })
        .collect()
}

/// Store a host call's result into register `dst` of the caller's frame.
///
/// # Safety
/// As for [`run_host`]; `dst` is a register of the result's bank.
pub(crate) unsafe fn store_result(frame: &HostFrame, dst: usize, result: HostResult) {
    // SAFETY: by the caller's contract.
    unsafe {
        match result {
            Some((Bank::I, bits)) => *frame.ib.add(dst) = bits as i64,
            Some((Bank::F, bits)) => *frame.fb.add(dst) = f64::from_bits(bits),
            Some((Bank::R, bits)) => *frame.rb.add(dst) = bits,
            None => {}
        }
    }
}
