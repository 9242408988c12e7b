//! Slow paths called from compiled code with the platform C ABI: allocation,
//! host calls, printing and lazy compilation. Each returns a status (0 or a
//! trap code) or a value, and never lets a panic unwind into machine code.
//!
//! Compilation and tier-up are decided above the runtime, by the
//! orchestrator (`crate::tiering`): helpers reach it only through the
//! [`CodeHooks`] trait object it installs in [`HelperState`] for a call.

use crate::bytecode::{Bank, Module, NO_REG};
use crate::runtime::Store;
use crate::runtime::call_profile::{SITE_POLYMORPHIC, SITE_UNSEEN};
use crate::runtime::compile_error::CompileError;
use crate::runtime::context::{NativeEntry, TAIL_CALL_STATUS, VmContext};
use crate::runtime::heap::{
    ARRAY_DATA_OFFSET, ArrayHeader, BYTES_KIND, ElemKind, FuncRefObject, Heap, I64_BYTES_KIND,
    I64_BYTES_MAX, NULL_ARRAY_HEADER, STRING_KIND, bytes_of, set_i64, widen_i64_bytes,
};
use crate::runtime::host::{HostCallSite, HostFrame, run_host, store_result};
use crate::runtime::print::{write_f64, write_i64};
use crate::runtime::trap::TrapKind;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

/// Addresses of the helpers that compiled code calls. Code that runs uses
/// [`HelperAddrs::native`]; golden tests use fixed fake addresses so that
/// listings do not change from build to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperAddrs {
    /// [`new_array`].
    pub new_array: usize,
    /// [`host_call`].
    pub host_call: usize,
    /// [`print_str`].
    pub print_str: usize,
    /// [`print_i64`].
    pub print_i64: usize,
    /// [`print_f64`].
    pub print_f64: usize,
    /// [`compile`].
    pub compile: usize,
    /// [`hot_call`].
    pub hot_call: usize,
    /// [`hot_loop`].
    pub hot_loop: usize,
    /// [`widen_set_i64`].
    pub widen_set_i64: usize,
    /// [`fill_bytes`].
    pub fill_bytes: usize,
    /// [`new_closure`].
    pub new_closure: usize,
    /// [`tail_call_dispatch`]: of the [`NativeEntry`] signature, called
    /// like a compiled function.
    pub tail_call_dispatch: usize,
    /// [`record_call_target`].
    pub record_call_target: usize,
    /// [`copy_elements`].
    pub copy_elements: usize,
    /// [`fill_elements`].
    pub fill_elements: usize,
    /// [`print_bytes`].
    pub print_bytes: usize,
    /// [`new_struct`].
    pub new_struct: usize,
    /// [`NULL_ARRAY_HEADER`]: not a helper, but an address compiled code
    /// embeds, so listings take a fake one too.
    pub null_array_header: usize,
}

impl HelperAddrs {
    /// The real helpers of this process.
    pub fn native() -> HelperAddrs {
        HelperAddrs {
            new_array: new_array as *const () as usize,
            host_call: host_call as *const () as usize,
            print_str: print_str as *const () as usize,
            print_i64: print_i64 as *const () as usize,
            print_f64: print_f64 as *const () as usize,
            compile: compile as *const () as usize,
            hot_call: hot_call as *const () as usize,
            hot_loop: hot_loop as *const () as usize,
            widen_set_i64: widen_set_i64 as *const () as usize,
            fill_bytes: fill_bytes as *const () as usize,
            new_closure: new_closure as *const () as usize,
            tail_call_dispatch: tail_call_dispatch as *const () as usize,
            record_call_target: record_call_target as *const () as usize,
            copy_elements: copy_elements as *const () as usize,
            fill_elements: fill_elements as *const () as usize,
            print_bytes: print_bytes as *const () as usize,
            new_struct: new_struct as *const () as usize,
            null_array_header: &NULL_ARRAY_HEADER as *const FuncRefObject as usize,
        }
    }

    /// Recognisable fake addresses, for golden listings.
    pub fn fake() -> HelperAddrs {
        let a = |k: usize| 0x7f00_0000_1000 + 0x100 * k;
        HelperAddrs {
            new_array: a(1),
            host_call: a(2),
            print_str: a(3),
            print_i64: a(4),
            print_f64: a(5),
            compile: a(6),
            hot_call: a(7),
            hot_loop: a(8),
            widen_set_i64: a(9),
            fill_bytes: a(10),
            null_array_header: a(11),
            new_closure: a(12),
            tail_call_dispatch: a(13),
            record_call_target: a(14),
            copy_elements: a(15),
            fill_elements: a(16),
            print_bytes: a(17),
            new_struct: a(18),
        }
    }
}

