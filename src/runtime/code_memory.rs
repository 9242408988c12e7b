//! Executable memory for JIT code, W^X at every moment.
//!
//! [`CodeMemory`] copies position-independent machine code into anonymous
//! mappings (through `memmap2`) and hands back its address as a [`CodeRef`].
//! A function published alone can be released again
//! ([`CodeMemory::release`]); everything it mapped is unmapped when it is
//! dropped.
//!
//! # Layout
//!
//! Functions are packed into chunks of [`CHUNK_SIZE`] bytes (rounded up to
//! whole pages); each function starts [`FUNCTION_ALIGN`]-byte aligned. A
//! function larger than a chunk gets a mapping of its own, rounded up to
//! whole pages. Gaps (alignment padding, the rest of a page after the last
//! function) are filled with trap instructions (`int3` on x86-64, `udf #0` on
//! aarch64), so a stray jump into them traps instead of running stale bytes.
//!
//! # W^X: pages are written once, then only ever executable
//!
//! No page is ever writable and executable at once, and, stronger, a page
//! that was made executable is never made writable again. Each chunk is
//! mapped read-write; a chunk keeps two offsets, `sealed <= cursor`:
//!
//! * pages below `sealed` are read-execute (or were abandoned after a failed
//!   `mprotect`, in which case they stay read-write and are never handed out
//!   nor written again);
//! * pages from `sealed` up are read-write and hold no published code;
//! * code is written only at or above `cursor`.
//!
//! A publish writes its functions at `cursor`, then *seals* them: it fills
//! the rest of the last page with traps, `mprotect`s the pages from `sealed`
//! to the end of that page read-execute, makes the instruction cache
//! coherent, and moves both offsets to that page boundary. The next publish
//! therefore starts on a fresh page.
//!
//! We chose this over re-opening the last, partly used page (flip RW, append,
//! flip RX) because it needs no promise from the caller: re-opening a page is
//! only sound while no thread runs code in it, which would tie this module to
//! the engine's threading (today: code is published only from the thread
//! that owns an instance, whose JIT code is then suspended in a helper call),
//! and the tier-up thread or a later multi-threaded engine would turn a
//! mistake into a crash that tests rarely see. The price is the unused tail
//! of the last page of every publish: on average half a page per call of
//! [`CodeMemory::publish`]. Compile a batch (a module, a set of functions
//! compiled together) with [`CodeMemory::publish_many`] to pack it densely.
//! Measured with 4 KiB pages, 1000 functions of 300 bytes: published one at a
//! time they take 1000 pages (4,096,000 bytes for 300,000 bytes of code,
//! 3,796,000 wasted); published as one batch, 75 pages (307,200 bytes, 7,200
//! wasted: 4 bytes of alignment per function and the last page's tail).
//! Real template functions are a few KiB each, so one-at-a-time waste is
//! half a page per function, which we accept; the template tier should batch
//! where it compiles several functions at once.
//!
//! # Releasing code: pages are never reused
//!
//! Because one [`CodeMemory::publish`] owns whole pages (it starts on a
//! fresh page and is sealed to the end of its last page), those pages can be
//! given back without touching another function: [`CodeMemory::release`]
//! makes them inaccessible (`mprotect(PROT_NONE)`), so a stale call into
//! released code faults instead of running other code, and returns their
//! memory to the operating system (`madvise(MADV_DONTNEED)`). Released
//! pages are never handed out again, and never made writable: the W^X rule
//! above holds for them too (read-write, then read-execute, then nothing).
//! A chunk all of whose sealed pages were released is unmapped entirely
//! once no new code can go into it (it is not the current chunk, or it is
//! full); a large function's own mapping is unmapped when it is released.
//! Functions published together ([`CodeMemory::publish_many`]) share pages
//! and stay until the code memory is dropped. Releasing is the caller's
//! promise that no thread runs or will enter the code any more; releasing
//! something not published alone by this code memory, or twice, is an
//! error ([`CodeMemoryError::NotPublished`]), never undefined behaviour.
//!
//! # Instruction-cache coherence
//!
//! * **aarch64**: instruction fetch is not coherent with data stores. After
//!   sealing, this module cleans the data cache to the point of unification
//!   (`dc cvau`, per data-cache line), waits (`dsb ish`), invalidates the
//!   instruction cache to the point of unification (`ic ivau`, per
//!   instruction-cache line; broadcast to the inner-shareable domain, so it
//!   reaches every core), waits again (`dsb ish`) and synchronises the
//!   publishing core's pipeline (`isb`). Line sizes come from `CTR_EL0` (on
//!   big.LITTLE systems with mismatched lines Linux traps the read and
//!   reports the safe minimum). As in libgcc and compiler-rt, the clean is
//!   skipped when `CTR_EL0.IDC` says it is not needed and the invalidate when
//!   `CTR_EL0.DIC` does (the barriers and the `isb` stay). Other cores may
//!   still have fetched stale instructions into their pipelines; so after a
//!   publish this module issues `membarrier(PRIVATE_EXPEDITED_SYNC_CORE)`
//!   (registered once per process), which makes every running thread of the
//!   process execute a core-serialising instruction. Where the kernel or
//!   emulator lacks it (`ENOSYS`/`EINVAL`, e.g. qemu-user, kernels before
//!   4.16) we fall back silently: the `isb` covers the publishing thread,
//!   and a thread that is not running passes through an exception return
//!   (context synchronising) before it runs again. qemu does not model a
//!   stale instruction cache, so review this code by reading it: tests
//!   cannot catch a missing step.
//! * **x86-64**: the instruction cache is coherent with stores (hardware
//!   snoops them, also across cores), so no flush is needed. The
//!   cross-modifying-code rules (a serialising instruction on the executing
//!   core) concern code that another core may already be executing or have
//!   prefetched; our code is new: its pages were not executable before they
//!   were sealed, and no thread can jump to it before it reads the pointer,
//!   which the caller publishes with a release store (or a lock) and reads
//!   with an acquire load, after this module returned.
//!
//! Callers on any architecture must hand a [`CodeRef`] to other threads with
//! release/acquire ordering (an atomic store/load of the entry pointer, or a
//! lock), never through a relaxed store.

use std::collections::{BTreeMap, HashMap};
use std::io;

use memmap2::{MmapOptions, MmapRaw};
use thiserror::Error;

