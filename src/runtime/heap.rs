//! The heap of typed arrays, with a mark-sweep collector whose roots are the
//! reference register stack.
//!
//! A reference is the address of an [`ArrayHeader`] as a `u64`; null is 0.
//! Elements follow the header, 8 bytes each, except in a byte-packed i64
//! array (below). The offsets below are the one source of truth for every
//! engine that reads arrays.
//!
//! **Byte-packed i64 arrays.** An i64 array starts with one byte per element
//! (header kind [`I64_BYTES_KIND`]) and stays so while every value stored in
//! it lies in `0..=255`; the first store of any other value widens it in
//! place to 8 bytes per element ([`widen_i64_bytes`]) and its kind becomes
//! [`ElemKind::I64`]. Flag and small-counter arrays then take an eighth of
//! the memory and cache (sieve: 80 MB of i64 flags against C's 10 MB of
//! bytes), which is what element kinds do in V8. The allocation keeps room
//! for 8 bytes per element, so widening never moves the array; the pages of
//! that room are not touched until then. Every engine reads and writes both
//! forms; only the kind in the header, never the program, can tell them
//! apart.
//!
//! **Byte arrays and strings.** `newb` makes a byte array (kind
//! [`ElemKind::Bytes`]), one byte per element. A string constant is an
//! immutable byte string (kind [`STRING_KIND`]): one object per constant and
//! instance, made when the instance is ([`StringTable`]), never allocated by
//! the program, never freed by the collector (permanently marked, like the
//! `fref` table). Reads (`getb`, `len`, `printb`, a copy's source) take
//! both; writes (`setb`, `filli`, a copy's destination) trap with
//! `Immutable` on a string, so constants stay constant while every
//! instance shares one object per constant. To change a string, copy it
//! into a `newb` array.

use super::frame::FrameLayout;
use super::handles::HandleTable;
use super::structs::StructLayouts;
use super::trap::TrapKind;
use crate::bytecode::{Bank, Opcode};
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::panic::AssertUnwindSafe;
use std::ptr::NonNull;
use std::sync::Arc;

/// The element kind of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ElemKind {
    /// i64 elements (`newi`).
    I64 = 1,
    /// f64 elements (`newf`).
    F64 = 2,
    /// Reference elements (`newr`), traced by the collector.
    Ref = 3,
    /// Bytes (`newb`): one byte per element, values `0..=255`.
    Bytes = 6,
}

impl ElemKind {
    /// The kind of an array whose elements are of `bank`.
    pub fn of_bank(bank: Bank) -> ElemKind {
        match bank {
            Bank::I => ElemKind::I64,
            Bank::F => ElemKind::F64,
            Bank::R => ElemKind::Ref,
        }
    }

    /// The element kind an array op (`new*`, `get*`, `set*`) works on, and
    /// the bank its elements move through, from the op table
    /// ([`Opcode::element_bank`]); only called for array ops (any other op
    /// reads as a reference array).
    pub fn of_op(opcode: Opcode) -> (Bank, ElemKind) {
        let bank = opcode.element_bank().unwrap_or(Bank::R);
        (bank, ElemKind::of_bank(bank))
    }
}

/// The header in front of every array's elements.
#[repr(C)]
#[derive(Debug)]
pub struct ArrayHeader {
    /// An [`ElemKind`] as `u32`.
    pub kind: u32,
    /// Mark bit of the collector.
    pub marked: u32,
    /// Number of elements.
    pub len: u64,
}

/// The header kind of a byte-packed i64 array (see the module docs): not an
/// [`ElemKind`], since the ops see an i64 array.
pub const I64_BYTES_KIND: u32 = 4;

/// The header kind of a function reference ([`FuncRefObject`]): not an
/// array, so element ops trap on it with `ElementKind` and `len` reads 0.
pub const FUNC_REF_KIND: u32 = 5;

/// The header kind of a byte array ([`ElemKind::Bytes`]).
pub const BYTES_KIND: u32 = ElemKind::Bytes as u32;

/// The header kind of an immutable byte string (a string constant's
/// object, see [`StringTable`]): read like a byte array, never written.
pub const STRING_KIND: u32 = 7;

/// Whether an object of header kind `kind` is a byte array or a string:
/// what byte reads accept.
#[inline(always)]
pub const fn is_byte_kind(kind: u32) -> bool {
    kind == BYTES_KIND || kind == STRING_KIND
}

/// A function reference: what `fref` and `closure` make and `calli` and
/// `tcalli` call through. Immutable once made. `fref`'s are one per function
/// and instance (a table the store owns, permanently marked so that the
/// collector never writes them); `closure`'s are heap objects whose
/// environment the collector traces.
#[repr(C)]
#[derive(Debug)]
pub struct FuncRefObject {
    /// `kind` [`FUNC_REF_KIND`], `len` 0.
    pub header: ArrayHeader,
    /// The environment reference (null for `fref`): passed to the callee in
    /// its `r` register after the call's `r` arguments.
    pub env: u64,
    /// The function's index.
    pub func: u32,
    /// The reference's type: an index into the module's type table, or
    /// `NO_TYPE`.
    pub type_id: u32,
    /// Bytes per bank an indirect call must find free on the register
    /// stacks above the caller's frame (`FrameLayout::indirect_regs`, in
    /// bytes).
    pub frame_bytes: [u32; 3],
    /// The type of a closure of `func` (what `closure` gives its closures).
    pub closure_type: u32,
}