/// What compiled code asks of the orchestrator that runs it: compilation on
/// first call and the tiering hooks. Implemented above the runtime.
pub trait CodeHooks {
    /// Compile `func` if needed and return its entry address.
    fn compile(&mut self, func: usize) -> Result<usize, CompileError>;
    /// `func` is hot at its entry: the address of a Cranelift version to run
    /// this call in, or 0 to go on in template code.
    fn hot_call(&mut self, func: usize) -> usize;
    /// A loop of `func` is hot at the back-edge to `header`: the address of
    /// code to continue in at that header, or 0.
    fn hot_loop(&mut self, func: usize, header: u32) -> usize;
}

/// What the helpers reach through `VmContext::host` during one call into
/// compiled code. The caller builds it on its stack, points the context at
/// it for the duration of the call and reads `detail` and `compile_error`
/// afterwards.
pub struct HelperState<'a> {
    /// The instance's store (stacks, heap, output, host functions).
    pub store: *mut Store,
    /// The module running.
    pub module: &'a Module,
    /// The orchestrator's hooks.
    pub hooks: &'a mut dyn CodeHooks,
    /// The message of a host error.
    pub detail: Option<String>,
    /// Why a lazy compile failed (the call then ends with a trap status, and
    /// the caller reports this instead).
    pub compile_error: Option<CompileError>,
}

/// The helper state behind a context.
///
/// # Safety
/// `ctx` is the context of a call running compiled code, which points
/// `host` at a live `HelperState` for the duration of the call.
unsafe fn state<'a>(ctx: *mut VmContext) -> &'a mut HelperState<'a> {
    // SAFETY: by the caller's contract.
    unsafe { &mut *((*ctx).host as *mut HelperState) }
}