/// Size of one chunk of executable memory, before rounding up to whole
/// pages. Many functions share a chunk; a function larger than this gets a
/// mapping of its own.
pub const CHUNK_SIZE: usize = 256 * 1024;

/// Every published function starts at an address that is a multiple of this.
pub const FUNCTION_ALIGN: usize = 16;

/// Byte that fills gaps between and after functions: `int3` on x86-64. On
/// aarch64 a zero word is `udf #0`, a permanently undefined instruction.
#[cfg(target_arch = "x86_64")]
const TRAP_FILL: u8 = 0xcc;
#[cfg(not(target_arch = "x86_64"))]
const TRAP_FILL: u8 = 0x00;

/// Page size assumed if `sysconf` cannot tell: the largest Linux uses on
/// aarch64, so sealing never covers a page we still mean to write.
const FALLBACK_PAGE_SIZE: usize = 64 * 1024;

/// Failure to provide executable memory.
#[derive(Debug, Error)]
pub enum CodeMemoryError {
    /// `mmap` of a new chunk failed.
    #[error("cannot map {len} bytes for JIT code: {source}")]
    Map {
        /// Bytes requested.
        len: usize,
        /// The operating system's error.
        source: io::Error,
    },
    /// `mprotect` to read-execute failed. The pages stay read-write (never
    /// executable) and are never used again.
    #[error("cannot make {len} bytes of JIT code at {addr:#x} executable: {source}")]
    Protect {
        /// First address of the range.
        addr: usize,
        /// Length of the range in bytes.
        len: usize,
        /// The operating system's error.
        source: io::Error,
    },
    /// `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)` failed with
    /// an error other than "not supported" (which is ignored).
    #[error("membarrier (sync core) after publishing JIT code failed: {0}")]
    Membarrier(io::Error),
    /// A function of zero bytes cannot be published.
    #[error("cannot publish an empty function")]
    Empty,
    /// A function too large to map.
    #[error("a function of {len} bytes is too large to map")]
    TooLarge {
        /// The function's size in bytes.
        len: usize,
    },
    /// `mprotect(PROT_NONE)` or `madvise(MADV_DONTNEED)` of released code
    /// failed. After a failed `mprotect` the code stays published; after a
    /// failed `madvise` it is released but its memory may stay resident
    /// until its chunk is unmapped.
    #[error("cannot release {len} bytes of JIT code at {addr:#x}: {source}")]
    Release {
        /// First address of the range.
        addr: usize,
        /// Length of the range in bytes.
        len: usize,
        /// The operating system's error.
        source: io::Error,
    },
    /// [`CodeMemory::release`] of code this code memory did not publish
    /// alone, or already released.
    #[error("no function of {len} bytes at {addr:#x} was published alone (or it was released)")]
    NotPublished {
        /// The address asked for.
        addr: usize,
        /// The length asked for.
        len: usize,
    },
    /// No instruction-cache maintenance is implemented for this target
    /// architecture (only x86-64 and aarch64 are).
    #[error("no instruction-cache maintenance for this target architecture")]
    UnsupportedArch,
}

/// The address and length of a published function.
///
/// Valid (readable and executable, never written again) until the
/// [`CodeMemory`] that returned it is dropped or releases it. Calling it means transmuting
/// `ptr` to a function pointer of the right ABI, which is `unsafe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CodeRef {
    /// First byte of the function, [`FUNCTION_ALIGN`]-byte aligned.
    pub ptr: *const u8,
    /// Length of the function's code in bytes (non-zero).
    pub len: usize,
}

// SAFETY: a `CodeRef` is only an address of immutable memory; it grants no
// access by itself (reading or calling it is `unsafe`), so it may be sent to
// and shared with other threads like a `usize`.
unsafe impl Send for CodeRef {}
// SAFETY: as for `Send`.
unsafe impl Sync for CodeRef {}

/// One anonymous mapping: a chunk shared by many functions, or the mapping
/// of one function larger than a chunk.
#[derive(Debug)]
struct Chunk {
    /// The mapping; `MmapRaw` because its protection changes under it, so
    /// memmap2's safe slice views would not be sound.
    map: MmapRaw,
    /// Page-aligned: pages below are read-execute (or abandoned), pages from
    /// here up are read-write and hold no published code.
    sealed: usize,
    /// Where the next function may be written (`sealed <= cursor`); bytes in
    /// `sealed..cursor` are written but not yet sealed.
    cursor: usize,
    /// Bytes (whole pages) below `sealed` that were released: inaccessible,
    /// never used again.
    released: usize,
}

impl Chunk {
    fn base(&self) -> usize {
        self.map.as_ptr() as usize
    }
}

/// The pages one [`CodeMemory::publish`] owns, kept so that
/// [`CodeMemory::release`] can check what it is asked to release.
#[derive(Clone, Copy, Debug)]
struct Publish {
    /// Base address of the chunk (or own mapping) it is in.
    chunk: usize,
    /// First page (the function's own address).
    pages: usize,
    /// Bytes of its pages, a multiple of the page size.
    pages_len: usize,
    /// Bytes of its code.
    len: usize,
}

/// Executable memory for JIT code: many functions per chunk, W^X at every
/// moment, releasable function by function, everything unmapped on drop.
/// See the [module documentation](self) for the layout and the invariants.
#[derive(Debug)]
pub struct CodeMemory {
    /// Every live mapping, by base address.
    chunks: BTreeMap<usize, Chunk>,
    /// Base address of the chunk new small functions go into.
    current: Option<usize>,
    /// Every function published alone and not released, by address.
    publishes: HashMap<usize, Publish>,
    page_size: usize,
    chunk_size: usize,
    /// Code bytes of live functions.
    used: usize,
    /// Bytes of every live mapping.
    mapped: usize,
    /// Bytes of sealed pages not released.
    sealed_held: usize,
}

impl Default for CodeMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl CodeMemory {
    /// An empty code memory; nothing is mapped until the first publish.
    pub fn new() -> CodeMemory {
        let page_size = page_size();
        CodeMemory {
            chunks: BTreeMap::new(),
            current: None,
            publishes: HashMap::new(),
            page_size,
            chunk_size: CHUNK_SIZE.next_multiple_of(page_size),
            used: 0,
            mapped: 0,
            sealed_held: 0,
        }
    }

