//! Unwind info for compiled code, registered with the system unwinder.
//!
//! Rust backtraces (`std::backtrace`), gdb and `perf --call-graph dwarf`
//! find a frame's caller from DWARF call-frame information (CFI). The
//! executable's `.eh_frame` knows nothing of compiled code, so every
//! published code version gets an `.eh_frame` of its own (one CIE, one FDE)
//! that is registered with libgcc's `__register_frame` while the code is
//! mapped and deregistered before its memory is freed ([`UnwindRegistry`],
//! a [`CodeObserver`] the engine adds unless `Config::unwind_info(false)`). Frame-pointer walks (`perf --call-graph fp`) need
//! no registration: template and Cranelift code both keep the frame chain
//! (rbp / x29).
//!
//! How a version's frames unwind is a [`FrameUnwind`], tier-neutral:
//! template code describes its fixed prologue once per ISA
//! (`PROLOGUE_CFI` in `template/isa/*/abi.rs`, next to the prologue);
//! Cranelift code carries a builder of its FDE, which needs the final
//! address. Both are written against [`host_cie`], the CIE Cranelift's FDEs
//! assume.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use gimli::write::{
    Address, CallFrameInstruction, CommonInformationEntry, EhFrame, EndianVec,
    FrameDescriptionEntry, FrameTable,
};
use gimli::{Encoding, Format, LittleEndian};

use super::code_info::{CodeObserver, CodeVersion};

/// Builds a version's FDE for the address its code was published at.
pub type FdeBuilder = dyn Fn(u64) -> FrameDescriptionEntry + Send + Sync;

/// How the frames of one code version are unwound.
#[derive(Clone, Default)]
pub enum FrameUnwind {
    /// Not described: unwinders stop at such frames.
    #[default]
    None,
    /// CFI instructions at code offsets, against [`host_cie`]: the fixed
    /// prologue of template code.
    Cfi(&'static [(u32, CallFrameInstruction)]),
    /// A builder of the FDE (Cranelift code, whose CFI depends on the
    /// function).
    Fde(Arc<FdeBuilder>),
}

impl std::fmt::Debug for FrameUnwind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameUnwind::None => f.write_str("None"),
            FrameUnwind::Cfi(cfi) => f.debug_tuple("Cfi").field(cfi).finish(),
            FrameUnwind::Fde(_) => f.write_str("Fde(..)"),
        }
    }
}

/// Equal when they describe the same frames: the same CFI, or builders
/// that build the same FDE (at address 0, the only thing that varies).
impl PartialEq for FrameUnwind {
    fn eq(&self, other: &FrameUnwind) -> bool {
        match (self, other) {
            (FrameUnwind::None, FrameUnwind::None) => true,
            (FrameUnwind::Cfi(a), FrameUnwind::Cfi(b)) => a == b,
            (FrameUnwind::Fde(a), FrameUnwind::Fde(b)) => a(0) == b(0),
            _ => false,
        }
    }
}

impl Eq for FrameUnwind {}

impl FrameUnwind {
    /// The FDE of code of `len` bytes published at `addr`, if described.
    pub fn fde(&self, addr: usize, len: usize) -> Option<FrameDescriptionEntry> {
        match self {
            FrameUnwind::None => None,
            FrameUnwind::Cfi(cfi) => {
                let len = u32::try_from(len).ok()?;
                let mut fde = FrameDescriptionEntry::new(Address::Constant(addr as u64), len);
                for (offset, instruction) in cfi.iter() {
                    fde.add_instruction(*offset, instruction.clone());
                }
                Some(fde)
            }
            FrameUnwind::Fde(build) => Some(build(addr as u64)),
        }
    }
}

/// The FDE of `version`, against [`host_cie`] (for an in-memory ELF's
/// `.eh_frame` or `.debug_frame`, say).
pub fn fde_for(version: &CodeVersion<'_>) -> Option<FrameDescriptionEntry> {
    version.unwind.fde(version.addr, version.len)
}

/// The DWARF register numbers unwind info uses.
#[cfg(target_arch = "x86_64")]
mod host {
    use gimli::{Register, X86_64};
    pub const STACK_POINTER: Register = X86_64::RSP;
    pub const RETURN_ADDRESS: Register = X86_64::RA;
    /// The CFA is the stack pointer before the call pushed the return
    /// address: rsp + 8 on entry, the return address at CFA - 8.
    pub const CFA_ON_ENTRY: i32 = 8;
    pub const CODE_ALIGNMENT: u8 = 1;
    pub const RETURN_ADDRESS_AT: Option<i32> = Some(-8);
}

/// The DWARF register numbers unwind info uses.
#[cfg(target_arch = "aarch64")]
mod host {
    use gimli::{AArch64, Register};
    pub const STACK_POINTER: Register = AArch64::SP;
    pub const RETURN_ADDRESS: Register = AArch64::X30;
    /// The CFA is sp on entry; the return address is in x30.
    pub const CFA_ON_ENTRY: i32 = 0;
    pub const CODE_ALIGNMENT: u8 = 4;
    pub const RETURN_ADDRESS_AT: Option<i32> = None;
}

