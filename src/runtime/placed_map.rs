//! Anonymous mappings at a chosen address modulo 256 MiB, for the stacks
//! compiled code runs on.
//!
//! Why: AMD Zen cores pick the way of an L1 data-cache load by a µtag, a
//! hash of virtual-address bits 12-27 (pairs of bits XORed:
//! 12^27, 13^26, 14^25, 15^20, 16^21, 17^22, 18^23, 19^24). Two lines in
//! the same cache set with the same µtag cannot both be hit: they evict
//! each other. With the native stack and the register stacks at random
//! addresses (ASLR), a call-heavy program's hot stack lines collided in some
//! processes and not in others: fib under Cranelift took 1.2 s in 31 of 40
//! processes and 2.2-2.4 s in the other 9, exactly the 9 whose page below
//! the native stack's top had the µtag of the register stacks' first page
//! (no other address pair separated them; this VM has no PMU to count the
//! misses). The kernel aligning large mappings to 2 MiB made the collision
//! rarer, not impossible. Placed here, bits 0-27 of every stack address are
//! the same in every process, so the µtags, and the timings, no longer
//! depend on ASLR; [`NATIVE_STACK_TOP_PHASE`] keeps the hot ends of the
//! stacks on different µtags (pinned by a test).

use std::io;
use std::ptr::NonNull;

/// Addresses are fixed modulo this: 2^28 covers the bits the µtag hashes.
pub const PERIOD: usize = 1 << 28;

/// The native stack's top (one past its highest byte) modulo [`PERIOD`];
/// the register stacks start at 0 modulo [`PERIOD`]. Chosen so that the
/// 64 pages below the top have µtags none of the first 64 pages of a
/// register bank has, with banks starting at multiples of 32 MiB (the
/// default 4 Mi slots): bits 18-19 of those stack pages are set, bit 24
/// clear, so their 19^24 µtag bit is 1, and 0 for the banks' pages.
pub const NATIVE_STACK_TOP_PHASE: usize = 9 << 20;

/// A private anonymous read-write mapping whose start is `phase` modulo
/// [`PERIOD`], unmapped when dropped.
pub struct PlacedMap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; access to its
// bytes goes through `&self`/`&mut self` borrows of its owner.
unsafe impl Send for PlacedMap {}
// SAFETY: as above; `&PlacedMap` only hands out its address.
unsafe impl Sync for PlacedMap {}

/// The system's page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

impl PlacedMap {
    /// Map `len` bytes (rounded up to whole pages; at least one page) whose
    /// first byte is at `phase` modulo [`PERIOD`] (`phase` rounded down to
    /// a page). `stack` asks for `MAP_STACK`. Pages are zero and committed
    /// only when touched.
    pub fn new(len: usize, phase: usize, stack: bool) -> io::Result<PlacedMap> {
        let page = page_size();
        let too_large = || io::Error::other("mapping too large");
        let len = len
            .max(1)
            .checked_next_multiple_of(page)
            .ok_or_else(too_large)?;
        let phase = (phase % PERIOD) / page * page;
        // Reserve enough address space to find such a start, without
        // committing memory, then map the part we keep over it and give
        // back the rest.
        let reserve = len.checked_add(PERIOD).ok_or_else(too_large)?;
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserve,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let raw = raw as usize;
        let start = raw - raw % PERIOD + phase;
        let start = if start < raw { start + PERIOD } else { start };
        let flags = libc::MAP_PRIVATE
            | libc::MAP_ANONYMOUS
            | libc::MAP_FIXED
            | if stack { libc::MAP_STACK } else { 0 };
        // SAFETY: `start..start + len` lies inside our reservation
        // (`start - raw < PERIOD`), which nothing else uses.
        let mapped = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        let result = if mapped == libc::MAP_FAILED {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        };
        // SAFETY: both ranges are the unused parts of our reservation (or,
        // on failure, all of it).
        unsafe {
            if result.is_err() {
                libc::munmap(raw as *mut libc::c_void, reserve);
            } else {
                if start > raw {
                    libc::munmap(raw as *mut libc::c_void, start - raw);
                }
                let end = start + len;
                if raw + reserve > end {
                    libc::munmap(end as *mut libc::c_void, raw + reserve - end);
                }
            }
        }
        result?;
        let ptr = NonNull::new(start as *mut u8).ok_or_else(|| io::Error::other("mapped at 0"))?;
        Ok(PlacedMap { ptr, len })
    }