    /// Copies one function's position-independent code into executable
    /// memory and returns where it is. The function starts on a fresh page
    /// (see the module documentation); to pack several functions densely,
    /// use [`publish_many`](Self::publish_many). The function owns its
    /// pages and can be [released](Self::release).
    ///
    /// On error nothing is returned; space may have been used up.
    pub fn publish(&mut self, code: &[u8]) -> Result<CodeRef, CodeMemoryError> {
        let refs = self.publish_many(&[code])?;
        let code_ref = refs.into_iter().next().ok_or(CodeMemoryError::Empty)?;
        let addr = code_ref.ptr as usize;
        // A publish starts on a fresh page (every publish seals to the end
        // of its last page) and ends at the end of a page.
        debug_assert_eq!(addr % self.page_size, 0);
        let end = align_up(addr + code_ref.len, self.page_size).unwrap_or(usize::MAX);
        if let Some((&chunk, _)) = self.chunks.range(..=addr).next_back() {
            self.publishes.insert(
                addr,
                Publish {
                    chunk,
                    pages: addr,
                    pages_len: end - addr,
                    len: code_ref.len,
                },
            );
        }
        Ok(code_ref)
    }

    /// Gives back the pages of `code`, a function [published](Self::publish)
    /// alone: they become inaccessible and their memory returns to the
    /// operating system; they are never handed out again. Its chunk is
    /// unmapped if nothing else lives in it and no code can go into it any
    /// more (see the module documentation).
    ///
    /// The caller promises that no thread runs `code` or will call it.
    /// Code not published alone by this code memory, or already released,
    /// is [`CodeMemoryError::NotPublished`]. (Once a chunk is unmapped the
    /// system may map a later chunk at its address: a stale reference then
    /// names whatever was published there with the same address and
    /// length, so callers forget what they release.)
    pub fn release(&mut self, code: CodeRef) -> Result<(), CodeMemoryError> {
        let addr = code.ptr as usize;
        let publish = self
            .publishes
            .get(&addr)
            .copied()
            .filter(|p| p.len == code.len)
            .ok_or(CodeMemoryError::NotPublished {
                addr,
                len: code.len,
            })?;
        let (pages, len) = (publish.pages, publish.pages_len);
        // SAFETY: whole pages of a mapping we own, holding only this
        // function's code (and trap fill); no Rust object lives there.
        let rc = unsafe { libc::mprotect(pages as *mut libc::c_void, len, libc::PROT_NONE) };
        if rc != 0 {
            return Err(CodeMemoryError::Release {
                addr: pages,
                len,
                source: io::Error::last_os_error(),
            });
        }
        self.publishes.remove(&addr);
        self.used -= publish.len;
        self.sealed_held -= len;
        // SAFETY: as for `mprotect`; the pages are inaccessible now and read
        // back as zeros if ever made accessible, which they never are.
        let rc = unsafe { libc::madvise(pages as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        let advised = if rc == 0 {
            Ok(())
        } else {
            Err(CodeMemoryError::Release {
                addr: pages,
                len,
                source: io::Error::last_os_error(),
            })
        };
        if let Some(chunk) = self.chunks.get_mut(&publish.chunk) {
            chunk.released += len;
        }
        self.unmap_if_released(publish.chunk);
        advised
    }

    /// Unmaps the chunk at `base` if all its sealed pages were released and
    /// no code can go into it any more.
    fn unmap_if_released(&mut self, base: usize) {
        let Some(chunk) = self.chunks.get(&base) else {
            return;
        };
        let all_released = chunk.released == chunk.sealed && chunk.cursor == chunk.sealed;
        let is_current = self.current == Some(base);
        if !all_released || (is_current && chunk.sealed < chunk.map.len()) {
            return;
        }
        if is_current {
            self.current = None;
        }
        if let Some(chunk) = self.chunks.remove(&base) {
            self.mapped -= chunk.map.len();
            // Dropping the `MmapRaw` unmaps it.
        }
    }

    /// Copies several functions' position-independent code into executable
    /// memory, packed one after the other ([`FUNCTION_ALIGN`]-byte aligned),
    /// and returns where each one is, in order. All of them are executable
    /// when this returns; they share pages, so they cannot be
    /// [released](Self::release): they stay until the code memory is
    /// dropped.
    ///
    /// On error no [`CodeRef`] is returned; space may have been used up.
    pub fn publish_many(&mut self, codes: &[&[u8]]) -> Result<Vec<CodeRef>, CodeMemoryError> {
        for code in codes {
            if code.is_empty() {
                return Err(CodeMemoryError::Empty);
            }
            if code.len() > isize::MAX as usize / 2 {
                return Err(CodeMemoryError::TooLarge { len: code.len() });
            }
        }
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let mut refs = Vec::with_capacity(codes.len());
        let placed = self.place_all(codes, &mut refs);
        // Seal even after a failure, so no written bytes linger unsealed.
        let sealed = self.seal_current();
        placed?;
        sealed?;
        sync_other_cores()?;
        Ok(refs)
    }

    /// Bytes of live code: the sum of the lengths of the functions
    /// published and not released, without alignment padding or unused
    /// page tails.
    pub fn bytes_used(&self) -> usize {
        self.used
    }

    /// Bytes currently mapped: every chunk and large-function mapping not
    /// unmapped yet, including what is not yet used or was released.
    pub fn bytes_mapped(&self) -> usize {
        self.mapped
    }

    /// Bytes of memory held for code: the pages of every live function
    /// (sealed and not released), plus the current chunk's written pages
    /// not sealed yet (none between calls). Mapped pages never written are
    /// not counted: they take no memory.
    pub fn bytes_resident(&self) -> usize {
        let unsealed = self
            .current
            .and_then(|base| self.chunks.get(&base))
            .map_or(0, |c| {
                align_up(c.cursor, self.page_size).map_or(c.map.len(), |end| end.min(c.map.len()))
                    - c.sealed
            });
        self.sealed_held + unsealed
    }

    /// Writes every function (unsealed where it goes into the current chunk)
    /// and pushes its reference.
    fn place_all(
        &mut self,
        codes: &[&[u8]],
        refs: &mut Vec<CodeRef>,
    ) -> Result<(), CodeMemoryError> {
        for code in codes {
            let code_ref = if code.len() > self.chunk_size {
                self.publish_alone(code)?
            } else {
                self.place_in_chunk(code)?
            };
            self.used += code.len();
            refs.push(code_ref);
        }
        Ok(())
    }

    /// Writes `code` into the current chunk, or into a new one if it does
    /// not fit (sealing the current chunk first). `code` is at most a chunk.
    fn place_in_chunk(&mut self, code: &[u8]) -> Result<CodeRef, CodeMemoryError> {
        let fits = self.current.filter(|base| {
            self.chunks.get(base).is_some_and(|chunk| {
                align_up(chunk.cursor, FUNCTION_ALIGN)
                    .and_then(|start| start.checked_add(code.len()))
                    .is_some_and(|end| end <= chunk.map.len())
            })
        });
        let index = match fits {
            Some(base) => base,
            None => {
                self.seal_current()?;
                let base = self.map_chunk(self.chunk_size)?;
                let previous = self.current.replace(base);
                if let Some(previous) = previous {
                    self.unmap_if_released(previous);
                }
                base
            }
        };
        let chunk = self
            .chunks
            .get_mut(&index)
            .ok_or(CodeMemoryError::TooLarge { len: code.len() })?;
        let start = align_up(chunk.cursor, FUNCTION_ALIGN)
            .filter(|start| start + code.len() <= chunk.map.len())
            .ok_or(CodeMemoryError::TooLarge { len: code.len() })?;
        let base = chunk.base();
        // SAFETY: `chunk.cursor..start + code.len()` lies inside the mapping
        // (checked above) and at or above `sealed`, so all its pages are
        // read-write and hold no published code; `code` cannot overlap the
        // mapping, which only this module writes.
        unsafe {
            std::ptr::write_bytes(
                (base + chunk.cursor) as *mut u8,
                TRAP_FILL,
                start - chunk.cursor,
            );
            std::ptr::copy_nonoverlapping(code.as_ptr(), (base + start) as *mut u8, code.len());
        }
        chunk.cursor = start + code.len();
        Ok(CodeRef {
            ptr: (base + start) as *const u8,
            len: code.len(),
        })
    }

    /// Publishes a function larger than a chunk in a mapping of its own.
    fn publish_alone(&mut self, code: &[u8]) -> Result<CodeRef, CodeMemoryError> {
        let len = align_up(code.len(), self.page_size)
            .ok_or(CodeMemoryError::TooLarge { len: code.len() })?;
        let base = self.map_chunk(len)?;
        if let Some(chunk) = self.chunks.get_mut(&base) {
            // SAFETY: the mapping is fresh, read-write and at least
            // `code.len()` bytes long.
            unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), base as *mut u8, code.len()) };
            chunk.cursor = code.len();
        }
        self.seal(base)?;
        Ok(CodeRef {
            ptr: base as *const u8,
            len: code.len(),
        })
    }

    /// Maps `len` bytes (a multiple of the page size) read-write and returns
    /// the new chunk's base address.
    fn map_chunk(&mut self, len: usize) -> Result<usize, CodeMemoryError> {
        let map = MmapOptions::new()
            .len(len)
            .map_anon()
            .map_err(|source| CodeMemoryError::Map { len, source })?;
        let chunk = Chunk {
            map: MmapRaw::from(map),
            sealed: 0,
            cursor: 0,
            released: 0,
        };
        let base = chunk.base();
        self.chunks.insert(base, chunk);
        self.mapped += len;
        Ok(base)
    }

    fn seal_current(&mut self) -> Result<(), CodeMemoryError> {
        match self.current {
            Some(i) => self.seal(i),
            None => Ok(()),
        }
    }

    /// Makes the written, unsealed bytes of a chunk executable: fills the
    /// rest of their last page with traps, flips the pages `sealed..` to the
    /// end of that page read-execute, and makes the instruction cache
    /// coherent. Afterwards both offsets are at that page boundary: the
    /// pages are never written again, even if `mprotect` failed.
    fn seal(&mut self, base: usize) -> Result<(), CodeMemoryError> {
        let page_size = self.page_size;
        let Some(chunk) = self.chunks.get_mut(&base) else {
            return Ok(());
        };
        if chunk.cursor == chunk.sealed {
            return Ok(());
        }
        let len = chunk.map.len();
        // The mapping's length is a multiple of the page size, so this stays
        // inside it.
        let end = align_up(chunk.cursor, page_size).map_or(len, |end| end.min(len));
        let base = chunk.base();
        // SAFETY: `cursor..end` lies inside the mapping, above `sealed`:
        // read-write pages that hold no published code.
        unsafe {
            std::ptr::write_bytes(
                (base + chunk.cursor) as *mut u8,
                TRAP_FILL,
                end - chunk.cursor,
            );
        }
        let start = chunk.sealed;
        chunk.sealed = end;
        chunk.cursor = end;
        self.sealed_held += end - start;
        let addr = base + start;
        // SAFETY: `addr..addr + (end - start)` is a page-aligned range inside
        // a mapping we own; nothing in it is referenced as a Rust object.
        let rc = unsafe {
            libc::mprotect(
                addr as *mut libc::c_void,
                end - start,
                libc::PROT_READ | libc::PROT_EXEC,
            )
        };
        if rc != 0 {
            return Err(CodeMemoryError::Protect {
                addr,
                len: end - start,
                source: io::Error::last_os_error(),
            });
        }
        sync_instruction_cache(addr, end - start)
    }
}