/// Run `f`, turning a panic into a host-error status with a message.
fn guarded(ctx: *mut VmContext, f: impl FnOnce(&mut HelperState<'_>) -> u64) -> u64 {
    guarded_or(ctx, TrapKind::HostError.code().into(), f)
}

/// Run `f`, turning a panic into `on_panic` (with a message).
fn guarded_or(
    ctx: *mut VmContext,
    on_panic: u64,
    f: impl FnOnce(&mut HelperState<'_>) -> u64,
) -> u64 {
    // SAFETY: helpers are only called from compiled code run by `run`.
    let st = unsafe { state(ctx) };
    match catch_unwind(AssertUnwindSafe(|| f(&mut *st))) {
        Ok(v) => v,
        Err(_) => {
            st.detail = Some("internal error: a runtime helper panicked".into());
            on_panic
        }
    }
}

/// Run allocation `alloc` on the store's heap with the roots of a running
/// frame (the reference stack up to `top`, the reference globals) and put
/// the new object into `out`: the status of the allocation helpers.
///
/// # Safety
/// `top` lies in the store's reference stack, at or above its start; `out`
/// is a slot of the running frame.
unsafe fn alloc_into(
    st: &mut HelperState<'_>,
    out: *mut u64,
    top: *const u64,
    alloc: impl FnOnce(&mut Heap, &[FuncRefObject], &[&[u64]]) -> Result<u64, TrapKind>,
) -> u64 {
    // SAFETY: the store outlives the call; `top` by the caller's contract.
    let store = unsafe { &mut *st.store };
    let r0 = store.stacks.r.as_ptr();
    let stack = unsafe { std::slice::from_raw_parts(r0, top.offset_from(r0) as usize) };
    let roots = [stack, &store.globals[2]];
    match alloc(&mut store.heap, &store.func_refs, &roots) {
        Ok(r) => {
            // SAFETY: by the caller's contract.
            unsafe { *out = r };
            0
        }
        Err(k) => k.code().into(),
    }
}

/// `r[out] = new array of kind with len elements`; `top` is one past the
/// caller's last reference register (the collector's roots end there).
///
/// # Safety
/// Called only by compiled code, with the context of a running call and
/// pointers into its frame.
pub unsafe extern "C" fn new_array(
    ctx: *mut VmContext,
    kind: u64,
    len: i64,
    out: *mut u64,
    top: *const u64,
) -> u64 {
    guarded(ctx, |st| {
        let kind = match kind {
            1 => ElemKind::I64,
            2 => ElemKind::F64,
            6 => ElemKind::Bytes,
            _ => ElemKind::Ref,
        };
        // SAFETY: called by compiled code with its frame's `top` and slot.
        unsafe { alloc_into(st, out, top, |heap, _, roots| heap.alloc(kind, len, roots)) }
    })
}

/// `r[out] = closure of func over env` (the `closure` op); `top` as for
/// [`new_array`].
///
/// # Safety
/// Called only by compiled code, with the context of a running call and
/// pointers into its frame; `func` is a function of the module.
pub unsafe extern "C" fn new_closure(
    ctx: *mut VmContext,
    func: u64,
    env: u64,
    out: *mut u64,
    top: *const u64,
) -> u64 {
    guarded(ctx, |st| {
        // SAFETY: called by compiled code with its frame's `top` and slot.
        unsafe {
            alloc_into(st, out, top, |heap, func_refs, roots| {
                let proto = func_refs.get(func as usize).ok_or(TrapKind::HostError)?;
                heap.alloc_closure(proto, env, roots)
            })
        }
    })
}

/// `r[out] = new struct of type s` (the `snew` op); `top` as for
/// [`new_array`].
///
/// # Safety
/// Called only by compiled code, with the context of a running call and
/// pointers into its frame; `s` is a struct type of the module.
pub unsafe extern "C" fn new_struct(
    ctx: *mut VmContext,
    s: u64,
    out: *mut u64,
    top: *const u64,
) -> u64 {
    guarded(ctx, |st| {
        // SAFETY: called by compiled code with its frame's `top` and slot.
        unsafe {
            alloc_into(st, out, top, |heap, _, roots| {
                if s as usize >= heap.structs().len() {
                    return Err(TrapKind::HostError);
                }
                heap.alloc_struct(s as usize, roots)
            })
        }
    })
}

/// Finish tail calls: called like a compiled function (the
/// [`NativeEntry`] signature, `ctx.call_depth` set by the caller) by a call
/// site whose callee returned [`TAIL_CALL_STATUS`], it calls function
/// `ctx.tail_func` on the same frame, compiling it first if needed, until
/// one returns another status, which it returns.
///
/// # Safety
/// Called only by compiled code (or the entry), with the context of a
/// running call and the frame of the function that asked for the tail call.
pub unsafe extern "C" fn tail_call_dispatch(
    ctx: *mut VmContext,
    ib: *mut i64,
    fb: *mut f64,
    rb: *mut u64,
) -> u32 {
    // SAFETY: by the caller's contract.
    let depth = unsafe { (*ctx).call_depth };
    loop {
        // SAFETY: as above; the function table has an entry per function
        // and `tail_func` was set by code of this module.
        let (func, code) = unsafe {
            let func = (*ctx).tail_func as usize;
            let entry = &*(*ctx).functions.add(func);
            (func, entry.code.load(Ordering::Acquire))
        };
        let code = if code != 0 {
            code
        } else {
            let addr = unsafe { compile(ctx, func as u64) };
            if addr == 0 {
                return TrapKind::OutOfMemory.code();
            }
            addr as usize
        };
        // SAFETY: `code` is compiled code of the native entry signature;
        // the frame's fit was checked by the tail call.
        let status = unsafe {
            (*ctx).call_depth = depth;
            let entry = std::mem::transmute::<usize, NativeEntry>(code);
            entry(ctx, ib, fb, rb)
        };
        if status != TAIL_CALL_STATUS {
            return status;
        }
    }
}

/// An indirect call site whose profile cell `cell` does not say "only
/// `func`" has called `func`: an unseen site now says so, any other becomes
/// polymorphic (see `runtime::call_profile`). Returns 0.
///
/// # Safety
/// Called only by template code, with the address of a live profile cell.
pub unsafe extern "C" fn record_call_target(_ctx: *mut VmContext, cell: u64, func: u64) -> u64 {
    // SAFETY: by the caller's contract.
    let cell = unsafe { &*(cell as *const AtomicU64) };
    let seen = func + 1;
    let _ = cell.compare_exchange(SITE_UNSEEN, seen, Ordering::Relaxed, Ordering::Relaxed);
    if cell.load(Ordering::Relaxed) != seen {
        cell.store(SITE_POLYMORPHIC, Ordering::Relaxed);
    }
    0
}

/// `array[idx] = value` where `array` is a byte-packed i64 array that
/// cannot hold `value` (outside `0..=255`): widen it in place, then store.
/// Compiled code has made the null, kind and bounds checks. Returns 0.
///
/// # Safety
/// Called only by compiled code, with the context of a running call, a live
/// byte-packed i64 array and an index in its bounds.
pub unsafe extern "C" fn widen_set_i64(
    ctx: *mut VmContext,
    array: u64,
    idx: u64,
    value: i64,
) -> u64 {
    guarded(ctx, |_| {
        // SAFETY: by the caller's contract; the checks it repeats pass.
        let stored = unsafe { set_i64(array, idx as i64, value) };
        debug_assert_eq!(stored, Ok(()));
        0
    })
}

/// Set `count` bytes from `addr` to `byte`: a loop storing one value into
/// a range of a byte-packed i64 array (see `cranelift_tier::packed_loop`).
/// Compiled code has checked that the range lies in the array and that the
/// value fits a byte. Returns 0.
///
/// # Safety
/// Called only by compiled code, with `count` writable bytes at `addr`.
pub unsafe extern "C" fn fill_bytes(
    _ctx: *mut VmContext,
    addr: *mut u8,
    byte: u64,
    count: u64,
) -> u64 {
    // SAFETY: by the caller's contract.
    unsafe { std::ptr::write_bytes(addr, byte as u8, count as usize) };
    0
}

/// The class of elements a bulk operation moves: arrays whose kinds have
/// one class may be copied into each other.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ElemClass {
    /// i64, either form.
    I64,
    /// f64, 8 bytes.
    F64,
    /// References, 8 bytes.
    Ref,
    /// Byte arrays and strings.
    Bytes,
}

/// The header of non-null object `r` and its element class (`None`: not an
/// array).
///
/// # Safety
/// `r` is a live object of an instance.
unsafe fn classify<'a>(r: u64) -> (&'a ArrayHeader, Option<ElemClass>) {
    // SAFETY: by the caller's contract.
    let h = unsafe { &*(r as *const ArrayHeader) };
    let class = match h.kind {
        k if k == ElemKind::I64 as u32 || k == I64_BYTES_KIND => Some(ElemClass::I64),
        k if k == ElemKind::F64 as u32 => Some(ElemClass::F64),
        k if k == ElemKind::Ref as u32 => Some(ElemClass::Ref),
        BYTES_KIND | STRING_KIND => Some(ElemClass::Bytes),
        _ => None,
    };
    (h, class)
}