    /// The first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes (whole pages).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never: it has at least one page).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Make the first `bytes` (whole pages) inaccessible: a guard region.
    pub fn guard_low(&self, bytes: usize) -> io::Result<()> {
        let bytes = bytes.min(self.len);
        // SAFETY: the range is the start of our own mapping.
        let rc =
            unsafe { libc::mprotect(self.as_ptr() as *mut libc::c_void, bytes, libc::PROT_NONE) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Give the touched pages back: they read as zeros afterwards.
    ///
    /// # Safety
    /// Nothing may hold references into the mapping's contents.
    pub unsafe fn discard(&self) -> io::Result<()> {
        // SAFETY: our own mapping; the caller promises no live references.
        let rc = unsafe {
            libc::madvise(
                self.as_ptr() as *mut libc::c_void,
                self.len,
                libc::MADV_DONTNEED,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for PlacedMap {
    fn drop(&mut self) {
        // SAFETY: our own mapping, no longer used.
        unsafe { libc::munmap(self.as_ptr() as *mut libc::c_void, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The µtag of AMD Zen's L1 data cache for a virtual address.
    fn utag(addr: usize) -> u8 {
        const PAIRS: [(u32, u32); 8] = [
            (12, 27),
            (13, 26),
            (14, 25),
            (15, 20),
            (16, 21),
            (17, 22),
            (18, 23),
            (19, 24),
        ];
        PAIRS.iter().enumerate().fold(0, |tag, (k, &(a, b))| {
            tag | ((((addr >> a) ^ (addr >> b)) & 1) as u8) << k
        })
    }

    #[test]
    fn placed_at_the_phase_and_zeroed() {
        let page = page_size();
        for phase in [0, 3 * page, NATIVE_STACK_TOP_PHASE - 5 * page] {
            let m = PlacedMap::new(10 * page + 1, phase, false).expect("maps");
            assert_eq!(m.as_ptr() as usize % PERIOD, phase);
            assert_eq!(m.len(), 11 * page);
            // SAFETY: our own mapping, `len` bytes.
            let bytes = unsafe { std::slice::from_raw_parts_mut(m.as_ptr(), m.len()) };
            assert!(bytes.iter().all(|&b| b == 0));
            bytes[m.len() - 1] = 7;
            // SAFETY: `bytes` is not used any more.
            unsafe { m.discard() }.expect("discards");
            // SAFETY: as above.
            let bytes = unsafe { std::slice::from_raw_parts(m.as_ptr(), m.len()) };
            assert_eq!(bytes[m.len() - 1], 0);
        }
        assert!(PlacedMap::new(usize::MAX - 3, 0, false).is_err());
    }

    #[test]
    fn hot_stack_pages_have_distinct_utags() {
        // The 64 pages (4 KiB) below the native stack's top against the
        // first 64 pages of banks at multiples of 32 MiB.
        let banks = [0, 32 << 20, 64 << 20, 96 << 20];
        for k in 1..=64 {
            let stack_page = NATIVE_STACK_TOP_PHASE - k * 4096;
            for bank in banks {
                for j in 0..64 {
                    assert_ne!(
                        utag(stack_page),
                        utag(bank + j * 4096),
                        "stack page -{k}, bank {bank:#x} page {j}"
                    );
                }
            }
        }
        // What happened without placement: a top at a multiple of 2^28
        // (or any top whose page below has the register page's µtag).
        assert_eq!(utag(PERIOD - 4096), utag(0));
    }
}