impl FuncRefObject {
    /// A function reference to a function of layout `layout`, of type
    /// `type_id` (`layout.ref_type` or `layout.closure_type`), with
    /// environment `env`; `marked` set for the store's permanent table.
    pub fn new(
        func: u32,
        layout: &FrameLayout,
        type_id: u32,
        env: u64,
        marked: bool,
    ) -> FuncRefObject {
        FuncRefObject {
            header: ArrayHeader {
                kind: FUNC_REF_KIND,
                marked: u32::from(marked),
                len: 0,
            },
            env,
            func,
            type_id,
            frame_bytes: layout
                .indirect_regs()
                .map(|n| n.saturating_mul(ELEM_SIZE as u32)),
            closure_type: layout.closure_type,
        }
    }
}

/// Offset of [`FuncRefObject::env`].
pub const FUNC_REF_ENV_OFFSET: usize = std::mem::offset_of!(FuncRefObject, env);
/// Offset of [`FuncRefObject::func`].
pub const FUNC_REF_FUNC_OFFSET: usize = std::mem::offset_of!(FuncRefObject, func);
/// Offset of [`FuncRefObject::type_id`].
pub const FUNC_REF_TYPE_OFFSET: usize = std::mem::offset_of!(FuncRefObject, type_id);
/// Offset of bank `bank`'s entry of [`FuncRefObject::frame_bytes`].
pub const fn func_ref_frame_offset(bank: usize) -> usize {
    std::mem::offset_of!(FuncRefObject, frame_bytes) + 4 * bank
}
/// Size of a [`FuncRefObject`] (the stride of the store's table).
pub const FUNC_REF_SIZE: usize = std::mem::size_of::<FuncRefObject>();

/// The checks of an indirect call through `r` expecting type `type_id`:
/// the function reference, or the trap.
///
/// # Safety
/// `r` must be null or a live object of an instance (heap or table).
#[inline(always)]
pub unsafe fn func_ref<'a>(r: u64, type_id: u32) -> Result<&'a FuncRefObject, TrapKind> {
    if r == 0 {
        return Err(TrapKind::NullReference);
    }
    // SAFETY: by the caller's contract; the kind is read first, so a
    // shorter array is never read past its header.
    unsafe {
        if (*(r as *const ArrayHeader)).kind != FUNC_REF_KIND {
            return Err(TrapKind::SignatureMismatch);
        }
        let f = &*(r as *const FuncRefObject);
        if f.type_id != type_id {
            return Err(TrapKind::SignatureMismatch);
        }
        Ok(f)
    }
}

/// The largest value a byte-packed i64 array stores without widening.
pub const I64_BYTES_MAX: i64 = u8::MAX as i64;

/// An object no reference is (kind 0, length 0, every field 0), standing
/// in for null where compiled code reads an object speculatively: the
/// Cranelift tier loads an array's `kind` and `len`, and a function
/// reference's fields, through `if r == 0 { &NULL_ARRAY_HEADER } else { r
/// }`, so those loads never fault (and may be hoisted out of loops). It is
/// as large as a function reference, as is every heap object
/// ([`MIN_OBJECT_SIZE`]), so a function reference's fields can be read from
/// any reference, null included, before its kind is known.
pub static NULL_ARRAY_HEADER: FuncRefObject = FuncRefObject {
    header: ArrayHeader {
        kind: 0,
        marked: 0,
        len: 0,
    },
    env: 0,
    func: 0,
    type_id: 0,
    frame_bytes: [0; 3],
    closure_type: 0,
};

/// The bytes readable from the start of any object: a function
/// reference's size, so that its fields can be read speculatively from any
/// reference (see [`NULL_ARRAY_HEADER`]). Objects smaller than this (small
/// arrays and structs) come from the pools, whose slabs end in this many
/// bytes of padding, so such a read stays in mapped memory; function
/// references and host objects take this much themselves.
pub const MIN_OBJECT_SIZE: usize = FUNC_REF_SIZE;

/// Offset of [`ArrayHeader::kind`].
pub const ARRAY_KIND_OFFSET: usize = std::mem::offset_of!(ArrayHeader, kind);
/// Offset of [`ArrayHeader::len`].
pub const ARRAY_LEN_OFFSET: usize = std::mem::offset_of!(ArrayHeader, len);
/// Offset of element 0.
pub const ARRAY_DATA_OFFSET: usize = std::mem::size_of::<ArrayHeader>();
/// Bytes per element, every kind (a byte-packed i64 array reserves as
/// much).
pub const ELEM_SIZE: usize = 8;

/// The largest length an array can have: its size must fit `isize`.
pub const MAX_ARRAY_LEN: u64 = ((isize::MAX as usize - ARRAY_DATA_OFFSET) / ELEM_SIZE) as u64;

/// The largest length a byte array or string can have: its size, rounded
/// up to 8 bytes, must fit `isize`.
pub const MAX_BYTES_LEN: u64 = (isize::MAX as usize - ARRAY_DATA_OFFSET - 7) as u64;

/// The size of a byte array or string of `len` bytes (at most
/// [`MAX_BYTES_LEN`]): the header and the bytes rounded up to 8.
pub const fn bytes_object_size(len: usize) -> usize {
    (ARRAY_DATA_OFFSET + len + 7) & !7
}