/// Whether this host has unwind info for compiled code.
pub const SUPPORTED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// The CIE every FDE of compiled code refers to: the state on entry to a
/// function of the host ISA, the same as Cranelift's
/// `TargetIsa::create_systemv_cie` (a Cranelift test checks that), so
/// Cranelift's FDEs and the template's CFI mean the same thing.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn host_cie() -> CommonInformationEntry {
    let mut cie = CommonInformationEntry::new(
        Encoding {
            address_size: 8,
            format: Format::Dwarf32,
            version: 1,
        },
        host::CODE_ALIGNMENT,
        -8,
        host::RETURN_ADDRESS,
    );
    cie.add_instruction(CallFrameInstruction::Cfa(
        host::STACK_POINTER,
        host::CFA_ON_ENTRY,
    ));
    if let Some(at) = host::RETURN_ADDRESS_AT {
        cie.add_instruction(CallFrameInstruction::Offset(host::RETURN_ADDRESS, at));
    }
    cie
}

/// An `.eh_frame` section holding [`host_cie`] and `fde`, with the zero
/// terminator libgcc's `__register_frame` reads up to.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn eh_frame(fde: FrameDescriptionEntry) -> Vec<u8> {
    let mut table = FrameTable::default();
    let cie = table.add_cie(host_cie());
    table.add_fde(cie, fde);
    let mut section = EhFrame(EndianVec::new(LittleEndian));
    // Writing to a vector fails only on malformed input (an offset that
    // does not factor by the CIE's alignment), which would be our bug.
    table
        .write_eh_frame(&mut section)
        .expect("compiled code's CFI is well formed");
    let mut bytes = section.0.into_vec();
    bytes.extend_from_slice(&[0; 4]);
    bytes
}

/// One registered `.eh_frame`: its bytes must not move or be freed until
/// deregistered.
struct Registration {
    len: usize,
    eh_frame: Box<[u8]>,
}

/// Registered code, by address: process-wide, as libgcc's list is.
static REGISTERED: Mutex<BTreeMap<usize, Registration>> = Mutex::new(BTreeMap::new());

fn registered() -> std::sync::MutexGuard<'static, BTreeMap<usize, Registration>> {
    REGISTERED.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod libgcc {
    unsafe extern "C" {
        /// libgcc: add the `.eh_frame` starting at `begin` (up to its zero
        /// terminator) to the unwinder's list.
        pub fn __register_frame(begin: *const u8);
        /// libgcc: remove what `__register_frame(begin)` added.
        pub fn __deregister_frame(begin: *const u8);
    }
}

/// Register the unwind info of code of `len` bytes at `addr`. Nothing
/// happens if it is not described or the host has no system unwinder we
/// know; an earlier registration at `addr` is replaced.
pub fn register(addr: usize, len: usize, unwind: &FrameUnwind) {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        let Some(fde) = unwind.fde(addr, len) else {
            return;
        };
        let eh_frame = eh_frame(fde).into_boxed_slice();
        let mut map = registered();
        if let Some(old) = map.remove(&addr) {
            // SAFETY: registered by us with these bytes, still alive.
            unsafe { libgcc::__deregister_frame(old.eh_frame.as_ptr()) };
        }
        // SAFETY: a well-formed, terminated `.eh_frame` that stays alive
        // (owned by the map) until deregistered.
        unsafe { libgcc::__register_frame(eh_frame.as_ptr()) };
        map.insert(addr, Registration { len, eh_frame });
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    let _ = (addr, len, unwind);
}

/// Deregister the unwind info registered for code at `addr`, if any.
pub fn deregister(addr: usize) {
    let Some(old) = registered().remove(&addr) else {
        return;
    };
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    // SAFETY: registered by `register` with these bytes, still alive.
    unsafe {
        libgcc::__deregister_frame(old.eh_frame.as_ptr())
    };
    drop(old);
}

/// Whether `pc` lies in code whose unwind info is registered.
pub fn is_registered_code(pc: usize) -> bool {
    registered()
        .range(..=pc)
        .next_back()
        .is_some_and(|(&addr, r)| pc < addr + r.len)
}

/// The [`CodeObserver`] that registers every published version's unwind
/// info and deregisters it when the version is freed (on unless
/// `Config::unwind_info(false)`).
#[derive(Debug, Default)]
pub struct UnwindRegistry;

impl CodeObserver for UnwindRegistry {
    fn published(&self, version: &CodeVersion<'_>) {
        register(version.addr, version.len, version.unwind);
    }

    fn freed(&self, addr: usize, _len: usize) {
        deregister(addr);
    }
}