/// `x` rounded up to a multiple of `align` (a power of two), or `None` on
/// overflow.
fn align_up(x: usize, align: usize) -> Option<usize> {
    debug_assert!(align.is_power_of_two());
    x.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// The system's page size.
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    match usize::try_from(n) {
        Ok(n) if n.is_power_of_two() => n,
        _ => FALLBACK_PAGE_SIZE,
    }
}

/// Makes instruction fetch coherent with the bytes just written to
/// `start..start + len`, for the calling core and (through the inner-
/// shareable broadcast of the maintenance operations) the caches of all
/// cores. See the module documentation.
#[cfg(target_arch = "aarch64")]
pub(crate) fn sync_instruction_cache(start: usize, len: usize) -> Result<(), CodeMemoryError> {
    aarch64::sync_range(start, len, aarch64::cache_type());
    Ok(())
}

/// x86-64 fetches coherently with stores: nothing to do (see the module
/// documentation).
#[cfg(target_arch = "x86_64")]
pub(crate) fn sync_instruction_cache(_start: usize, _len: usize) -> Result<(), CodeMemoryError> {
    Ok(())
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) fn sync_instruction_cache(_start: usize, _len: usize) -> Result<(), CodeMemoryError> {
    Err(CodeMemoryError::UnsupportedArch)
}

