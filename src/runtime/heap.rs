//! The heap of typed arrays, with a mark-sweep collector whose roots are the
//! reference register stack.
//!
//! A reference is the address of an [`ArrayHeader`] as a `u64`; null is 0.
//! Elements follow the header, 8 bytes each. The offsets below are the one
//! source of truth for every engine that reads arrays.

use super::trap::TrapKind;
use crate::bytecode::{Bank, Opcode};
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ptr::NonNull;

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
}

impl ElemKind {
    /// The element kind an array op (`new*`, `get*`, `set*`) works on, and
    /// the bank its elements move through.
    pub fn of_op(opcode: Opcode) -> (Bank, ElemKind) {
        use Opcode::*;
        match opcode {
            NewI | GetI | SetI => (Bank::I, ElemKind::I64),
            NewF | GetF | SetF => (Bank::F, ElemKind::F64),
            _ => (Bank::R, ElemKind::Ref),
        }
    }
}

/// The header in front of every array's elements.
#[repr(C)]
pub struct ArrayHeader {
    /// An [`ElemKind`] as `u32`.
    pub kind: u32,
    /// Mark bit of the collector.
    pub marked: u32,
    /// Number of elements.
    pub len: u64,
}

/// A header no array has (kind 0, length 0), standing in for null where
/// compiled code reads a header speculatively: the Cranelift tier loads
/// `kind` and `len` through `if r == 0 { &NULL_ARRAY_HEADER } else { r }`,
/// so those loads never fault and may be hoisted out of loops.
pub static NULL_ARRAY_HEADER: ArrayHeader = ArrayHeader {
    kind: 0,
    marked: 0,
    len: 0,
};

/// Offset of [`ArrayHeader::kind`].
pub const ARRAY_KIND_OFFSET: usize = std::mem::offset_of!(ArrayHeader, kind);
/// Offset of [`ArrayHeader::len`].
pub const ARRAY_LEN_OFFSET: usize = std::mem::offset_of!(ArrayHeader, len);
/// Offset of element 0.
pub const ARRAY_DATA_OFFSET: usize = std::mem::size_of::<ArrayHeader>();
/// Bytes per element, every kind.
pub const ELEM_SIZE: usize = 8;

/// The largest length an array can have: its size must fit `isize`.
pub const MAX_ARRAY_LEN: u64 = ((isize::MAX as usize - ARRAY_DATA_OFFSET) / ELEM_SIZE) as u64;

/// The smallest heap size at which the collector first runs.
const MIN_GC_THRESHOLD: usize = 1 << 20;

/// Every array of an instance.
pub struct Heap {
    objects: Vec<NonNull<ArrayHeader>>,
    /// Bytes allocated and not yet freed.
    bytes: usize,
    /// Allocation fails with a trap past this many bytes.
    limit: usize,
    /// Collect when `bytes` would pass this.
    next_gc: usize,
    /// Collections run so far.
    collections: u64,
}

// SAFETY: the heap owns its objects exclusively; nothing else aliases them
// outside calls that borrow the instance mutably.
unsafe impl Send for Heap {}

fn layout_for(len: u64) -> Option<Layout> {
    if len > MAX_ARRAY_LEN {
        return None;
    }
    let size = ARRAY_DATA_OFFSET + len as usize * ELEM_SIZE;
    Layout::from_size_align(size, 8).ok()
}

impl Heap {
    /// An empty heap that holds at most `limit` bytes.
    pub fn new(limit: usize) -> Heap {
        Heap {
            objects: Vec::new(),
            bytes: 0,
            limit,
            next_gc: MIN_GC_THRESHOLD,
            collections: 0,
        }
    }

    /// Bytes currently allocated.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Live-or-unreclaimed object count.
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// Collections run so far.
    pub fn collections(&self) -> u64 {
        self.collections
    }

    /// Allocate a zero-filled array (0, 0.0 or null) of `len` elements.
    /// `roots` is the live part of the reference stack: when the heap is
    /// full it is collected first.
    pub fn alloc(&mut self, kind: ElemKind, len: i64, roots: &[u64]) -> Result<u64, TrapKind> {
        if len < 0 {
            return Err(TrapKind::NegativeLength);
        }
        let layout = layout_for(len as u64).ok_or(TrapKind::OutOfMemory)?;
        let size = layout.size();
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
        // SAFETY: layout has non-zero size (the header).
        let ptr = unsafe { alloc_zeroed(layout) } as *mut ArrayHeader;
        let ptr = NonNull::new(ptr).ok_or(TrapKind::OutOfMemory)?;
        // SAFETY: freshly allocated, properly sized and aligned.
        unsafe {
            (*ptr.as_ptr()).kind = kind as u32;
            (*ptr.as_ptr()).len = len as u64;
        }
        self.objects.push(ptr);
        self.bytes += size;
        Ok(ptr.as_ptr() as u64)
    }

    /// Mark from `roots` and free everything unmarked.
    pub fn collect(&mut self, roots: &[u64]) {
        self.collections += 1;
        let mut stack: Vec<u64> = roots.iter().copied().filter(|&r| r != 0).collect();
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
                if (*h).kind == ElemKind::Ref as u32 {
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
        self.objects.retain(|&p| {
            // SAFETY: p is an object of this heap.
            unsafe {
                let h = p.as_ptr();
                if (*h).marked != 0 {
                    (*h).marked = 0;
                    true
                } else {
                    let layout = layout_for((*h).len).expect("allocated with a valid layout");
                    freed += layout.size();
                    dealloc(h as *mut u8, layout);
                    false
                }
            }
        });
        self.bytes -= freed;
    }

    /// Free every object.
    pub fn clear(&mut self) {
        self.collect(&[]);
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Checked access to an array for slow paths and the interpreter: the
/// array's header, or the trap that the access raises.
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
    if h.kind != kind as u32 {
        return Err(TrapKind::ElementKind);
    }
    Ok(h)
}

/// The address of element `idx` of array `r`, after the null, kind and
/// bounds checks every engine makes.
///
/// # Safety
/// `r` must be null or a live object of an instance's heap.
#[inline(always)]
pub unsafe fn element_ptr(r: u64, kind: ElemKind, idx: i64) -> Result<*mut u64, TrapKind> {
    // SAFETY: by the caller's contract.
    let h = unsafe { array_header(r, kind)? };
    if (idx as u64) >= h.len {
        return Err(TrapKind::IndexOutOfBounds);
    }
    Ok((r as usize + ARRAY_DATA_OFFSET + idx as usize * ELEM_SIZE) as *mut u64)
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
            assert_eq!(
                element_ptr(a, ElemKind::I64, 10),
                Err(TrapKind::IndexOutOfBounds)
            );
            assert_eq!(
                element_ptr(a, ElemKind::I64, -1),
                Err(TrapKind::IndexOutOfBounds)
            );
            assert_eq!(element_ptr(a, ElemKind::F64, 0), Err(TrapKind::ElementKind));
            assert_eq!(
                element_ptr(0, ElemKind::F64, 0),
                Err(TrapKind::NullReference)
            );
            assert_eq!(array_len(a), Ok(10));
        }
        heap.collect(&[b]);
        assert_eq!(heap.object_count(), 2, "a is reachable through b");
        heap.collect(&[]);
        assert_eq!(heap.object_count(), 0);
        assert_eq!(heap.bytes(), 0);
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