/// Whether `start .. start + count` lies in `0..=len`: all three
/// non-negative, and the end (which fits `u64`, as both do `i64`) at most
/// `len`.
fn range_in(start: i64, count: i64, len: u64) -> bool {
    start >= 0 && count >= 0 && (start as u64) + (count as u64) <= len
}

/// The address of element 0 of array `r`.
fn data(r: u64) -> *mut u8 {
    (r as usize + ARRAY_DATA_OFFSET) as *mut u8
}

/// `copy`: copy `count` elements of array `src` from index `src_off` to
/// array `dst` from index `dst_off`, as `memmove` (overlapping ranges of
/// one array copy as if through a buffer). Checks, in order, before
/// anything is written: null (`dst`, then `src`), element kinds (one class:
/// i64 in either form, f64, references, or bytes, where a string is a
/// byte source), `dst` immutable (a string), then both ranges (each
/// offset and the count non-negative, the end within the length).
///
/// # Safety
/// `dst` and `src` are null or live objects of an instance.
#[inline(never)]
pub unsafe fn copy_array(
    dst: u64,
    src: u64,
    dst_off: i64,
    src_off: i64,
    count: i64,
) -> Result<(), TrapKind> {
    if dst == 0 || src == 0 {
        return Err(TrapKind::NullReference);
    }
    // SAFETY: by the caller's contract.
    let ((dh, dc), (sh, sc)) = unsafe { (classify(dst), classify(src)) };
    let Some(class) = dc.filter(|&c| Some(c) == sc) else {
        return Err(TrapKind::ElementKind);
    };
    if dh.kind == STRING_KIND {
        return Err(TrapKind::Immutable);
    }
    if !range_in(dst_off, count, dh.len) || !range_in(src_off, count, sh.len) {
        return Err(TrapKind::IndexOutOfBounds);
    }
    let (n, d, s) = (count as usize, dst_off as usize, src_off as usize);
    let (dp, sp) = (data(dst), data(src));
    // SAFETY: both ranges lie in their arrays (checked); `ptr::copy` is
    // `memmove`, right for overlapping ranges of one array.
    unsafe {
        match class {
            ElemClass::Bytes => std::ptr::copy(sp.add(s), dp.add(d), n),
            ElemClass::F64 | ElemClass::Ref => {
                std::ptr::copy((sp as *const u64).add(s), (dp as *mut u64).add(d), n)
            }
            ElemClass::I64 => {
                let (dst_packed, src_packed) =
                    (dh.kind == I64_BYTES_KIND, sh.kind == I64_BYTES_KIND);
                match (dst_packed, src_packed) {
                    (true, true) => std::ptr::copy(sp.add(s), dp.add(d), n),
                    (false, false) => {
                        std::ptr::copy((sp as *const i64).add(s), (dp as *mut i64).add(d), n)
                    }
                    // Different forms: different arrays, no overlap.
                    (false, true) => {
                        let from = std::slice::from_raw_parts(sp.add(s), n);
                        let to = std::slice::from_raw_parts_mut((dp as *mut i64).add(d), n);
                        for (t, &f) in to.iter_mut().zip(from) {
                            *t = i64::from(f);
                        }
                    }
                    (true, false) => {
                        let from = std::slice::from_raw_parts((sp as *const i64).add(s), n);
                        if from.iter().all(|v| (0..=I64_BYTES_MAX).contains(v)) {
                            let to = std::slice::from_raw_parts_mut(dp.add(d), n);
                            for (t, &f) in to.iter_mut().zip(from) {
                                *t = f as u8;
                            }
                        } else {
                            widen_i64_bytes(dst);
                            std::ptr::copy_nonoverlapping(
                                from.as_ptr(),
                                (dp as *mut i64).add(d),
                                n,
                            );
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// `filli`, `fillf`, `fillr`: store `value` (bits of an element of bank
/// `bank`) into the `count` elements of `array` from index `start`. An i64
/// value goes into an i64 array (a byte-packed one widens unless it fits a
/// byte) or, its low 8 bits, into a byte array; f64 and reference values
/// into arrays of their kind. Checks, in order, before anything is
/// written: null, kind, immutable (a string), range (as [`copy_array`]'s).
///
/// # Safety
/// `array` is null or a live object of an instance.
#[inline(never)]
pub unsafe fn fill_array(
    bank: Bank,
    array: u64,
    start: i64,
    count: i64,
    value: u64,
) -> Result<(), TrapKind> {
    if array == 0 {
        return Err(TrapKind::NullReference);
    }
    // SAFETY: by the caller's contract.
    let (h, class) = unsafe { classify(array) };
    let fits = matches!(
        (bank, class),
        (Bank::I, Some(ElemClass::I64 | ElemClass::Bytes))
            | (Bank::F, Some(ElemClass::F64))
            | (Bank::R, Some(ElemClass::Ref))
    );
    if !fits {
        return Err(TrapKind::ElementKind);
    }
    if h.kind == STRING_KIND {
        return Err(TrapKind::Immutable);
    }
    if !range_in(start, count, h.len) {
        return Err(TrapKind::IndexOutOfBounds);
    }
    let (n, s, p) = (count as usize, start as usize, data(array));
    let byte = h.kind == BYTES_KIND
        || (h.kind == I64_BYTES_KIND && (0..=I64_BYTES_MAX).contains(&(value as i64)));
    // SAFETY: the range lies in the array (checked).
    unsafe {
        if byte {
            std::ptr::write_bytes(p.add(s), value as u8, n);
        } else {
            if h.kind == I64_BYTES_KIND && n > 0 {
                widen_i64_bytes(array);
            }
            std::slice::from_raw_parts_mut((p as *mut u64).add(s), n).fill(value);
        }
    }
    Ok(())
}

/// [`copy_array`] for compiled code: `range` points to the op's three i64
/// registers (destination offset, source offset, count). Returns 0 or the
/// trap's code. It allocates nothing (never collects) and reads no store.
///
/// # Safety
/// Called only by compiled code, with live objects (or null) and `range`
/// valid for three reads.
pub unsafe extern "C" fn copy_elements(
    _ctx: *mut VmContext,
    dst: u64,
    src: u64,
    range: *const i64,
) -> u64 {
    // SAFETY: by the caller's contract.
    unsafe {
        let [d, s, n] = [*range, *range.add(1), *range.add(2)];
        match copy_array(dst, src, d, s, n) {
            Ok(()) => 0,
            Err(k) => k.code().into(),
        }
    }
}

/// [`fill_array`] for compiled code: `bank` is the value's bank index,
/// `range` points to the op's two i64 registers (start, count). Returns 0
/// or the trap's code. It allocates nothing and reads no store.
///
/// # Safety
/// Called only by compiled code, with a live object (or null) and `range`
/// valid for two reads.
pub unsafe extern "C" fn fill_elements(
    _ctx: *mut VmContext,
    bank: u64,
    array: u64,
    range: *const i64,
    value: u64,
) -> u64 {
    let bank = match bank {
        0 => Bank::I,
        1 => Bank::F,
        _ => Bank::R,
    };
    // SAFETY: by the caller's contract.
    unsafe {
        let [start, count] = [*range, *range.add(1)];
        match fill_array(bank, array, start, count, value) {
            Ok(()) => 0,
            Err(k) => k.code().into(),
        }
    }
}

/// `printb`: write the bytes of byte array or string `r` to the output.
/// Returns 0, or the trap's code for null or another kind.
///
/// # Safety
/// Called only by compiled code, with the context of a running call and a
/// live object (or null).
pub unsafe extern "C" fn print_bytes(ctx: *mut VmContext, r: u64) -> u64 {
    guarded(ctx, |st| {
        // SAFETY: by the caller's contract; the store outlives the call.
        match unsafe { bytes_of(r) } {
            Ok(bytes) => {
                let _ = unsafe { &mut *st.store }.out.write_all(bytes);
                0
            }
            Err(k) => k.code().into(),
        }
    })
}

/// Host call: `packed` is a [`HostCallSite`]; the three pointers are the
/// caller's frame bases.
///
/// # Safety
/// Called only by compiled code, with the context of a running call and
/// pointers into its frame.
pub unsafe extern "C" fn host_call(
    ctx: *mut VmContext,
    packed: u64,
    ib: *mut i64,
    fb: *mut f64,
    rb: *mut u64,
) -> u64 {
    guarded(ctx, |st| {
        let site = HostCallSite::unpack(packed);
        // SAFETY: the store outlives the call.
        let store = unsafe { &mut *st.store };
        let Some(hf) = store.hosts.get_mut(usize::from(site.import)) else {
            return TrapKind::HostError.code().into();
        };
        // SAFETY: `rb` is the caller's frame base in the reference stack,
        // and its `frame_refs` registers are the last live ones.
        let stack = unsafe {
            let r0 = store.stacks.r.as_ptr();
            let top = rb.add(site.frame_refs.into()) as *const u64;
            std::slice::from_raw_parts(r0, top.offset_from(r0) as usize)
        };
        let frame = HostFrame {
            window: site.window.into(),
            ib,
            fb,
            rb,
        };
        // SAFETY: the verifier bounds the window and the result register by
        // the caller's registers.
        match unsafe {
            run_host(
                hf,
                &mut store.heap,
                st.module,
                stack,
                &store.globals[2],
                &frame,
            )
        } {
            Ok(v) => {
                if site.result != NO_REG {
                    unsafe { store_result(&frame, site.result.into(), v) };
                }
                0
            }
            Err(t) => {
                st.detail = t.detail;
                t.kind.code().into()
            }
        }
    })
}

/// Print string constant `idx`.
///
/// # Safety
/// Called only by compiled code, with the context of a running call and
/// pointers into its frame.
pub unsafe extern "C" fn print_str(ctx: *mut VmContext, idx: u64) -> u64 {
    guarded(ctx, |st| {
        // SAFETY: the store outlives the call.
        let store = unsafe { &mut *st.store };
        if let Some(s) = st.module.strings.get(idx as usize) {
            let _ = store.out.write_all(s.as_bytes());
        }
        0
    })
}

/// Print an i64.
///
/// # Safety
/// Called only by compiled code, with the context of a running call and
/// pointers into its frame.
pub unsafe extern "C" fn print_i64(ctx: *mut VmContext, v: i64) -> u64 {
    guarded(ctx, |st| {
        // SAFETY: the store outlives the call.
        let _ = write_i64(&mut *unsafe { &mut *st.store }.out, v);
        0
    })
}

/// Print an f64 (given as bits) with `digits` after the point.
///
/// # Safety
/// Called only by compiled code, with the context of a running call and
/// pointers into its frame.
pub unsafe extern "C" fn print_f64(ctx: *mut VmContext, bits: u64, digits: u64) -> u64 {
    guarded(ctx, |st| {
        // SAFETY: the store outlives the call.
        let _ = write_f64(
            &mut *unsafe { &mut *st.store }.out,
            f64::from_bits(bits),
            digits as usize,
        );
        0
    })
}

/// Compile function `func` on its first call; returns its entry address,
/// or 0 when compilation failed (the caller traps).
///
/// # Safety
/// Called only by compiled code, with the context of a running call and
/// pointers into its frame.
pub unsafe extern "C" fn compile(ctx: *mut VmContext, func: u64) -> u64 {
    guarded(ctx, |st| match st.hooks.compile(func as usize) {
        Ok(addr) => addr as u64,
        Err(e) => {
            st.compile_error = Some(e);
            0
        }
    })
}

/// Template code with counters found `func` hot at its entry: returns the
/// address of a Cranelift version to run this call in (synchronous
/// tiering), or 0 to go on in template code.
///
/// # Safety
/// Called only by compiled code, with the context of a running call.
pub unsafe extern "C" fn hot_call(ctx: *mut VmContext, func: u64) -> u64 {
    // A panic means: no Cranelift code, go on in the template tier.
    guarded_or(ctx, 0, |st| st.hooks.hot_call(func as usize) as u64)
}

/// Template code with counters found a loop of `func` hot at the back-edge
/// to `header`: returns the address of Cranelift code to continue in at
/// that header (a version compiled for entry there), or 0 to go on in
/// template code.
///
/// # Safety
/// Called only by compiled code, with the context of a running call.
pub unsafe extern "C" fn hot_loop(ctx: *mut VmContext, func: u64, header: u64) -> u64 {
    guarded_or(ctx, 0, |st| {
        st.hooks.hot_loop(func as usize, header as u32) as u64
    })
}

use std::io::Write as _;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::heap::{Heap, StringTable, get_byte, get_i64};

    fn kind(r: u64) -> u32 {
        unsafe { (*(r as *const ArrayHeader)).kind }
    }

    #[test]
    fn a_trapping_copy_or_fill_writes_nothing() {
        let mut heap = Heap::new(1 << 20);
        let strings = StringTable::new(&["xyz"]);
        let (b, s) = (heap.alloc(ElemKind::Bytes, 4, &[]).unwrap(), strings.get(0));
        let (packed, wide) = (
            heap.alloc(ElemKind::I64, 4, &[]).unwrap(),
            heap.alloc(ElemKind::I64, 4, &[]).unwrap(),
        );
        unsafe {
            for k in 0..4 {
                set_i64(wide, k, 1000 + k).unwrap();
            }
            // The source fits, the destination does not: nothing copied,
            // and a packed destination stays packed (no widening).
            assert_eq!(
                copy_array(packed, wide, 1, 0, 4),
                Err(TrapKind::IndexOutOfBounds)
            );
            assert_eq!(kind(packed), I64_BYTES_KIND);
            assert_eq!(
                fill_array(Bank::I, packed, 2, 3, 1000),
                Err(TrapKind::IndexOutOfBounds)
            );
            assert_eq!(kind(packed), I64_BYTES_KIND);
            assert_eq!(fill_array(Bank::I, s, 0, 1, 65), Err(TrapKind::Immutable));
            assert_eq!(copy_array(s, b, 0, 0, 1), Err(TrapKind::Immutable));
            assert_eq!(get_byte(s, 0), Ok(i64::from(b'x')));
            assert_eq!(copy_array(b, s, 2, 0, 3), Err(TrapKind::IndexOutOfBounds));
            assert_eq!(copy_array(b, s, 0, 0, 3), Ok(()));
            assert_eq!(get_byte(b, 2), Ok(i64::from(b'z')));
            assert_eq!(get_byte(b, 3), Ok(0));
            // A wide source of large values widens a packed destination.
            assert_eq!(copy_array(packed, wide, 1, 2, 2), Ok(()));
            assert_eq!(kind(packed), ElemKind::I64 as u32);
            let got: Vec<_> = (0..4).map(|k| get_i64(packed, k).unwrap()).collect();
            assert_eq!(got, [0, 1002, 1003, 0]);
        }
    }
}