/// Makes every other running thread of the process serialise its core after
/// a publish, so none runs instructions it fetched before (aarch64). Not
/// needed on x86-64 (see the module documentation).
#[cfg(target_arch = "aarch64")]
pub(crate) fn sync_other_cores() -> Result<(), CodeMemoryError> {
    aarch64::membarrier_sync_core()
}

#[cfg(not(target_arch = "aarch64"))]
pub(crate) fn sync_other_cores() -> Result<(), CodeMemoryError> {
    Ok(())
}

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use super::CodeMemoryError;
    use core::arch::asm;
    use std::io;
    use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

    /// State of the process-wide `membarrier` registration.
    const MEMBARRIER_UNKNOWN: u8 = 0;
    const MEMBARRIER_REGISTERED: u8 = 1;
    const MEMBARRIER_UNSUPPORTED: u8 = 2;
    static MEMBARRIER_STATE: AtomicU8 = AtomicU8::new(MEMBARRIER_UNKNOWN);

    /// From `<linux/membarrier.h>`.
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 5;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 6;

    /// `CTR_EL0.IDC`: data cache clean to the point of unification is not
    /// required for instruction-to-data coherence.
    pub(super) const CTR_IDC: u64 = 1 << 28;
    /// `CTR_EL0.DIC`: instruction cache invalidation to the point of
    /// unification is not required for instruction-to-data coherence.
    pub(super) const CTR_DIC: u64 = 1 << 29;

    /// `CTR_EL0`, read once (bit 31 is RES1, so a read value is never 0).
    static CTR_EL0: AtomicU64 = AtomicU64::new(0);

    /// The cache type register (readable at EL0 on Linux, which traps and
    /// emulates it where cores disagree).
    pub(super) fn cache_type() -> u64 {
        let cached = CTR_EL0.load(Ordering::Relaxed);
        if cached != 0 {
            return cached;
        }
        let ctr: u64;
        // SAFETY: reads a system register; no memory access.
        unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
        CTR_EL0.store(ctr, Ordering::Relaxed);
        ctr
    }

    /// Cleans the data cache and invalidates the instruction cache for
    /// `start..start + len` to the point of unification, then synchronises
    /// this core's pipeline. `ctr` is `CTR_EL0`. The range must be mapped
    /// readable.
    pub(super) fn sync_range(start: usize, len: usize, ctr: u64) {
        let end = start + len;
        // Minimum line sizes in bytes: the fields are log2 of words.
        let dline = 4usize << ((ctr >> 16) & 0xf);
        let iline = 4usize << (ctr & 0xf);
        if ctr & CTR_IDC == 0 {
            let mut addr = start & !(dline - 1);
            while addr < end {
                // SAFETY: cache maintenance on a line of a readable mapping
                // we own; no architectural change to memory contents. No
                // `nomem`: the compiler must keep the code's stores before it.
                unsafe { asm!("dc cvau, {}", in(reg) addr, options(nostack, preserves_flags)) };
                addr += dline;
            }
        }
        // SAFETY: a barrier.
        unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
        if ctr & CTR_DIC == 0 {
            let mut addr = start & !(iline - 1);
            while addr < end {
                // SAFETY: as for `dc cvau`.
                unsafe { asm!("ic ivau, {}", in(reg) addr, options(nostack, preserves_flags)) };
                addr += iline;
            }
            // SAFETY: a barrier.
            unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
        }
        // SAFETY: a context synchronisation event.
        unsafe { asm!("isb", options(nostack, preserves_flags)) };
    }

    /// Issues `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)`,
    /// registering the process for it the first time. "Not supported"
    /// (`ENOSYS`, `EINVAL`) is remembered and ignored.
    pub(super) fn membarrier_sync_core() -> Result<(), CodeMemoryError> {
        match MEMBARRIER_STATE.load(Ordering::Acquire) {
            MEMBARRIER_REGISTERED => {}
            MEMBARRIER_UNSUPPORTED => return Ok(()),
            _ => match membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) {
                // Registering twice (two threads racing here) is harmless.
                Ok(()) => MEMBARRIER_STATE.store(MEMBARRIER_REGISTERED, Ordering::Release),
                Err(e) if unsupported(&e) => {
                    MEMBARRIER_STATE.store(MEMBARRIER_UNSUPPORTED, Ordering::Release);
                    return Ok(());
                }
                // Left unknown: tried again at the next publish.
                Err(e) => return Err(CodeMemoryError::Membarrier(e)),
            },
        }
        debug_assert_ne!(MEMBARRIER_STATE.load(Ordering::Relaxed), MEMBARRIER_UNKNOWN);
        match membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) {
            Ok(()) => Ok(()),
            Err(e) if unsupported(&e) => Ok(()),
            Err(e) => Err(CodeMemoryError::Membarrier(e)),
        }
    }

    fn unsupported(e: &io::Error) -> bool {
        matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL))
    }

    fn membarrier(cmd: libc::c_int) -> io::Result<()> {
        let flags: libc::c_uint = 0;
        let cpu_id: libc::c_int = 0;
        // SAFETY: membarrier takes no pointers.
        let rc = unsafe { libc::syscall(libc::SYS_membarrier, cmd, flags, cpu_id) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;
    use crate::runtime::wx_watch::{MapLine, assert_no_wx, lock, maps, while_watching_for_wx};

    /// `mov eax, v; ret`.
    #[cfg(target_arch = "x86_64")]
    fn ret_const(v: u16) -> Vec<u8> {
        let mut code = vec![0xb8];
        code.extend_from_slice(&u32::from(v).to_le_bytes());
        code.push(0xc3);
        code
    }

    /// `mov w0, #v; ret`.
    #[cfg(target_arch = "aarch64")]
    fn ret_const(v: u16) -> Vec<u8> {
        let mut code = Vec::new();
        code.extend_from_slice(&(0x5280_0000u32 | (u32::from(v) << 5)).to_le_bytes());
        code.extend_from_slice(&0xd65f_03c0u32.to_le_bytes());
        code
    }

    /// `n` bytes of no-ops (`n` a multiple of 4).
    fn nops(n: usize) -> Vec<u8> {
        #[cfg(target_arch = "x86_64")]
        return vec![0x90; n];
        #[cfg(target_arch = "aarch64")]
        return 0xd503_201fu32.to_le_bytes().repeat(n / 4);
    }

    fn call(code: CodeRef) -> u32 {
        assert_eq!(code.ptr as usize % FUNCTION_ALIGN, 0, "misaligned function");
        // SAFETY: `code` was published from `ret_const` (possibly after
        // no-ops): a complete `extern "C" fn() -> u32`, still mapped.
        let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(code.ptr) };
        f()
    }

    /// Asserts that `/proc/self/maps` shows `mem`'s pages with exactly the
    /// permissions its invariant promises: `r-x` below `sealed`, `rw-` from
    /// there up. This checks our own memory positively, which matters under
    /// qemu-user: its emulated maps show each host mapping with the guest
    /// permissions of its first page only, so a guest `rwx` page merged
    /// into a host mapping that starts with an `rw-` page shows as `rw-`,
    /// and `assert_no_wx` alone would miss it.
    fn assert_layout(mem: &CodeMemory) {
        let maps = maps();
        for chunk in mem.chunks.values() {
            let base = chunk.base();
            let parts = [
                (base, base + chunk.sealed, "r-x"),
                (base + chunk.sealed, base + chunk.map.len(), "rw-"),
            ];
            for (start, end, perms) in parts.into_iter().filter(|(s, e, _)| s < e) {
                let mut covered = 0;
                for m in maps.iter().filter(|m| m.start < end && start < m.end) {
                    assert!(
                        m.perms.starts_with(perms),
                        "{start:#x}-{end:#x} should be {perms}: {}",
                        m.line
                    );
                    covered += m.end.min(end) - m.start.max(start);
                }
                assert_eq!(covered, end - start, "{start:#x}-{end:#x} not all mapped");
            }
        }
    }

    /// Bytes of mapping taken by published code: everything but the unused
    /// part of the current chunk.
    fn bytes_consumed(mem: &CodeMemory) -> usize {
        let free = mem
            .current
            .and_then(|base| mem.chunks.get(&base))
            .map_or(0, |c| c.map.len() - c.cursor);
        mem.bytes_mapped() - free
    }

    #[test]
    fn nothing_mapped_until_needed() {
        let _g = lock();
        let mut mem = CodeMemory::new();
        assert_eq!(mem.bytes_mapped(), 0);
        assert!(matches!(mem.publish(&[]), Err(CodeMemoryError::Empty)));
        assert!(matches!(
            mem.publish_many(&[ret_const(1).as_slice(), &[]]),
            Err(CodeMemoryError::Empty)
        ));
        assert!(mem.publish_many(&[]).unwrap().is_empty());
        assert_eq!((mem.bytes_mapped(), mem.bytes_used()), (0, 0));
    }

    #[test]
    fn publishes_and_calls_small_functions() {
        let _g = lock();
        let mut mem = CodeMemory::new();
        let refs: Vec<CodeRef> = (0..5)
            .map(|i| mem.publish(&ret_const(42 + i)).unwrap())
            .collect();
        for (i, r) in refs.iter().enumerate() {
            assert_eq!(call(*r), 42 + i as u32);
            assert_eq!(r.len, ret_const(0).len());
        }
        assert_eq!(mem.bytes_used(), 5 * ret_const(0).len());
        assert_eq!(mem.bytes_mapped(), mem.chunk_size);
    }

    #[test]
    fn many_publishes_across_chunks() {
        let _g = lock();
        let mut mem = CodeMemory::new();
        // One at a time: one page each, so this spans several chunks.
        let n = 3 * mem.chunk_size / mem.page_size + 7;
        let singles: Vec<CodeRef> = (0..n)
            .map(|i| mem.publish(&ret_const(i as u16)).unwrap())
            .collect();
        assert!(mem.chunks.len() >= 4, "{} chunks", mem.chunks.len());
        // Batched: 16 bytes each, more than two chunks in one call.
        let codes: Vec<Vec<u8>> = (0..(2 * mem.chunk_size / 16 + 1000))
            .map(|i| ret_const((i % 65536) as u16))
            .collect();
        let slices: Vec<&[u8]> = codes.iter().map(Vec::as_slice).collect();
        let chunks_before = mem.chunks.len();
        let batch = mem.publish_many(&slices).unwrap();
        assert!(mem.chunks.len() >= chunks_before + 2);
        for (i, r) in singles.iter().enumerate() {
            assert_eq!(call(*r), i as u32);
        }
        for (i, r) in batch.iter().enumerate() {
            assert_eq!(call(*r), (i % 65536) as u32);
        }
        // Densely packed within a chunk.
        assert_eq!(
            batch[1].ptr as usize - batch[0].ptr as usize,
            FUNCTION_ALIGN
        );
        assert_eq!(
            mem.bytes_used(),
            (singles.len() + batch.len()) * ret_const(0).len()
        );
    }

    #[test]
    fn function_larger_than_a_chunk() {
        let _g = lock();
        let mut mem = CodeMemory::new();
        let small = mem.publish(&ret_const(7)).unwrap();
        let mapped = mem.bytes_mapped();
        let mut code = nops(mem.chunk_size + 1000);
        code.extend(ret_const(1234));
        let big = mem.publish(&code).unwrap();
        assert_eq!(big.len, code.len());
        assert_eq!(
            mem.bytes_mapped() - mapped,
            code.len().next_multiple_of(mem.page_size)
        );
        // A big function in the middle of a batch; small ones around it stay
        // in the current chunk.
        let batch = mem
            .publish_many(&[&ret_const(1), &code, &ret_const(2)])
            .unwrap();
        let after = mem.publish(&ret_const(8)).unwrap();
        assert_eq!(call(small), 7);
        assert_eq!(call(big), 1234);
        assert_eq!(
            batch.iter().map(|r| call(*r)).collect::<Vec<_>>(),
            [1, 1234, 2]
        );
        assert_eq!(call(after), 8);
        assert_eq!(mem.chunks.len(), 3);
        let chunk = mem
            .chunks
            .values()
            .find(|c| {
                c.base() <= small.ptr as usize && (small.ptr as usize) < c.base() + c.map.len()
            })
            .expect("small's chunk");
        let in_chunk0 =
            |r: CodeRef| (chunk.base()..chunk.base() + chunk.map.len()).contains(&(r.ptr as usize));
        assert!(in_chunk0(small) && in_chunk0(batch[0]) && in_chunk0(batch[2]));
        assert!(in_chunk0(after));
    }

    #[test]
    fn never_writable_and_executable() {
        let _g = lock();
        while_watching_for_wx(|| {
            let mut mem = CodeMemory::new();
            let mut refs = Vec::new();
            for i in 0..500 {
                refs.push(mem.publish(&ret_const(i)).unwrap());
                assert_no_wx();
                assert_layout(&mem);
                if i % 50 == 0 {
                    let codes: Vec<Vec<u8>> = (0..40).map(ret_const).collect();
                    let slices: Vec<&[u8]> = codes.iter().map(Vec::as_slice).collect();
                    mem.publish_many(&slices).unwrap();
                    assert_no_wx();
                    assert_layout(&mem);
                }
            }
            for (i, r) in refs.iter().enumerate() {
                assert_eq!(call(*r), i as u32);
            }
            drop(mem);
        });
    }

    #[test]
    fn drop_unmaps_everything() {
        let _g = lock();
        let mut mem = CodeMemory::new();
        let n = 2 * mem.chunk_size / mem.page_size + 3;
        for i in 0..n {
            mem.publish(&ret_const(i as u16)).unwrap();
        }
        let mut big = nops(mem.chunk_size + 8);
        big.extend(ret_const(9));
        let big = mem.publish(&big).unwrap();
        assert_eq!(call(big), 9);
        assert!(mem.chunks.len() >= 4);
        let ranges: Vec<(usize, usize)> = mem
            .chunks
            .values()
            .map(|c| (c.base(), c.base() + c.map.len()))
            .collect();
        let overlapping = |m: &MapLine| ranges.iter().any(|&(s, e)| m.start < e && s < m.end);
        let before: Vec<MapLine> = maps().into_iter().filter(overlapping).collect();
        // Every chunk is visible, executable where sealed.
        for &(s, e) in &ranges {
            assert!(
                before.iter().any(|m| m.start <= s && s < m.end),
                "chunk {s:#x}-{e:#x} not in maps"
            );
        }
        assert!(before.iter().any(|m| m.perms.starts_with("r-x")));
        drop(mem);
        // A mapping made by another thread after the drop could land in the
        // same place, but not with the same extent and permissions as ours
        // had: so none of the lines we saw may remain.
        let after: Vec<MapLine> = maps().into_iter().filter(overlapping).collect();
        let remaining: Vec<&MapLine> = after.iter().filter(|m| before.contains(m)).collect();
        assert!(remaining.is_empty(), "still mapped: {remaining:#?}");
    }

    /// Asserts that `start..end` is inaccessible (`---`) or not mapped at
    /// all, and that none of its pages is resident.
    fn assert_released(start: usize, end: usize) {
        for m in maps().iter().filter(|m| m.start < end && start < m.end) {
            assert!(
                m.perms.starts_with("---"),
                "{start:#x}-{end:#x} released: {}",
                m.line
            );
        }
        let page = page_size();
        let mut resident = vec![0u8; (end - start).div_ceil(page)];
        // SAFETY: `mincore` writes one byte per page of the range into
        // `resident`, which is that long.
        let rc = unsafe {
            libc::mincore(
                start as *mut libc::c_void,
                end - start,
                resident.as_mut_ptr(),
            )
        };
        // ENOMEM: (part of) the range is no longer mapped.
        if rc == 0 {
            assert!(
                resident.iter().all(|r| r & 1 == 0),
                "{start:#x}-{end:#x} still resident"
            );
        }
    }

    /// `code`'s pages as `release` gives them back.
    fn pages_of(mem: &CodeMemory, code: CodeRef) -> (usize, usize) {
        let start = code.ptr as usize;
        (start, (start + code.len).next_multiple_of(mem.page_size))
    }

    #[test]
    fn release_gives_back_pages_and_the_figures() {
        let _g = lock();
        let mut mem = CodeMemory::new();
        let page = mem.page_size;
        // Several chunks' worth one at a time, and two functions larger than
        // a chunk.
        let n = 3 * mem.chunk_size / page + 7;
        // Each with the value it returns.
        let mut live: Vec<(CodeRef, u32)> = (0..n)
            .map(|i| (mem.publish(&ret_const(i as u16)).unwrap(), i as u32))
            .collect();
        let mut big = nops(mem.chunk_size + 8);
        big.extend(ret_const(9));
        let big_pages = big.len().next_multiple_of(page);
        live.insert(5, (mem.publish(&big).unwrap(), 9));
        live.push((mem.publish(&big).unwrap(), 9));
        assert_eq!(mem.bytes_used(), n * ret_const(0).len() + 2 * big.len());
        assert_eq!(mem.bytes_resident(), n * page + 2 * big_pages);
        assert!(mem.chunks.len() >= 6, "{} mappings", mem.chunks.len());
        // Release every other one, then the rest: the figures go down with
        // every release and the others still run.
        let first: Vec<(CodeRef, u32)> = live.iter().copied().step_by(2).collect();
        let second: Vec<(CodeRef, u32)> = live.iter().copied().skip(1).step_by(2).collect();
        for (k, (code, _)) in first.iter().chain(&second).enumerate() {
            let (used, resident, mapped) =
                (mem.bytes_used(), mem.bytes_resident(), mem.bytes_mapped());
            mem.release(*code).unwrap();
            let (start, end) = pages_of(&mem, *code);
            assert_eq!(mem.bytes_used(), used - code.len);
            assert_eq!(mem.bytes_resident(), resident - (end - start));
            assert!(mem.bytes_mapped() <= mapped);
            assert_released(start, end);
            if k == first.len() - 1 {
                for &(code, value) in &second {
                    assert_eq!(call(code), value);
                }
            }
        }
        assert_eq!((mem.bytes_used(), mem.bytes_resident()), (0, 0));
        // Only the current chunk, not full, may stay mapped.
        assert!(mem.chunks.len() <= 1, "{} mappings left", mem.chunks.len());
        assert!(mem.bytes_mapped() <= mem.chunk_size);
        // A new publish never reuses released pages of a mapped chunk.
        let again = mem.publish(&ret_const(77)).unwrap();
        assert_eq!(call(again), 77);
        for (code, _) in &first {
            assert_ne!(code.ptr, again.ptr);
        }
        mem.release(again).unwrap();
    }

    #[test]
    fn releasing_what_was_not_published_alone_is_an_error() {
        let _g = lock();
        let mut mem = CodeMemory::new();
        let a = mem.publish(&ret_const(1)).unwrap();
        let batch = mem
            .publish_many(&[ret_const(2).as_slice(), &ret_const(3)])
            .unwrap();
        let not_published =
            |r: Result<(), CodeMemoryError>| matches!(r, Err(CodeMemoryError::NotPublished { .. }));
        // A function of a batch, a wrong length, an address inside it.
        assert!(not_published(mem.release(batch[1])));
        assert!(not_published(mem.release(CodeRef {
            len: a.len + 1,
            ..a
        })));
        assert!(not_published(mem.release(CodeRef {
            ptr: a.ptr.wrapping_add(4),
            len: 2,
        })));
        assert!(not_published(mem.release(CodeRef {
            ptr: std::ptr::null(),
            len: 1,
        })));
        assert_eq!(call(a), 1);
        mem.release(a).unwrap();
        // Twice.
        assert!(not_published(mem.release(a)));
        assert_eq!(call(batch[0]), 2);
        assert_eq!(call(batch[1]), 3);
        assert_eq!(mem.bytes_used(), 2 * ret_const(0).len());
    }

    #[test]
    fn released_code_is_never_executable_again_and_chunks_are_unmapped() {
        let _g = lock();
        while_watching_for_wx(|| {
            let mut mem = CodeMemory::new();
            let pages = mem.chunk_size / mem.page_size;
            // Two full chunks and a bit of a third, one page per function.
            let codes: Vec<CodeRef> = (0..2 * pages + 3)
                .map(|i| mem.publish(&ret_const(i as u16)).unwrap())
                .collect();
            assert_eq!(mem.chunks.len(), 3);
            let chunk_ranges: Vec<(usize, usize)> = mem
                .chunks
                .values()
                .map(|c| (c.base(), c.base() + c.map.len()))
                .collect();
            let first_chunk = chunk_ranges
                .iter()
                .copied()
                .find(|&(s, e)| (s..e).contains(&(codes[0].ptr as usize)))
                .expect("first chunk");
            // Release all of the first chunk but its last function: still
            // mapped, the released pages inaccessible, the last one runs.
            for code in &codes[..pages - 1] {
                mem.release(*code).unwrap();
                assert_no_wx();
            }
            assert_eq!(mem.chunks.len(), 3);
            let (start, _) = pages_of(&mem, codes[0]);
            let (_, end) = pages_of(&mem, codes[pages - 2]);
            assert_released(start, end);
            let last = codes[pages - 1];
            assert_eq!(call(last), (pages - 1) as u16 as u32);
            let maps_now = maps();
            let line = maps_now
                .iter()
                .find(|m| (m.start..m.end).contains(&(last.ptr as usize)))
                .expect("mapped");
            assert!(line.perms.starts_with("r-x"), "{}", line.line);
            // Its last function released, the (full) chunk is unmapped.
            let mapped = mem.bytes_mapped();
            mem.release(last).unwrap();
            assert_eq!(mem.bytes_mapped(), mapped - mem.chunk_size);
            assert_eq!(mem.chunks.len(), 2);
            assert!(!mem.chunks.contains_key(&first_chunk.0));
            // The current chunk stays mapped while it has room.
            for code in &codes[2 * pages..] {
                mem.release(*code).unwrap();
            }
            assert_eq!(mem.chunks.len(), 2);
            assert_eq!(call(codes[pages]), pages as u16 as u32);
            assert_no_wx();
        });
    }

    /// Measures the space taken by 1000 functions of 300 bytes, published one
    /// at a time and as one batch (`--nocapture` shows the numbers).
    #[test]
    fn waste_one_at_a_time_vs_batched() {
        let _g = lock();
        let mut code = nops(300 - ret_const(0).len());
        code.extend(ret_const(300));
        assert_eq!(code.len(), 300);

        let mut single = CodeMemory::new();
        for _ in 0..1000 {
            single.publish(&code).unwrap();
        }
        let mut batched = CodeMemory::new();
        let slices = vec![code.as_slice(); 1000];
        let refs = batched.publish_many(&slices).unwrap();
        assert_eq!(call(refs[999]), 300);

        let page = single.page_size;
        let (s_taken, b_taken) = (bytes_consumed(&single), bytes_consumed(&batched));
        println!(
            "page {page}: one at a time {s_taken} bytes taken, {} wasted, {} mapped; \
             batched {b_taken} taken, {} wasted, {} mapped; code {}",
            s_taken - single.bytes_used(),
            single.bytes_mapped(),
            b_taken - batched.bytes_used(),
            batched.bytes_mapped(),
            batched.bytes_used(),
        );
        assert_eq!(single.bytes_used(), 300_000);
        assert_eq!(s_taken, 1000 * page);
        // Batched: 4 bytes of alignment per function, the tail of the first
        // chunk and of the last page.
        assert!(b_taken - batched.bytes_used() < 1000 * 4 + 304 + page);
    }

    /// The full maintenance sequence, as on a core without `CTR_EL0.IDC` and
    /// `CTR_EL0.DIC` (qemu may set them, skipping the loops in `publish`).
    #[cfg(target_arch = "aarch64")]
    #[test]
    fn full_cache_maintenance_runs() {
        let _g = lock();
        let mut mem = CodeMemory::new();
        let codes: Vec<Vec<u8>> = (0..100).map(ret_const).collect();
        let slices: Vec<&[u8]> = codes.iter().map(Vec::as_slice).collect();
        let refs = mem.publish_many(&slices).unwrap();
        let ctr = aarch64::cache_type();
        println!(
            "CTR_EL0 = {ctr:#x} (IDC {}, DIC {})",
            ctr & aarch64::CTR_IDC != 0,
            ctr & aarch64::CTR_DIC != 0
        );
        let start = refs[0].ptr as usize;
        let end = refs[99].ptr as usize + refs[99].len;
        aarch64::sync_range(
            start,
            end - start,
            ctr & !(aarch64::CTR_IDC | aarch64::CTR_DIC),
        );
        // Also with the smallest lines, unaligned start.
        aarch64::sync_range(start + 4, 100, 0);
        aarch64::membarrier_sync_core().unwrap();
        assert_eq!(call(refs[42]), 42);
    }
}