/// The return addresses of the frame-pointer chain from the frame record
/// at `fp` (on both ISAs the record is `[caller's fp, return address]`),
/// as long as they lie in registered compiled code, at most `max` of them.
/// The walk stops at a record that does not lie above the previous one.
///
/// # Safety
/// `fp` is the frame pointer of a live frame of compiled code on the
/// current thread's stack (or 0), so every record the walk reads is mapped.
pub unsafe fn walk_frame_pointers(fp: usize, max: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut fp = fp;
    while fp != 0 && fp.is_multiple_of(8) && out.len() < max {
        // SAFETY: a frame record of a live frame (see the contract).
        let (caller_fp, ret) = unsafe {
            let record = fp as *const usize;
            (record.read(), record.add(1).read())
        };
        if !is_registered_code(ret) {
            break;
        }
        out.push(ret);
        if caller_fp <= fp {
            break;
        }
        fp = caller_fp;
    }
    out
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) mod tests {
    use super::*;
    use gimli::{BaseAddresses, UnwindContext, UnwindSection};
    use std::sync::LazyLock;

    /// A frame with no instructions: the CFA stays where the CIE puts it.
    static NO_CFI: LazyLock<Vec<(u32, CallFrameInstruction)>> = LazyLock::new(Vec::new);

    fn described() -> FrameUnwind {
        FrameUnwind::Cfi(LazyLock::force(&NO_CFI).as_slice())
    }

    /// The rows of the unwind table `eh_frame` gives the code at `addr`:
    /// `(start, end, CFA rule)`.
    pub(crate) fn cfa_rows(eh_frame: &[u8], addr: u64) -> Vec<(u64, u64, String)> {
        let section = gimli::EhFrame::new(eh_frame, LittleEndian);
        let bases = BaseAddresses::default().set_eh_frame(eh_frame.as_ptr() as u64);
        let fde = section
            .fde_for_address(&bases, addr, gimli::EhFrame::cie_from_offset)
            .expect("an FDE for the address");
        let mut ctx = UnwindContext::new();
        let mut rows = fde.rows(&section, &bases, &mut ctx).expect("rows");
        let mut out = Vec::new();
        while let Some(row) = rows.next_row().expect("a row") {
            let cfa = match row.cfa() {
                gimli::CfaRule::RegisterAndOffset { register, offset } => {
                    format!("r{}{offset:+}", register.0)
                }
                gimli::CfaRule::Expression(_) => "expr".to_string(),
            };
            out.push((row.start_address(), row.end_address(), cfa));
        }
        out
    }

    unsafe extern "C" {
        /// libgcc: the FDE covering `pc`, or null.
        fn _Unwind_Find_FDE(pc: *const u8, bases: *mut [usize; 3]) -> *const u8;
    }

    /// Registered code is found by the system unwinder and by
    /// [`is_registered_code`] until deregistered.
    #[test]
    fn registered_code_is_found_until_deregistered() {
        // Unwind info for a range nothing executes: the unwinder only
        // looks it up.
        let fake_code = [0u8; 64];
        let addr = fake_code.as_ptr() as usize;
        let find = |pc: usize| {
            let mut bases = [0usize; 3];
            // SAFETY: a lookup; `bases` is libgcc's `struct dwarf_eh_bases`.
            !unsafe { _Unwind_Find_FDE(pc as *const u8, &mut bases) }.is_null()
        };
        assert!(!find(addr + 8) && !is_registered_code(addr + 8));
        register(addr, 64, &described());
        assert!(find(addr + 8) && is_registered_code(addr + 8));
        assert!(is_registered_code(addr) && !is_registered_code(addr + 64));
        // A second registration at the same address replaces the first.
        register(addr, 32, &described());
        assert!(is_registered_code(addr + 8) && !is_registered_code(addr + 40));
        deregister(addr);
        assert!(!find(addr + 8) && !is_registered_code(addr + 8));
        // Nothing described, nothing registered.
        register(addr, 64, &FrameUnwind::None);
        assert!(!is_registered_code(addr));
    }

    /// The walk follows frame records while their return addresses lie in
    /// registered code.
    #[test]
    fn the_frame_pointer_walk_follows_records_into_registered_code() {
        let fake_code = [0u8; 64];
        let code = fake_code.as_ptr() as usize;
        register(code, 64, &described());
        // Three records, innermost first; the third returns outside.
        let mut stack = [0usize; 6];
        let p = stack.as_mut_ptr();
        let record = |k: usize| p.wrapping_add(2 * k) as usize;
        let r0 = record(0);
        // SAFETY: every write is inside `stack`.
        unsafe {
            p.write(record(1));
            p.add(1).write(code + 4);
            p.add(2).write(record(2));
            p.add(3).write(code + 12);
            p.add(5).write(0x10);
        }
        // SAFETY: every record read is in `stack`.
        let got = unsafe { walk_frame_pointers(r0, 10) };
        assert_eq!(got, [code + 4, code + 12]);
        // SAFETY: as above.
        assert_eq!(unsafe { walk_frame_pointers(r0, 1) }, [code + 4]);
        deregister(code);
        // SAFETY: as above.
        assert!(unsafe { walk_frame_pointers(r0, 10) }.is_empty());
    }
}