/// The smallest heap size at which the collector first runs.
const MIN_GC_THRESHOLD: usize = 1 << 20;

/// The header kind of a host object ([`HostObject`]): opaque to the
/// program (element and field ops trap on it, `len` reads 0).
pub const HOST_OBJECT_KIND: u32 = 8;

/// A value of the embedder's that the program holds by reference but never
/// reads into (like wasm's `externref`): a map, a file, a regex. The
/// collector drops it when no reference reaches it, running its finalizer.
#[repr(C)]
pub struct HostObject {
    /// `kind` [`HOST_OBJECT_KIND`], `len` 0.
    pub header: ArrayHeader,
    /// The value and its finalizer, owned by the object.
    pub payload: *mut HostPayload,
}

/// A host object's finalizer: gets the value when the object is freed.
pub type Finalizer = Box<dyn FnOnce(Box<dyn std::any::Any + Send>) + Send>;

/// What a [`HostObject`] owns.
pub struct HostPayload {
    /// The embedder's value.
    pub value: Box<dyn std::any::Any + Send>,
    /// Called with the value when the collector frees the object (or the
    /// instance is dropped); without one the value is just dropped.
    pub finalizer: Option<Finalizer>,
}

impl HostPayload {
    /// Run the finalizer (or drop the value); a panic in it is contained.
    fn finalize(self) {
        let HostPayload { value, finalizer } = self;
        let _ = std::panic::catch_unwind(AssertUnwindSafe(move || match finalizer {
            Some(f) => f(value),
            None => drop(value),
        }));
    }
}

/// Objects of at most this many bytes come from the size-class pools.
const POOL_MAX_SIZE: usize = 256;
/// Bytes a pool takes from the system at a time.
const SLAB_SIZE: usize = 256 << 10;

/// Size-class pools for small objects (every size is a multiple of 8):
/// slabs carved in order, with no per-object header (a list node takes its
/// 48 bytes, not malloc's 64), and the objects the collector frees kept
/// per class for reuse. Slabs go back to the system when the heap drops.
#[derive(Default)]
struct Pools {
    /// Per size class (size / 8): freed objects, reused first.
    free: Vec<Vec<NonNull<u8>>>,
    /// Per size class: the rest of its current slab, `(next, end)`.
    carve: Vec<(usize, usize)>,
    slabs: Vec<NonNull<u8>>,
}

impl Pools {
    /// A slab: `SLAB_SIZE` bytes of objects and [`MIN_OBJECT_SIZE`] of
    /// padding, which a speculative read from its last object may reach.
    fn slab_layout() -> Layout {
        // A constant size and alignment: always valid.
        Layout::from_size_align(SLAB_SIZE + MIN_OBJECT_SIZE, 16).unwrap_or(Layout::new::<u128>())
    }

    /// A zeroed object of `size` bytes (a multiple of 8, at most
    /// [`POOL_MAX_SIZE`]).
    fn alloc(&mut self, size: usize) -> Option<NonNull<u8>> {
        let class = size / 8;
        if self.free.len() <= class {
            self.free.resize_with(POOL_MAX_SIZE / 8 + 1, Vec::new);
            self.carve.resize(POOL_MAX_SIZE / 8 + 1, (0, 0));
        }
        if let Some(p) = self.free[class].pop() {
            // SAFETY: a freed object of this class: `size` bytes, ours.
            unsafe { std::ptr::write_bytes(p.as_ptr(), 0, size) };
            return Some(p);
        }
        let (next, end) = self.carve[class];
        if end - next < size {
            // SAFETY: a non-zero size. Fresh memory is zero.
            let slab = NonNull::new(unsafe { alloc_zeroed(Self::slab_layout()) })?;
            self.slabs.push(slab);
            let start = slab.as_ptr() as usize;
            self.carve[class] = (start, start + SLAB_SIZE);
        }
        let (next, end) = self.carve[class];
        self.carve[class] = (next + size, end);
        NonNull::new(next as *mut u8)
    }

    /// Take back object `p` of `size` bytes.
    fn free(&mut self, p: NonNull<u8>, size: usize) {
        self.free[size / 8].push(p);
    }
}

/// Whether objects of `size` bytes come from the pools.
fn pooled(size: usize) -> bool {
    size <= POOL_MAX_SIZE && size.is_multiple_of(8)
}

impl Drop for Pools {
    fn drop(&mut self) {
        for slab in self.slabs.drain(..) {
            // SAFETY: allocated by `alloc` with this layout.
            unsafe { dealloc(slab.as_ptr(), Self::slab_layout()) };
        }
    }
}

/// Every object of an instance.
pub struct Heap {
    objects: Vec<NonNull<ArrayHeader>>,
    /// The embedder's and host functions' handles: roots of every
    /// collection.
    pub handles: HandleTable,
    /// Where objects up to [`POOL_MAX_SIZE`] bytes come from.
    pools: Pools,
    /// Bytes allocated and not yet freed.
    bytes: usize,
    /// The most `bytes` ever was.
    peak_bytes: usize,
    /// Allocation fails with a trap past this many bytes.
    limit: usize,
    /// Collect when `bytes` would pass this.
    next_gc: usize,
    /// Collections run so far.
    collections: u64,
    /// The most bytes a collection ever left: the largest live data seen.
    max_live: usize,
    /// The module's struct types: sizes and reference slots by kind.
    structs: Arc<StructLayouts>,
}

