//! The three register stacks ("arenas") of an instance.
//!
//! They live in one anonymous mapping, zero pages until touched. An instance
//! is cheap to make and drop only if this mapping is: mapping and unmapping
//! three large regions per instance took about 24 µs of a one-request
//! instance's life, so dropped mappings go back, zeroed again by
//! `madvise(MADV_DONTNEED)` (which only has work for the pages a program
//! touched), to a small process-wide pool.
//!
//! The mapping starts at a multiple of 256 MiB, the same address modulo
//! 256 MiB in every process ([`placed_map`](crate::runtime::placed_map)
//! says why: call-heavy programs were otherwise twice as slow in some
//! processes).

use crate::runtime::placed_map::PlacedMap;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// How many dropped mappings the pool keeps.
const POOL_SIZE: usize = 8;

/// Dropped mappings, zeroed, with their size in bytes.
static POOL: Mutex<Vec<PlacedMap>> = Mutex::new(Vec::new());

/// One bank's registers: a slice of the stacks' mapping.
pub struct Bank<T> {
    ptr: *mut T,
    len: usize,
    _slots: PhantomData<T>,
}

// SAFETY: a bank is the only access to its part of the mapping, which the
// `RegisterStacks` holding it owns; it moves with them.
unsafe impl<T: Send> Send for Bank<T> {}
// SAFETY: shared access is read-only, as for a slice.
unsafe impl<T: Sync> Sync for Bank<T> {}

impl<T> Deref for Bank<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr..ptr + len` is a part of the owner's mapping, aligned
        // (page-aligned start) and of plain numbers, for which zero bits
        // and any bits are valid.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T> DerefMut for Bank<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as for `deref`; `&mut self` is the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

/// Fixed-capacity register stacks, one per bank, zeroed when made. The
/// reference stack is the collector's root set.
pub struct RegisterStacks {
    /// The `i` bank's registers.
    pub i: Bank<i64>,
    /// The `f` bank's registers.
    pub f: Bank<f64>,
    /// The `r` bank's registers: array addresses, 0 for null.
    pub r: Bank<u64>,
    map: Option<PlacedMap>,
}

/// Bytes of a bank of `slots` registers, rounded up to whole pages (64 KiB,
/// the largest Linux page), so each bank starts page-aligned.
fn bank_bytes(slots: usize) -> Option<usize> {
    slots.checked_mul(8)?.checked_next_multiple_of(64 << 10)
}

impl RegisterStacks {
    /// Stacks of `slots` registers per bank, zeroed.
    pub fn new(slots: [usize; 3]) -> std::io::Result<RegisterStacks> {
        let too_large = || std::io::Error::other("register stacks too large to map");
        let sizes = [
            bank_bytes(slots[0]).ok_or_else(too_large)?,
            bank_bytes(slots[1]).ok_or_else(too_large)?,
            bank_bytes(slots[2]).ok_or_else(too_large)?,
        ];
        let total = sizes
            .iter()
            .try_fold(0usize, |a, &b| a.checked_add(b))
            .ok_or_else(too_large)?
            .max(1);
        let pooled = {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            pool.iter()
                .position(|m| m.len() == total)
                .map(|k| pool.swap_remove(k))
        };
        let map = match pooled {
            Some(map) => map,
            None => PlacedMap::new(total, 0, false)?,
        };
        let base = map.as_ptr();
        // SAFETY: the three banks are disjoint parts of `map`, which the
        // stacks own and never move (the pointer is the mapping's).
        let (i, f, r) = unsafe {
            (
                base as *mut i64,
                base.add(sizes[0]) as *mut f64,
                base.add(sizes[0] + sizes[1]) as *mut u64,
            )
        };
        Ok(RegisterStacks {
            i: Bank {
                ptr: i,
                len: slots[0],
                _slots: PhantomData,
            },
            f: Bank {
                ptr: f,
                len: slots[1],
                _slots: PhantomData,
            },
            r: Bank {
                ptr: r,
                len: slots[2],
                _slots: PhantomData,
            },
            map: Some(map),
        })
    }

    /// Capacity per bank, in slots.
    pub fn capacity(&self) -> [usize; 3] {
        [self.i.len(), self.f.len(), self.r.len()]
    }
}

impl Drop for RegisterStacks {
    fn drop(&mut self) {
        let Some(map) = self.map.take() else {
            return;
        };
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() >= POOL_SIZE {
            return;
        }
        // SAFETY: nothing points into the mapping any more (the banks go
        // with `self`); it reads as zeros afterwards, as a fresh one.
        if unsafe { map.discard() }.is_ok() {
            pool.push(map);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_stacks_are_zeroed_and_sized() {
        let mut a = RegisterStacks::new([100, 3, 70_000]).expect("maps");
        assert_eq!(a.capacity(), [100, 3, 70_000]);
        let period = crate::runtime::placed_map::PERIOD;
        assert_eq!(a.i.as_ptr() as usize % period, 0);
        a.i[99] = -1;
        a.f[2] = 1.5;
        a.r[69_999] = 7;
        drop(a);
        for _ in 0..3 {
            let b = RegisterStacks::new([100, 3, 70_000]).expect("maps");
            assert!(b.i.iter().all(|&x| x == 0));
            assert!(b.f.iter().all(|&x| x.to_bits() == 0));
            assert!(b.r.iter().all(|&x| x == 0));
        }
        let empty = RegisterStacks::new([0, 0, 0]).expect("maps");
        assert_eq!(empty.capacity(), [0, 0, 0]);
        assert!(RegisterStacks::new([usize::MAX, 1, 1]).is_err());
    }
}