// SAFETY: the heap owns its objects exclusively; nothing else aliases them
// outside calls that borrow the instance mutably.
unsafe impl Send for Heap {}

/// The allocation of an array of `len` elements: 8 bytes each (also for
/// byte-packed i64 arrays, which keep room to widen), or one for a byte
/// array.
fn layout_for(bytes: bool, len: u64) -> Option<Layout> {
    let size = if bytes {
        if len > MAX_BYTES_LEN {
            return None;
        }
        bytes_object_size(len as usize)
    } else {
        if len > MAX_ARRAY_LEN {
            return None;
        }
        ARRAY_DATA_OFFSET + len as usize * ELEM_SIZE
    };
    Layout::from_size_align(size, 8).ok()
}

impl Heap {
    /// An empty heap that holds at most `limit` bytes, for a module
    /// without struct types.
    pub fn new(limit: usize) -> Heap {
        Heap::with_structs(limit, Arc::default())
    }

    /// An empty heap that holds at most `limit` bytes, for a module whose
    /// struct types are `structs`.
    pub fn with_structs(limit: usize, structs: Arc<StructLayouts>) -> Heap {
        Heap {
            objects: Vec::new(),
            handles: HandleTable::new(),
            pools: Pools::default(),
            bytes: 0,
            peak_bytes: 0,
            limit,
            next_gc: MIN_GC_THRESHOLD,
            collections: 0,
            max_live: 0,
            structs,
        }
    }

    /// The struct types of the module whose objects it holds.
    pub fn structs(&self) -> &Arc<StructLayouts> {
        &self.structs
    }

    /// The allocation of a heap object: a function reference, a struct or
    /// an array.
    ///
    /// # Safety
    /// `h` is a live object of this heap.
    unsafe fn object_layout(&self, h: *const ArrayHeader) -> Option<Layout> {
        // SAFETY: by the caller's contract.
        let (kind, len) = unsafe { ((*h).kind, (*h).len) };
        if kind == FUNC_REF_KIND || kind == HOST_OBJECT_KIND {
            return Layout::from_size_align(MIN_OBJECT_SIZE, 8).ok();
        }
        if let Some(size) = self.structs.size_of_kind(kind) {
            return Layout::from_size_align(size, 8).ok();
        }
        layout_for(kind == BYTES_KIND, len)
    }

    /// Zeroed memory for an object of `layout`: from a pool when small.
    fn raw_alloc(&mut self, layout: Layout) -> Result<NonNull<u8>, TrapKind> {
        let p = if pooled(layout.size()) {
            self.pools.alloc(layout.size())
        } else {
            // SAFETY: every object has a non-zero size (its header).
            NonNull::new(unsafe { alloc_zeroed(layout) })
        };
        p.ok_or(TrapKind::OutOfMemory)
    }

    /// Give back the memory of an object of `layout`.
    ///
    /// # Safety
    /// `p` came from [`Heap::raw_alloc`] with `layout` and is dead.
    unsafe fn raw_free(&mut self, p: NonNull<u8>, layout: Layout) {
        if pooled(layout.size()) {
            self.pools.free(p, layout.size());
        } else {
            // SAFETY: by the caller's contract.
            unsafe { dealloc(p.as_ptr(), layout) };
        }
    }

    /// Allocate a struct of type `s` (an index of the module's structs),
    /// every field 0, 0.0 or null. `roots` as for [`Heap::alloc`].
    pub fn alloc_struct(&mut self, s: usize, roots: &[&[u64]]) -> Result<u64, TrapKind> {
        let ty = self.structs.ty(s);
        let size = super::structs::object_size(ty.slots);
        let layout = Layout::from_size_align(size, 8).map_err(|_| TrapKind::OutOfMemory)?;
        self.make_room(size, roots)?;
        let ptr = self.raw_alloc(layout)?.cast::<ArrayHeader>();
        // SAFETY: freshly allocated, properly sized and aligned; `len`
        // stays 0.
        unsafe { (*ptr.as_ptr()).kind = ty.kind };
        self.objects.push(ptr);
        self.bytes += size;
        Ok(ptr.as_ptr() as u64)
    }

    /// Bytes currently allocated.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The most bytes the heap ever held (live data and garbage not yet
    /// collected).
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }

    /// Live-or-unreclaimed object count.
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// Collections run so far.
    pub fn collections(&self) -> u64 {
        self.collections
    }

    /// The most bytes a collection ever left (the largest live data a
    /// collection found).
    pub fn max_live_bytes(&self) -> usize {
        self.max_live
    }

    /// Allocate a zero-filled array (0, 0.0 or null) of `len` elements.
    /// `roots` are every reference the program can still reach (the live
    /// part of the reference stack, the reference globals): when the heap
    /// is full it is collected first.
    pub fn alloc(&mut self, kind: ElemKind, len: i64, roots: &[&[u64]]) -> Result<u64, TrapKind> {
        if len < 0 {
            return Err(TrapKind::NegativeLength);
        }
        let layout =
            layout_for(kind == ElemKind::Bytes, len as u64).ok_or(TrapKind::OutOfMemory)?;
        let size = layout.size();
        self.make_room(size, roots)?;
        let ptr = self.raw_alloc(layout)?.cast::<ArrayHeader>();
        let header_kind = match kind {
            ElemKind::I64 => I64_BYTES_KIND,
            k => k as u32,
        };
        // SAFETY: freshly allocated, properly sized and aligned.
        unsafe {
            (*ptr.as_ptr()).kind = header_kind;
            (*ptr.as_ptr()).len = len as u64;
        }
        self.objects.push(ptr);
        self.bytes += size;
        Ok(ptr.as_ptr() as u64)
    }

    /// Allocate a closure over `env` of the function `proto` (its entry in
    /// the store's `fref` table) refers to: `proto` with its environment,
    /// of type `proto.closure_type`. `roots` as for [`Heap::alloc`] (which
    /// must include `env`).
    pub fn alloc_closure(
        &mut self,
        proto: &FuncRefObject,
        env: u64,
        roots: &[&[u64]],
    ) -> Result<u64, TrapKind> {
        let layout =
            Layout::from_size_align(FUNC_REF_SIZE, 8).map_err(|_| TrapKind::OutOfMemory)?;
        self.make_room(layout.size(), roots)?;
        let ptr = self.raw_alloc(layout)?.cast::<FuncRefObject>();
        // SAFETY: freshly allocated, properly sized and aligned.
        unsafe {
            ptr.as_ptr().write(FuncRefObject {
                header: ArrayHeader {
                    kind: FUNC_REF_KIND,
                    marked: 0,
                    len: 0,
                },
                env,
                type_id: proto.closure_type,
                ..*proto
            })
        };
        self.objects.push(ptr.cast());
        self.bytes += layout.size();
        Ok(ptr.as_ptr() as u64)
    }

    /// Allocate a host object owning `payload`. `roots` as for
    /// [`Heap::alloc`].
    pub fn alloc_host(&mut self, payload: HostPayload, roots: &[&[u64]]) -> Result<u64, TrapKind> {
        let layout =
            Layout::from_size_align(MIN_OBJECT_SIZE, 8).map_err(|_| TrapKind::OutOfMemory)?;
        self.make_room(layout.size(), roots)?;
        let ptr = self.raw_alloc(layout)?.cast::<HostObject>();
        // SAFETY: freshly allocated, large enough and aligned.
        unsafe {
            ptr.as_ptr().write(HostObject {
                header: ArrayHeader {
                    kind: HOST_OBJECT_KIND,
                    marked: 0,
                    len: 0,
                },
                payload: Box::into_raw(Box::new(payload)),
            })
        };
        self.objects.push(ptr.cast());
        self.bytes += layout.size();
        Ok(ptr.as_ptr() as u64)
    }

    /// Collect first if allocating `size` bytes would pass the next
    /// collection's threshold; the trap when it would pass the limit.
    fn make_room(&mut self, size: usize, roots: &[&[u64]]) -> Result<(), TrapKind> {
        if self.bytes.saturating_add(size) > self.next_gc
            || self.bytes.saturating_add(size) > self.limit
        {
            self.collect(roots);
            self.next_gc = (self.bytes.saturating_add(size))
                .saturating_mul(2)
                .max(MIN_GC_THRESHOLD);
        }
        if self.bytes.saturating_add(size) > self.limit {
            return Err(TrapKind::OutOfMemory);
        }
        self.peak_bytes = self.peak_bytes.max(self.bytes + size);
        Ok(())
    }

    /// Mark from `roots` and the live handles, and free everything
    /// unmarked.
    pub fn collect(&mut self, roots: &[&[u64]]) {
        self.collections += 1;
        let mut stack: Vec<u64> = roots
            .iter()
            .copied()
            .chain([self.handles.roots()])
            .flat_map(|r| r.iter().copied())
            .filter(|&r| r != 0)
            .collect();
        while let Some(r) = stack.pop() {
            let h = r as *mut ArrayHeader;
            // SAFETY: every non-null reference reachable from the roots is a
            // live object of this heap (the verifier and the engines only
            // ever store null or results of `alloc` in the ref bank).
            unsafe {
                if (*h).marked != 0 {
                    continue;
                }
                (*h).marked = 1;
                let kind = (*h).kind;
                if kind == FUNC_REF_KIND {
                    let env = (*(h as *const FuncRefObject)).env;
                    if env != 0 {
                        stack.push(env);
                    }
                } else if kind >= super::structs::STRUCT_KIND_BASE {
                    // Exactly the reference slots: the others hold bits.
                    for &slot in self.structs.ref_slots_of_kind(kind) {
                        let e = *((h as *const u8).add(super::structs::struct_slot_offset(slot))
                            as *const u64);
                        if e != 0 {
                            stack.push(e);
                        }
                    }
                } else if (*h).kind == ElemKind::Ref as u32 {
                    let data = (h as *const u8).add(ARRAY_DATA_OFFSET) as *const u64;
                    for i in 0..(*h).len as usize {
                        let e = *data.add(i);
                        if e != 0 {
                            stack.push(e);
                        }
                    }
                }
            }
        }
        let mut freed = 0usize;
        let mut finalize = Vec::new();
        let mut objects = std::mem::take(&mut self.objects);
        objects.retain(|&p| {
            // SAFETY: p is an object of this heap.
            unsafe {
                let h = p.as_ptr();
                if (*h).marked != 0 {
                    (*h).marked = 0;
                    true
                } else {
                    let layout = self
                        .object_layout(h)
                        .expect("allocated with a valid layout");
                    if (*h).kind == HOST_OBJECT_KIND {
                        finalize.push(Box::from_raw((*(h as *mut HostObject)).payload));
                    }
                    freed += layout.size();
                    self.raw_free(p.cast(), layout);
                    false
                }
            }
        });
        self.objects = objects;
        self.bytes -= freed;
        self.max_live = self.max_live.max(self.bytes);
        // After the sweep: a finalizer sees a consistent heap.
        for payload in finalize {
            payload.finalize();
        }
    }

    /// Free every object, handles or not (the instance is going away).
    pub fn clear(&mut self) {
        self.handles = HandleTable::new();
        self.collect(&[]);
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Checked access to an array for slow paths and the interpreter: the
/// array's header, or the trap that the access raises. A byte-packed i64
/// array is an i64 array here.
///
/// # Safety
/// `r` must be null or a live object of an instance's heap.
#[inline(always)]
pub unsafe fn array_header<'a>(r: u64, kind: ElemKind) -> Result<&'a ArrayHeader, TrapKind> {
    if r == 0 {
        return Err(TrapKind::NullReference);
    }
    // SAFETY: by the caller's contract.
    let h = unsafe { &*(r as *const ArrayHeader) };
    if h.kind != kind as u32 && !(kind == ElemKind::I64 && h.kind == I64_BYTES_KIND) {
        return Err(TrapKind::ElementKind);
    }
    Ok(h)
}

/// The address of element `idx` of array `r`, an f64 or reference array,
/// after the null, kind and bounds checks every engine makes. i64 arrays
/// go through [`get_i64`] and [`set_i64`].
///
/// # Safety
/// `r` must be null or a live object of an instance's heap.
#[inline(always)]
pub unsafe fn element_ptr(r: u64, kind: ElemKind, idx: i64) -> Result<*mut u64, TrapKind> {
    debug_assert!(kind != ElemKind::I64, "i64 arrays may be byte-packed");
    // SAFETY: by the caller's contract.
    let h = unsafe { array_header(r, kind)? };
    if (idx as u64) >= h.len {
        return Err(TrapKind::IndexOutOfBounds);
    }
    Ok((r as usize + ARRAY_DATA_OFFSET + idx as usize * ELEM_SIZE) as *mut u64)
}

/// The i64 array `r` checked for an access at `idx`: whether it is
/// byte-packed.
///
/// # Safety
/// `r` must be null or a live object of an instance's heap.
#[inline(always)]
unsafe fn i64_access(r: u64, idx: i64) -> Result<bool, TrapKind> {
    // SAFETY: by the caller's contract.
    let h = unsafe { array_header(r, ElemKind::I64)? };
    if (idx as u64) >= h.len {
        return Err(TrapKind::IndexOutOfBounds);
    }
    Ok(h.kind == I64_BYTES_KIND)
}

/// Element `idx` of i64 array `r`, either form, after the null, kind and
/// bounds checks.
///
/// # Safety
/// `r` must be null or a live object of an instance's heap.
#[inline(always)]
pub unsafe fn get_i64(r: u64, idx: i64) -> Result<i64, TrapKind> {
    // SAFETY: by the caller's contract; the index is in bounds.
    unsafe {
        let packed = i64_access(r, idx)?;
        let data = (r as usize + ARRAY_DATA_OFFSET) as *const u8;
        Ok(if packed {
            i64::from(*data.add(idx as usize))
        } else {
            *(data as *const i64).add(idx as usize)
        })
    }
}

/// Store `value` at element `idx` of i64 array `r`, either form (widening
/// a byte-packed array that cannot hold it), after the null, kind and
/// bounds checks.
///
/// # Safety
/// `r` must be null or a live object of an instance's heap.
#[inline(always)]
pub unsafe fn set_i64(r: u64, idx: i64, value: i64) -> Result<(), TrapKind> {
    // SAFETY: by the caller's contract; the index is in bounds.
    unsafe {
        let packed = i64_access(r, idx)?;
        let data = (r as usize + ARRAY_DATA_OFFSET) as *mut u8;
        if packed && (0..=I64_BYTES_MAX).contains(&value) {
            *data.add(idx as usize) = value as u8;
        } else {
            if packed {
                widen_i64_bytes(r);
            }
            *(data as *mut i64).add(idx as usize) = value;
        }
    }
    Ok(())
}

/// Widen byte-packed i64 array `r` in place to 8 bytes per element. It
/// goes from the last element down, so writing element `i` at `8 * i`
/// never overwrites a byte not yet read: those are the bytes `0..i`.
///
/// # Safety
/// `r` must be a live byte-packed i64 array of an instance's heap.
// Out of line: inlined into the interpreter, its loop changed the register
// allocation of the dispatch loop (mandelbrot, which has no arrays, 2.2 ->
// 3.5 s). The interpreter is that sensitive to its code's layout: variants
// of this function moved unrelated programs by -3% to +15%.
#[cold]
#[inline(never)]
pub unsafe fn widen_i64_bytes(r: u64) {
    // SAFETY: by the caller's contract the allocation holds `len` 8-byte
    // elements after the header.
    unsafe {
        let h = r as *mut ArrayHeader;
        let data = (r as usize + ARRAY_DATA_OFFSET) as *mut u8;
        for i in (0..(*h).len as usize).rev() {
            let v = *data.add(i);
            *(data as *mut i64).add(i) = i64::from(v);
        }
        (*h).kind = ElemKind::I64 as u32;
    }
}

/// The length of array `r` (any kind).
///
/// # Safety
/// `r` must be null or a live object of an instance's heap.
#[inline(always)]
pub unsafe fn array_len(r: u64) -> Result<i64, TrapKind> {
    if r == 0 {
        return Err(TrapKind::NullReference);
    }
    // SAFETY: by the caller's contract.
    Ok(unsafe { (*(r as *const ArrayHeader)).len } as i64)
}

/// Checked access to byte array or string `r` for a read (`getb`,
/// `printb`, a copy's source): its header, or the trap.
///
/// # Safety
/// `r` must be null or a live object of an instance.
#[inline(always)]
pub unsafe fn bytes_header<'a>(r: u64) -> Result<&'a ArrayHeader, TrapKind> {
    if r == 0 {
        return Err(TrapKind::NullReference);
    }
    // SAFETY: by the caller's contract.
    let h = unsafe { &*(r as *const ArrayHeader) };
    if !is_byte_kind(h.kind) {
        return Err(TrapKind::ElementKind);
    }
    Ok(h)
}

/// Checked access to byte array `r` for a write (`setb`, `filli`, a copy's
/// destination): its header, or the trap (`Immutable` for a string).
///
/// # Safety
/// `r` must be null or a live object of an instance.
#[inline(always)]
pub unsafe fn bytes_header_mut<'a>(r: u64) -> Result<&'a ArrayHeader, TrapKind> {
    // SAFETY: by the caller's contract.
    let h = unsafe { bytes_header(r)? };
    if h.kind == STRING_KIND {
        return Err(TrapKind::Immutable);
    }
    Ok(h)
}

/// The bytes of byte array or string `r`, after the null and kind checks.
///
/// # Safety
/// `r` must be null or a live object of an instance; the slice must not
/// outlive it nor overlap a write to it.
pub unsafe fn bytes_of<'a>(r: u64) -> Result<&'a [u8], TrapKind> {
    // SAFETY: by the caller's contract; the object holds `len` bytes.
    unsafe {
        let h = bytes_header(r)?;
        let data = (r as usize + ARRAY_DATA_OFFSET) as *const u8;
        Ok(std::slice::from_raw_parts(data, h.len as usize))
    }
}

/// Byte `idx` of byte array or string `r`, zero-extended, after the null,
/// kind and bounds checks (`getb`).
///
/// # Safety
/// `r` must be null or a live object of an instance.
#[inline(always)]
pub unsafe fn get_byte(r: u64, idx: i64) -> Result<i64, TrapKind> {
    // SAFETY: by the caller's contract; the index is in bounds.
    unsafe {
        let h = bytes_header(r)?;
        if (idx as u64) >= h.len {
            return Err(TrapKind::IndexOutOfBounds);
        }
        Ok(i64::from(
            *((r as usize + ARRAY_DATA_OFFSET) as *const u8).add(idx as usize),
        ))
    }
}

/// Store the low 8 bits of `value` at byte `idx` of byte array `r`, after
/// the null, kind (a string is immutable) and bounds checks (`setb`).
///
/// # Safety
/// `r` must be null or a live object of an instance.
#[inline(always)]
pub unsafe fn set_byte(r: u64, idx: i64, value: i64) -> Result<(), TrapKind> {
    // SAFETY: by the caller's contract; the index is in bounds.
    unsafe {
        let h = bytes_header_mut(r)?;
        if (idx as u64) >= h.len {
            return Err(TrapKind::IndexOutOfBounds);
        }
        *((r as usize + ARRAY_DATA_OFFSET) as *mut u8).add(idx as usize) = value as u8;
    }
    Ok(())
}

/// The immutable byte strings of an instance's string constants, one
/// object each (kind [`STRING_KIND`], permanently marked so that the
/// collector neither frees nor writes them), and the table of their
/// references that `sconst` reads (through `VmContext::strings` in
/// compiled code).
pub struct StringTable {
    /// The objects' memory, 8-byte words; never moved while the table
    /// lives.
    objects: Box<[Box<[u64]>]>,
    /// Reference `i` is string constant `i`'s object.
    refs: Box<[u64]>,
}

impl StringTable {
    /// The objects of these string constants.
    pub fn new<S: AsRef<[u8]>>(strings: &[S]) -> StringTable {
        let objects: Box<[Box<[u64]>]> = strings
            .iter()
            .map(|s| {
                let bytes = s.as_ref();
                // Readable to `MIN_OBJECT_SIZE` like every object: these
                // are not in a padded pool slab.
                let words = bytes_object_size(bytes.len()).max(MIN_OBJECT_SIZE) / 8;
                let mut object = vec![0u64; words].into_boxed_slice();
                let p = object.as_mut_ptr();
                // SAFETY: the words hold the header and the bytes.
                unsafe {
                    p.cast::<ArrayHeader>().write(ArrayHeader {
                        kind: STRING_KIND,
                        marked: 1,
                        len: bytes.len() as u64,
                    });
                    std::ptr::copy_nonoverlapping(
                        bytes.as_ptr(),
                        p.cast::<u8>().add(ARRAY_DATA_OFFSET),
                        bytes.len(),
                    );
                }
                object
            })
            .collect();
        let refs = objects.iter().map(|o| o.as_ptr() as u64).collect();
        StringTable { objects, refs }
    }

    /// The reference to string constant `index`'s object (`sconst`).
    pub fn get(&self, index: usize) -> u64 {
        self.refs[index]
    }

    /// The table of references, for compiled code.
    pub fn refs(&self) -> *const u64 {
        self.refs.as_ptr()
    }

    /// How many strings it holds.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether it holds no string.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_access_and_collect() {
        let mut heap = Heap::new(1 << 30);
        let a = heap.alloc(ElemKind::I64, 10, &[]).unwrap();
        let b = heap.alloc(ElemKind::Ref, 2, &[]).unwrap();
        unsafe {
            *element_ptr(b, ElemKind::Ref, 1).unwrap() = a;
            assert_eq!(get_i64(a, 10), Err(TrapKind::IndexOutOfBounds));
            assert_eq!(get_i64(a, -1), Err(TrapKind::IndexOutOfBounds));
            assert_eq!(element_ptr(a, ElemKind::F64, 0), Err(TrapKind::ElementKind));
            assert_eq!(
                element_ptr(0, ElemKind::F64, 0),
                Err(TrapKind::NullReference)
            );
            assert_eq!(array_len(a), Ok(10));
        }
        heap.collect(&[&[b]]);
        assert_eq!(heap.object_count(), 2, "a is reachable through b");
        heap.collect(&[]);
        assert_eq!(heap.object_count(), 0);
        assert_eq!(heap.bytes(), 0);
    }

    #[test]
    fn i64_arrays_start_byte_packed_and_widen_in_place() {
        let mut heap = Heap::new(1 << 30);
        let a = heap.alloc(ElemKind::I64, 1000, &[]).unwrap();
        let kind = |r: u64| unsafe { (*(r as *const ArrayHeader)).kind };
        assert_eq!(kind(a), I64_BYTES_KIND);
        unsafe {
            for i in 0..1000 {
                set_i64(a, i, i % 256).unwrap();
            }
            assert_eq!(kind(a), I64_BYTES_KIND, "0..=255 fits a byte");
            assert_eq!(get_i64(a, 999), Ok(999 % 256));
            assert_eq!(set_i64(a, 1000, 1), Err(TrapKind::IndexOutOfBounds));
            assert_eq!(set_i64(a, -1, 1), Err(TrapKind::IndexOutOfBounds));
            assert_eq!(get_i64(a, 1000), Err(TrapKind::IndexOutOfBounds));
            assert_eq!(get_i64(0, 0), Err(TrapKind::NullReference));
            set_i64(a, 500, -1).unwrap();
            assert_eq!(kind(a), ElemKind::I64 as u32);
            for i in 0..1000 {
                let want = if i == 500 { -1 } else { i % 256 };
                assert_eq!(get_i64(a, i), Ok(want), "element {i} after widening");
            }
            set_i64(a, 0, i64::MIN).unwrap();
            set_i64(a, 1, 7).unwrap();
            assert_eq!((get_i64(a, 0), get_i64(a, 1)), (Ok(i64::MIN), Ok(7)));
        }
        // 256 widens too, as does a value past 255 in the last element.
        let b = heap.alloc(ElemKind::I64, 3, &[]).unwrap();
        unsafe {
            set_i64(b, 1, 255).unwrap();
            assert_eq!(kind(b), I64_BYTES_KIND);
            set_i64(b, 2, 256).unwrap();
            assert_eq!(kind(b), ElemKind::I64 as u32);
            assert_eq!(
                (get_i64(b, 0), get_i64(b, 1), get_i64(b, 2)),
                (Ok(0), Ok(255), Ok(256))
            );
            assert_eq!(element_ptr(b, ElemKind::F64, 0), Err(TrapKind::ElementKind));
        }
    }

    /// Small objects come from the pools: a freed one is reused, zeroed;
    /// large ones from the system.
    #[test]
    fn pooled_objects_are_reused_zeroed() {
        let mut heap = Heap::new(1 << 30);
        let a = heap.alloc(ElemKind::F64, 4, &[]).unwrap();
        unsafe { *element_ptr(a, ElemKind::F64, 3).unwrap() = 7 };
        heap.collect(&[]);
        let b = heap.alloc(ElemKind::F64, 4, &[]).unwrap();
        assert_eq!(a, b, "the freed object of the same size");
        assert_eq!(unsafe { *element_ptr(b, ElemKind::F64, 3).unwrap() }, 0);
        // Objects of one class lie one after the other, without headers.
        let c = heap.alloc(ElemKind::F64, 4, &[]).unwrap();
        assert_eq!(c - b, (ARRAY_DATA_OFFSET + 32) as u64);
        let big = heap.alloc(ElemKind::Ref, 1000, &[]).unwrap();
        assert_eq!(unsafe { *element_ptr(big, ElemKind::Ref, 999).unwrap() }, 0);
        heap.collect(&[&[big]]);
        assert_eq!(heap.object_count(), 1);
    }

    #[test]
    fn limits_trap() {
        let mut heap = Heap::new(4096);
        assert_eq!(
            heap.alloc(ElemKind::I64, -1, &[]),
            Err(TrapKind::NegativeLength)
        );
        assert_eq!(
            heap.alloc(ElemKind::I64, 1 << 20, &[]),
            Err(TrapKind::OutOfMemory)
        );
        assert_eq!(
            heap.alloc(ElemKind::I64, i64::MAX, &[]),
            Err(TrapKind::OutOfMemory)
        );
        // Garbage is collected to make room.
        for _ in 0..100 {
            heap.alloc(ElemKind::F64, 100, &[]).unwrap();
        }
    }
}
